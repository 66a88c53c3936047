"""A real Rucio server (scripts/rucio-server), and its own client to populate it.

``bash scripts/test`` starts the server and exports ``LAKECAT_TEST_RUCIO_*``; without them
every test here fails naming the variable, never skips. Rucio is populated with the real
``rucio`` client, run in the server's venv (:func:`rucio_calls`). Each test works in scopes of
its own, so no test sees another's DIDs and Rucio is never emptied; the two RSEs are shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridges.rucio.client import RucioClient, UserpassAuth

HERE = Path(__file__).parent
LOCAL, HTTPS = "LAKE_LOCAL", "LAKE_HTTPS"
LOCAL_PROTOCOL = {
    "scheme": "file",
    "prefix": "/data/lake/",
    "hostname": "localhost",
    "port": 0,
    "impl": "rucio.rse.protocols.posix.Default",
    "domains": {
        "lan": {"read": 1, "write": 1, "delete": 1},
        "wan": {"read": 1, "write": 1, "delete": 1},
    },
}
HTTPS_PROTOCOL = {
    "scheme": "https",
    "prefix": "/lake/",
    "hostname": "store.example.org",
    "port": 443,
    "impl": "rucio.rse.protocols.gfal.Default",
    "domains": {
        "lan": {"read": 1, "write": 1, "delete": 1},
        "wan": {"read": 1, "write": 1, "delete": 1},
    },
}


@dataclass
class RucioServer:
    """The test server: URL, credentials, client config and venv."""

    url: str
    account: str
    username: str
    password: str
    config: Path
    venv: Path
    _side: subprocess.Popen[str] | None = None

    def auth(self) -> UserpassAuth:
        return UserpassAuth(self.account, self.username, self.password)

    def client(self) -> RucioClient:
        return RucioClient(self.url, self.auth())

    def env(self) -> dict[str, str]:
        return {**os.environ, "RUCIO_CONFIG": str(self.config)}

    def calls(self, *calls: tuple[str, Sequence[Any], dict[str, Any]]) -> list[Any]:
        """Run rucio client calls (``method, args, kwargs``) in the server's venv."""
        if self._side is None or self._side.poll() is not None:
            self._side = subprocess.Popen(
                [str(self.venv / "bin" / "python"), str(HERE / "rucio_side.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=self.env(),
            )
        assert self._side.stdin is not None
        assert self._side.stdout is not None
        self._side.stdin.write(json.dumps([list(c) for c in calls]) + "\n")
        self._side.stdin.flush()
        line = self._side.stdout.readline()
        if not line:
            pytest.fail("the rucio client process died (its stderr is above)")
        answer = json.loads(line)
        if "error" in answer:
            pytest.fail(f"rucio client calls failed: {answer['error']}")
        return list(answer["results"])

    def close(self) -> None:
        if self._side is not None:
            self._side.stdin.close()  # type: ignore[union-attr]
            self._side.wait(timeout=10)

    def daemon(self, name: str, *args: str, config: Path | None = None) -> str:
        """Run a Rucio daemon once (``rucio-undertaker``, ``rucio-hermes``)."""
        env = self.env()
        if config is not None:
            env["RUCIO_CONFIG"] = str(config)
        done = subprocess.run(
            [str(self.venv / "bin" / name), "--run-once", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )
        if done.returncode:
            pytest.fail(f"{name} failed:\n{done.stderr[-3000:]}")
        return done.stderr


def server_from_env() -> RucioServer:
    """The server ``scripts/test`` started; a missing one is a failure naming the variable."""
    url = os.environ.get("LAKECAT_TEST_RUCIO_URL")
    if not url:
        pytest.fail(
            "LAKECAT_TEST_RUCIO_URL is not set: run the suite with `bash scripts/test`, which "
            "starts a Rucio server, or start one yourself: "
            'eval "$(scripts/rucio-server start /tmp/rucio)"'
        )
    return RucioServer(
        url=url,
        account=os.environ.get("LAKECAT_TEST_RUCIO_ACCOUNT", "root"),
        username=os.environ.get("LAKECAT_TEST_RUCIO_USERNAME", "ddmlab"),
        password=os.environ.get("LAKECAT_TEST_RUCIO_PASSWORD", "secret"),
        config=Path(os.environ["LAKECAT_TEST_RUCIO_CONFIG"]),
        venv=Path(os.environ["LAKECAT_TEST_RUCIO_VENV"]),
    )


@pytest.fixture(scope="session")
def rucio() -> Iterator[RucioServer]:
    """The Rucio server, with the two RSEs every test uses."""
    server = server_from_env()
    known = {r["rse"] for r in server.calls(("list_rses", [], {}))[0]}
    calls: list[tuple[str, Sequence[Any], dict[str, Any]]] = []
    if LOCAL not in known:
        calls += [
            ("add_rse", [LOCAL], {"deterministic": True}),
            ("add_protocol", [LOCAL, LOCAL_PROTOCOL], {}),
            ("add_rse_attribute", [LOCAL, "qos", "SAFE"], {}),
            ("add_rse_attribute", [LOCAL, "site", "lake-local"], {}),
        ]
    if HTTPS not in known:
        calls += [
            ("add_rse", [HTTPS], {"deterministic": False}),
            ("add_protocol", [HTTPS, HTTPS_PROTOCOL], {}),
            ("add_rse_attribute", [HTTPS, "country", "FR"], {}),
        ]
    if calls:
        server.calls(*calls)
    yield server
    server.close()


@pytest.fixture
def scopes() -> tuple[str, str]:
    """Two scopes of this test's own (Rucio allows 25 characters)."""
    tag = uuid.uuid4().hex[:8]
    return f"esc{tag}", f"user.a{tag}"


@pytest.fixture
async def rucio_client(rucio: RucioServer) -> AsyncIterator[RucioClient]:
    async with rucio.client() as client:
        yield client
