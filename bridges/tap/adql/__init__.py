"""ADQL 2.1 for the TAP service: checked against a whitelist and translated to the store's SQL.

``dialect`` reads the text, ``check`` decides what may run and resolves names, ``geometry``
turns ADQL shapes into SQL and catalogue regions, ``translate`` makes the :class:`Plan`.
"""

from bridges.tap.adql.dialect import AdqlError
from bridges.tap.adql.translate import Plan, RegionNeed, translate

__all__ = ["AdqlError", "Plan", "RegionNeed", "translate"]
