"""Fixtures for the output-format tests: the STILTS command.

STILTS (the ``stilts`` command, Debian package) is the reference VOTable reader and the
IVOA schema validator here. Without it the STILTS tests skip, except in CI (``CI=true``),
where a missing binary is a failure: a green CI run always means STILTS read our output.
"""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def stilts() -> str:
    path = shutil.which("stilts")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the stilts command is missing: install the Debian package 'stilts'")
        pytest.skip("the stilts command is not installed")
    return path
