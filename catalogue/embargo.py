"""When a record is embargoed, and for whom (docs/security.md, "Embargo").

A file is embargoed when its ObsCore ``data_rights`` is ``proprietary`` or ``secure``: until
its ``obs_release_date``, or for good when it has none (a proprietary record without a release
date is not public by omission). Release needs no write: the stored date is compared with the
clock at every read.

A collection reveals its members through its extent (MOC, time and wavelength ranges, summary
values), so it carries the latest embargo among its members. Who may see it early are the
readers of its embargoed members' scope: when they come from several scopes, only those who
read every scope may (:data:`MIXED`).

The two stored columns, ``did.embargo_until`` and ``did.embargo_scope``, are what the store's
one visibility rule (``catalogue/store/visibility.py``) and the search index read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EMBARGOED_RIGHTS = frozenset({"proprietary", "secure"})
#: The release date of a proprietary record that names none.
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
#: ``embargo_scope`` of a collection whose embargoed members lie in several scopes.
MIXED = ""


@dataclass(frozen=True, slots=True)
class Embargo:
    """Until when a record is hidden, and whose readers may see it before."""

    until: datetime
    scope: str

    def active(self, now: datetime) -> bool:
        """Whether the record is still hidden at ``now``."""
        return self.until > now


def release_of(characterisation: Mapping[str, Any]) -> datetime | None:
    """Until when a file is embargoed, from its ObsCore characterisation; ``None`` if public."""
    if characterisation.get("data_rights") not in EMBARGOED_RIGHTS:
        return None
    release = characterisation.get("obs_release_date")
    if isinstance(release, datetime):
        return release if release.tzinfo else release.replace(tzinfo=UTC)
    return FOREVER


def of_file(characterisation: Mapping[str, Any], scope: str) -> Embargo | None:
    """A file's embargo: readers of its own scope may see it before its release."""
    until = release_of(characterisation)
    return None if until is None else Embargo(until, scope)


def combined(embargoes: Iterable[Embargo | None], now: datetime) -> Embargo | None:
    """A collection's embargo from its members': the latest of those still active.

    A member whose date has passed no longer hides anything, so it neither prolongs the
    collection's embargo nor widens who may see it.
    """
    active = [e for e in embargoes if e is not None and e.active(now)]
    if not active:
        return None
    scopes = {e.scope for e in active}
    return Embargo(max(e.until for e in active), scopes.pop() if len(scopes) == 1 else MIXED)
