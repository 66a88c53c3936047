"""A live ``lakecat serve`` in a subprocess on 127.0.0.1: what VO clients and harvesters meet."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import _drop_pg_database, _fresh_pg_database

_START_TIMEOUT = 120.0
_ROOT = Path(__file__).resolve().parents[2]


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


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lakecat(*args: str) -> list[str]:
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


@asynccontextmanager
async def serve_demo(kind: str, directory: Path) -> AsyncIterator[LiveService]:
    """The demo lake built on ``kind`` (sqlite or postgresql) and served on a free port."""
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
    demo = lakecat("demo", "--no-serve")
    subprocess.run(demo, env=env, cwd=_ROOT, check=True, capture_output=True)
    port = free_port()
    log = directory / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            lakecat("serve", "--port", str(port)),
            env=env,
            cwd=_ROOT,
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
