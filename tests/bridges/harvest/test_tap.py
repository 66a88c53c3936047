"""Harvesting ObsCore over TAP: our own live service round trip, GAVO DaCHS's recorded answers,
and remotes that fail midway, overflow, truncate or fall silent.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from astropy.io.votable import parse_single_table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from bridges.harvest.errors import RemoteError
from bridges.harvest.run import run_harvest
from bridges.harvest.tap import TapReader, chunk_query
from catalogue.authorization import EVERYTHING, PUBLIC, Viewer
from catalogue.config import Settings
from catalogue.harvest import RunStatus, record_name
from catalogue.models import DIDKey
from catalogue.obscore import FIELDS_BY_NAME
from catalogue.query import DIDQuery
from catalogue.store import tables as t
from catalogue.store.visibility import did_visible
from tests.support.app_client import app_client
from tests.support.asgi_server import serve_app
from tests.support.graphql import gql
from tests.support.live import LiveService, lakecat

DACHS = Path(__file__).resolve().parents[2] / "data" / "dachs"
# What the lake's TAP view computes for a file rather than storing it.
COMPUTED = {"obs_publisher_did", "access_url", "access_format", "access_estsize"}


async def _stored(
    engine: AsyncEngine, viewer: Viewer = EVERYTHING
) -> dict[tuple[str, str], tuple[dict[str, Any], Any]]:
    """Every characterised file ``viewer`` may see: ObsCore values (None left out), MOC bytes."""
    c, d, cov = t.characterisation.c, t.did.c, t.coverage.c
    fields = [c[name] for name in FIELDS_BY_NAME]
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(d.scope, d.name, cov.moc, *fields)
            .join(t.characterisation, c.did_id == d.id)
            .outerjoin(t.coverage, cov.did_id == d.id)
            .where(did_visible(viewer), d.did_type == "FILE")
        )
        found = {}
        for row in rows.mappings():
            values = {n: row[n] for n in FIELDS_BY_NAME if row[n] is not None}
            found[(row["scope"], row["name"])] = (values, row["moc"])
    return found


@pytest.fixture
async def lake_a(live: LiveService) -> AsyncIterator[AsyncEngine]:
    """The live service's own database, read directly to compare with what was harvested."""
    engine = create_async_engine(live.database_url)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize(
    ("live", "session_engine"),
    [("sqlite", "postgresql"), ("postgresql", "sqlite")],
    indirect=True,
)
async def test_round_trip_harvest_equals_the_publishing_catalogue(live, lake_a, catalogue, engine):
    run = await run_harvest(catalogue, TapReader(live.tap, source="vo.a", chunk_size=1500))
    # an anonymous harvester gets A's public files; the embargoed ones stay A's own
    a, embargoed = await _stored(lake_a, PUBLIC), await _stored(lake_a, EVERYTHING)
    embargoed = {k: v for k, v in embargoed.items() if k not in a}
    assert embargoed, "the demo lake holds proprietary files still under embargo"
    b = await _stored(engine)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert (run.counts.added, run.counts.failed, run.counts.withdrawn) == (len(a), 0, 0)
    assert len(b) == len(a)
    names = {}
    async with engine.connect() as connection:
        for row in await connection.execute(select(t.did.c.id, t.did.c.scope, t.did.c.name)):
            names[row.id] = (row.scope, row.name)
    metadata = await catalogue.reads.metadata(sorted(names))
    origin = {
        (m["lake_scope"], m["lake_name"]): did_id
        for did_id, m in metadata.items()
        if "lake_scope" in m
    }
    assert len(origin) == len(a)  # every harvested row names the file it came from
    assert not set(origin) & set(embargoed)
    for key, (values, moc) in a.items():
        harvested, harvested_moc = b[names[origin[key]]]
        assert names[origin[key]][0] == "vo.a"
        own = {k: v for k, v in values.items() if k not in COMPUTED}
        assert {k: harvested[k] for k in own} == own, key
        assert set(harvested) - set(own) <= COMPUTED, key
        # what A publishes for access: its DataLink {links} service for the file
        assert harvested["access_format"] == "application/x-votable+xml;content=datalink"
        assert harvested["access_url"].startswith(f"{live.root}/datalink/links?ID=")
        assert harvested_moc == moc, key
        assert names[origin[key]][1] == record_name(harvested["obs_publisher_did"])
    again = await run_harvest(catalogue, TapReader(live.tap, source="vo.a", chunk_size=1500))
    assert (again.counts.unchanged, again.counts.added, again.counts.updated) == (len(a), 0, 0)


