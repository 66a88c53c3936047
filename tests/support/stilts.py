"""The STILTS command the VO tests run (taplint, tapquery, votlint, tpipe, xsdvalidate)."""

from __future__ import annotations

import os
import shutil

import pytest


def stilts_command() -> str:
    """``LAKECAT_TEST_STILTS`` or ``stilts`` on the PATH; missing, the test fails (never skips).

    ``bash scripts/test`` installs the Debian package ``stilts`` and sets the variable, as it
    starts PostgreSQL: a green run always means STILTS read our output.
    """
    found = os.environ.get("LAKECAT_TEST_STILTS") or shutil.which("stilts")
    if not found:
        pytest.fail(
            "STILTS is not installed: run the suite with `bash scripts/test` (it installs the "
            "Debian package `stilts`) or set LAKECAT_TEST_STILTS"
        )
    return found
