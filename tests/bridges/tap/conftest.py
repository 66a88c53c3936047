"""STILTS for the TAP tests; the live service itself is tests/bridges/conftest.py's ``live``.

STILTS comes from ``LAKECAT_TEST_STILTS`` or the PATH; like PostgreSQL, a missing STILTS is
a failure.
"""

from __future__ import annotations

from tests.support.stilts import stilts_command


def stilts() -> str:
    """The STILTS executable (tests/support/stilts.py)."""
    return stilts_command()