@pytest.mark.parametrize(("live", "session_engine"), [("sqlite", "postgresql")], indirect=True)
async def test_harvested_records_answer_graphql_with_their_source(live, catalogue, client):
    await run_harvest(catalogue, TapReader(live.tap, source="vo.a", max_records=40))
    body = await gql(
        client,
        """{
          dids(filter: {sources: ["vo.a"], types: [FILE]}, first: 5) {
            totalCount
            edges { node { id source harvest { source kind remoteId withdrawnAt }
                           obscore { obs_publisher_did } } }
          }
          lake: dids(filter: {sources: ["lake"]}, first: 0) { totalCount }
          search(facets: [SOURCE], first: 0) { facets { field values { value count } } }
          harvestRuns(source: "vo.a") { status added failed parameters url }
          harvestSources { name kind records }
        }""",
    )
    assert "errors" not in body, body
    answer = body["data"]
    assert answer["dids"]["totalCount"] == 40
    for edge in answer["dids"]["edges"]:
        node = edge["node"]
        assert node["source"] == "vo.a"
        assert node["harvest"]["remoteId"] == node["obscore"]["obs_publisher_did"]
        assert node["harvest"]["kind"] == "tap"
        assert node["harvest"]["withdrawnAt"] is None
    (facet,) = answer["search"]["facets"]
    assert {v["value"]: v["count"] for v in facet["values"]}["vo.a"] == 40
    assert answer["lake"]["totalCount"] == 0
    (run,) = answer["harvestRuns"]
    assert run == {
        "status": "incomplete",
        "added": 40,
        "failed": 0,
        "parameters": {"table": "ivoa.obscore", "where": None},
        "url": live.tap,
    }
    assert answer["harvestSources"] == [{"name": "vo.a", "kind": "tap", "records": 40}]


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The GraphQL API over the test database."""
    url = engine.url.render_as_string(hide_password=False)
    async with app_client(Settings(database_url=url)) as http:
        yield http


# -- GAVO DaCHS, recorded ------------------------------------------------------------------


def _dachs_app() -> Starlette:
    """DaCHS's recorded answers, served for the queries they were recorded for."""
    manifest = json.loads((DACHS / "manifest.json").read_text())
    recorded = {
        " ".join(r["params"]["QUERY"].split()): r
        for r in manifest["requests"]
        if r["params"] and (DACHS / r["file"]).exists()
    }

    def static(name: str):
        async def endpoint(request: Request) -> Response:
            del request
            return FileResponse(DACHS / name, media_type="text/xml")

        return endpoint

    async def sync(request: Request) -> Response:
        params = dict(request.query_params)
        params.update({k: str(v) for k, v in (await request.form()).items()})
        found = recorded.get(" ".join(params.get("QUERY", "").split()))
        if found is None:
            return PlainTextResponse("not recorded", status_code=404)
        body = (DACHS / found["file"]).read_bytes()
        return Response(body, status_code=found["status"], media_type=found["content_type"])

    return Starlette(
        routes=[
            Route("/tap/capabilities", static("capabilities.xml")),
            Route("/tap/availability", static("availability.xml")),
            Route("/tap/tables", static("tables.xml")),
            Route("/tap/sync", sync, methods=["GET", "POST"]),
        ]
    )


@pytest.fixture(scope="module")
def dachs() -> Iterator[str]:
    """The recorded DaCHS TAP service on 127.0.0.1."""
    with serve_app(_dachs_app()) as root:
        yield f"{root}/tap"


