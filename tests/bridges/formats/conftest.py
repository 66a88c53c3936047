"""Fixtures for the output-format tests: the STILTS command.

STILTS (the ``stilts`` command, Debian package) is the reference VOTable reader and the
IVOA schema validator here; without it these tests fail, as they do without PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.support.stilts import stilts_command


@pytest.fixture(scope="session")
def stilts() -> str:
    return stilts_command()
