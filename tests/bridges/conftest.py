"""The demo lake served live on each engine, shared by the TAP and harvest tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.conftest import ENGINES
from tests.support.live import LiveService, serve_demo


@pytest.fixture(scope="session", params=ENGINES)
async def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveService]:
    """The demo lake served on a free port of 127.0.0.1 (one server per engine)."""
    kind: str = request.param
    async with serve_demo(kind, tmp_path_factory.mktemp(f"live-{kind}")) as service:
        yield service


@pytest.fixture
def http(live: LiveService) -> Iterator[httpx.Client]:
    """A plain HTTP client for the live service."""
    with httpx.Client(base_url=live.root, timeout=60) as client:
        yield client