async def test_dachs_obscore_rows_are_harvested_field_by_field(dachs, catalogue):
    reader = TapReader(
        dachs, where="obs_collection='LOFAR'", chunk_size=200, max_records=200, source="gavo"
    )
    first = chunk_query(reader.table, reader.where, None, 200)
    assert first == (
        "SELECT TOP 200 * FROM ivoa.obscore WHERE obs_collection='LOFAR' ORDER BY obs_publisher_did"
    )
    run = await run_harvest(catalogue, reader)
    assert run.status is RunStatus.INCOMPLETE, run.error  # stopped at --max-records
    assert (run.counts.added, run.counts.failed, run.counts.withdrawn) == (200, 0, 0)
    table = parse_single_table(DACHS / "obscore_lofar_top200.vot").to_table()
    for row in table:
        detail = await catalogue.get_did(DIDKey("gavo", record_name(row["obs_publisher_did"])))
        assert detail is not None
        char = detail.characterisation
        for name in ("obs_id", "obs_title", "facility_name", "instrument_name", "access_url"):
            assert char[name] == row[name]
        for name in ("s_ra", "s_dec", "s_fov", "t_min", "t_max", "em_min", "em_max"):
            assert char[name] == float(row[name])
        assert char["calib_level"] == int(row["calib_level"])
        assert char["access_estsize"] == int(row["access_estsize"])
        assert "obs_creator_did" not in char  # DaCHS's empty string is a null
        assert detail.metadata["source_table"] == "synobs.main"
        assert detail.extent is not None
        assert detail.extent.sky_fraction
    inside = await catalogue.search(DIDQuery(sources=("gavo",), limit=0))
    assert inside.total == 200


async def test_dachs_errors_and_overflow_are_read_as_dachs_sends_them(dachs):
    reader = TapReader(dachs)
    service = reader.service()
    with pytest.raises(RemoteError, match=r"refused the query.*Could not parse your query"):
        reader.fetch(service, "SELEC * FROM ivoa.obscore", 10)
    with pytest.raises(RemoteError, match="nosuchtable"):
        reader.fetch(service, "SELECT * FROM ivoa.nosuchtable", 10)
    table, overflow = reader.fetch(
        service, "SELECT * FROM ivoa.obscore WHERE obs_collection='HSC'", 50
    )
    assert overflow
    assert len(table) == 50
    assert service.hardlimit == 20_000_000


# -- remotes that misbehave ---------------------------------------------------------------


