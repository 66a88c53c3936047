"""A live ``lakecat serve`` with the demo lake, on each engine, for the VO clients to query.

The server is the real command in a subprocess on 127.0.0.1, so pyvo, STILTS and TOPCAT
meet exactly what an astronomer's client would. STILTS comes from
``LAKECAT_TEST_STILTS`` or the PATH; like PostgreSQL, a missing STILTS is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ENGINES, _drop_pg_database, _fresh_pg_database
from tests.support.stilts import stilts_command

_START_TIMEOUT = 120.0


@dataclass(frozen=True)
class LiveService:
    """A running service: its root URL, TAP URL, engine kind and database URL."""

    root: str
    engine: str
    database_url: str

    @property
    def tap(self) -> str:
        """The TAP service URL clients are given."""
        return f"{self.root}/tap"


def stilts() -> str:
    """The STILTS executable (tests/support/stilts.py)."""
    return stilts_command()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lakecat(*args: str) -> list[str]:
    """The installed ``lakecat`` command of this interpreter's environment."""
    return [str(Path(sys.executable).with_name("lakecat")), *args]


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"lakecat serve exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"lakecat serve did not answer within {_START_TIMEOUT} s:\n{log.read_text()}")


@pytest.fixture(scope="session", params=ENGINES)
async def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveService]:
    """The demo lake served on a free port of 127.0.0.1 (one server per engine)."""
    kind: str = request.param
    directory = tmp_path_factory.mktemp(f"live-{kind}")
    if kind == "sqlite":
        database_url = f"sqlite+aiosqlite:///{directory / 'lake.sqlite'}"
    else:
        database_url = await _fresh_pg_database()
    env = {
        **os.environ,
        "LAKECAT_DATABASE_URL": database_url,
        "LAKECAT_DATA_DIR": str(directory),
        "LAKECAT_TAP_SYNC_TIMEOUT": "30",
    }
    root = Path(__file__).resolve().parents[3]
    subprocess.run(
        _lakecat("demo", "--no-serve"), env=env, cwd=root, check=True, capture_output=True
    )
    port = _free_port()
    log = directory / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _lakecat("serve", "--port", str(port)),
            env=env,
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield LiveService(url, kind, database_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        if kind == "postgresql":
            await _drop_pg_database(database_url)


@pytest.fixture
def http(live: LiveService) -> Iterator[httpx.Client]:
    """A plain HTTP client for the live service."""
    with httpx.Client(base_url=live.root, timeout=60) as client:
        yield client
