"""Sync runs: resuming after a failure midway, token authentication, the command line."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
from click.testing import CliRunner

from bridges.rucio.client import RucioClient, TokenAuth
from bridges.rucio.sync import SyncOptions, run_sync
from catalogue.rucio import SyncStatus
from catalogue.service import Catalogue
from schema.cli import main
from tests.bridges.rucio.conftest import RucioServer
from tests.bridges.rucio.scenario import populate
from tests.bridges.rucio.test_sync import assert_same


class DroppingTransport(httpx.AsyncHTTPTransport):
    """The network between lakecat and Rucio, failing the n-th ``list_replicas``."""

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.fail_on = fail_on
        self.seen = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/replicas/list":
            self.seen += 1
            if self.seen == self.fail_on:
                raise httpx.ConnectError("connection reset by peer")
        return await super().handle_async_request(request)


async def test_a_run_that_fails_midway_resumes_where_it_stopped(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str]
) -> None:
    populate(rucio, *scopes)
    options = SyncOptions(scopes=list(scopes), chunk_size=2, margin=timedelta(0))
    async with RucioClient(rucio.url, rucio.auth(), transport=DroppingTransport(3)) as client:
        failed = await run_sync(catalogue, client, options)
    assert failed.status is SyncStatus.FAILED
    assert failed.error == (
        f"POST {rucio.url}/replicas/list: ConnectError: connection reset by peer"
    )
    assert 0 < failed.counts.added < 9
    assert failed.checkpoint[scopes[0]]["phase"] == "dids"
    async with rucio.client() as client:
        resumed = await run_sync(catalogue, client, options)
    assert (resumed.id, resumed.status) == (failed.id, SyncStatus.SUCCEEDED)
    assert resumed.counts.added == 9  # each DID once, over both attempts
    assert resumed.counts.unchanged == 0
    await assert_same(catalogue, rucio, list(scopes))


async def test_an_oidc_token_from_a_file_authenticates(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str], tmp_path: Path
) -> None:
    populate(rucio, *scopes)
    async with rucio.client() as client:
        token = await client.authenticate()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    auth = TokenAuth("root", token_file=token_file)
    async with RucioClient(rucio.url, auth) as client:
        run = await run_sync(catalogue, client, SyncOptions(scopes=list(scopes)))
    assert run.status is SyncStatus.SUCCEEDED, run.error
    assert run.counts.added == 9


async def test_a_token_rucio_refuses_fails_the_run(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str], tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("not-a-token")
    async with RucioClient(rucio.url, TokenAuth("root", token_file=token_file)) as client:
        run = await run_sync(catalogue, client, SyncOptions(scopes=list(scopes)))
    assert run.status is SyncStatus.FAILED
    assert run.error is not None
    assert run.error.startswith(f"GET {rucio.url}/scopes/: HTTP 401 UNAUTHORIZED")


async def test_an_expired_token_is_renewed_once(rucio: RucioServer) -> None:
    async with rucio.client() as client:
        await client.authenticate()
        expired = "expired"
        client._token = expired
        assert await client.scopes()
        assert client._token != expired


def test_the_command_syncs_and_lists_its_runs(
    rucio: RucioServer, scopes: tuple[str, str], tmp_path: Path
) -> None:
    populate(rucio, *scopes)
    env = {
        "LAKECAT_DATA_DIR": str(tmp_path),
        "LAKECAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'lake.sqlite'}",
        "LAKECAT_RUCIO_URL": rucio.url,
        "LAKECAT_RUCIO_ACCOUNT": rucio.account,
        "LAKECAT_RUCIO_USERNAME": rucio.username,
        "LAKECAT_RUCIO_PASSWORD": rucio.password,
    }
    runner = CliRunner()
    args = ["rucio", "sync", "--scope", scopes[0], "--scope", scopes[1]]
    first = runner.invoke(main, args, env=env)
    assert first.exit_code == 0, first.output
    assert "(full)" in first.output
    assert "succeeded; added 9," in first.output
    second = runner.invoke(main, args, env=env)
    assert "(incremental)" in second.output
    listed = runner.invoke(main, ["rucio", "runs", "--json"], env=env)
    runs = [json.loads(line) for line in listed.output.splitlines()]
    assert [(r["mode"], r["status"], r["scopes"]) for r in runs] == [
        ("incremental", "succeeded", sorted(scopes)),
        ("full", "succeeded", sorted(scopes)),
    ]
    bad = runner.invoke(main, args, env={**env, "LAKECAT_RUCIO_PASSWORD": "wrong"})
    assert bad.exit_code == 1
    assert "HTTP 401 UNAUTHORIZED" in bad.output