class Proxy:
    """The live service behind a proxy that can fail the Nth sync query in chosen ways."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.syncs = 0
        self.fail_at: int | None = None
        self.mode = "http500"
        self.cap: int | None = None

    async def handle(self, request: Request) -> Response:
        """Forward one request, or fail it as told."""
        path = request.path_params["path"]
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.form()).items()})
        if path == "sync":
            self.syncs += 1
            if self.cap is not None:
                params["MAXREC"] = str(min(int(params.get("MAXREC", self.cap)), self.cap))
            if self.syncs == self.fail_at:
                if self.mode == "http500":
                    return PlainTextResponse("overloaded", status_code=500)
                if self.mode == "silent":
                    await asyncio.sleep(5)
        async with httpx.AsyncClient(timeout=60) as http:
            if request.method == "POST":
                answer = await http.post(f"{self.target}/{path}", data=params)
            else:
                answer = await http.get(f"{self.target}/{path}", params=params)
        body = answer.content
        if path == "sync" and self.syncs == self.fail_at and self.mode == "truncate":
            body = body[: len(body) // 2]
        headers = {"location": answer.headers["location"]} if "location" in answer.headers else {}
        media_type = answer.headers.get("content-type")
        return Response(body, answer.status_code, headers=headers, media_type=media_type)


@pytest.fixture
def proxy(live: LiveService) -> Iterator[tuple[Proxy, str]]:
    """A proxy in front of the live service, and its TAP URL."""
    behaviour = Proxy(live.tap)
    app = Starlette(routes=[Route("/tap/{path:path}", behaviour.handle, methods=["GET", "POST"])])
    with serve_app(app) as root:
        yield behaviour, f"{root}/tap"


async def _scope_size(catalogue, source: str) -> int:
    return (await catalogue.search(DIDQuery(sources=(source,), limit=0))).total


@pytest.mark.parametrize(("live", "session_engine"), [("sqlite", "postgresql")], indirect=True)
async def test_a_service_that_caps_its_answers_is_read_in_full(proxy, lake_a, catalogue):
    behaviour, url = proxy
    behaviour.cap = 700  # the service's MAXREC: it answers 700 rows and reports the overflow
    reader = TapReader(url, source="vo.capped", chunk_size=1000)
    run = await run_harvest(catalogue, reader)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert reader.overflows >= 1
    assert run.counts.added == len(await _stored(lake_a, PUBLIC))
    assert await _scope_size(catalogue, "vo.capped") == run.counts.added


@pytest.mark.parametrize(("live", "session_engine"), [("sqlite", "postgresql")], indirect=True)
async def test_an_http_error_midway_keeps_what_was_committed_and_the_next_run_resumes(
    proxy, lake_a, catalogue
):
    behaviour, url = proxy
    behaviour.fail_at = 2
    failed = await run_harvest(catalogue, TapReader(url, source="vo.flaky", chunk_size=1000))
    assert failed.status is RunStatus.FAILED
    assert failed.error == f"{url}/sync: HTTP 500 Internal Server Error"
    assert failed.counts.added == 1000
    assert failed.resume_after is not None
    assert await _scope_size(catalogue, "vo.flaky") == 1000
    behaviour.fail_at = None
    resumed = await run_harvest(catalogue, TapReader(url, source="vo.flaky", chunk_size=1000))
    assert resumed.id == failed.id
    assert resumed.status is RunStatus.SUCCEEDED
    total = len(await _stored(lake_a, PUBLIC))
    assert (resumed.counts.added, resumed.counts.unchanged) == (total, 0)
    assert await _scope_size(catalogue, "vo.flaky") == total


@pytest.mark.parametrize(("live", "session_engine"), [("sqlite", "postgresql")], indirect=True)
@pytest.mark.parametrize(
    ("mode", "message"),
    [("truncate", "malformed VOTable"), ("silent", "no answer within 1 s (timed out)")],
)
async def test_a_broken_or_silent_answer_fails_the_run_precisely(proxy, catalogue, mode, message):
    behaviour, url = proxy
    behaviour.fail_at, behaviour.mode = 1, mode
    reader = TapReader(url, source="vo.broken", timeout=1, mode="sync")
    run = await run_harvest(catalogue, reader)
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert run.error.startswith(f"{url}/sync: ")
    assert message in run.error
    assert run.counts.added == 0
    assert await _scope_size(catalogue, "vo.broken") == 0


@pytest.mark.parametrize(("live", "session_engine"), [("sqlite", "postgresql")], indirect=True)
async def test_a_service_too_slow_to_answer_synchronously_is_asked_by_uws_jobs(
    proxy, lake_a, catalogue
):
    behaviour, url = proxy
    behaviour.fail_at, behaviour.mode = 1, "silent"
    reader = TapReader(url, source="vo.slow", chunk_size=2000, timeout=2)
    run = await run_harvest(catalogue, reader)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert reader.mode == "async"
    assert behaviour.syncs == 1  # after the first chunk timed out, every chunk was a job
    assert run.counts.added == len(await _stored(lake_a, PUBLIC))


@pytest.mark.parametrize(("live", "session_engine"), [("sqlite", "postgresql")], indirect=True)
async def test_a_query_the_service_refuses_fails_with_its_message(live, catalogue):
    reader = TapReader(live.tap, source="vo.bad", where="no_such_column = 1")
    run = await run_harvest(catalogue, reader)
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert "refused the query" in run.error
    assert "no_such_column" in run.error


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_the_harvest_commands_run_report_and_exit_as_documented(live, tmp_path):
    env = {**os.environ, "LAKECAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.sqlite'}"}

    def lakecat_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(lakecat(*args), env=env, capture_output=True, text=True, check=False)

    done = lakecat_run("harvest", "tap", live.tap, "--source", "vo.cli", "--max-records", "30")
    assert done.returncode == 0, done.stderr
    assert "run 1 of vo.cli: incomplete; added 30, updated 0, unchanged 0" in done.stdout
    refused = lakecat_run("harvest", "tap", live.tap, "--source", "vo.bad", "--where", "nope = 1")
    assert refused.returncode == 1
    assert "refused the query" in refused.stderr
    assert "run the same command again to resume" in refused.stderr
    runs = [
        json.loads(line)
        for line in lakecat_run("harvest", "runs", "--json").stdout.split("\n")
        if line
    ]
    assert [(r["source"], r["status"], r["added"]) for r in runs] == [
        ("vo.bad", "failed", 0),
        ("vo.cli", "incomplete", 30),
    ]
    assert lakecat_run("harvest", "sources").stdout.splitlines()[1].startswith("vo.cli tap ")
    other = lakecat_run(
        "harvest", "tap", live.tap, "--source", "vo.cli", "--where", "calib_level = 2"
    )
    assert other.returncode == 2
    assert "give --source another name" in other.stderr
