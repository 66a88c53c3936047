"""Rucio's messages, delivered by a real ``rucio-hermes`` to ``lakecat rucio listen``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from bridges.rucio.listen import create_listener, parse_bulk
from bridges.rucio.sync import SyncOptions, run_sync
from catalogue.config import Settings
from catalogue.models import DIDKey
from catalogue.rucio import SyncMode
from catalogue.service import Catalogue
from tests.bridges.rucio.conftest import LOCAL, RucioServer
from tests.bridges.rucio.scenario import file, populate
from tests.support.asgi_server import serve_app


@contextmanager
def serve_listener(settings: Settings, rucio: RucioServer, scopes: list[str]) -> Iterator[str]:
    """``lakecat rucio listen`` on a free port, with its lifespan, for the block."""
    app = create_listener(settings, url=rucio.url, auth=rucio.auth(), scopes=scopes)
    with serve_app(app, lifespan="on") as root:
        yield root


def hermes_config(rucio: RucioServer, endpoint: str, directory: Path) -> Path:
    """The server's rucio.cfg with hermes' Elasticsearch output pointed at the listener."""
    text = rucio.config.read_text()
    text = re.sub(r"elastic_endpoint = .*", f"elastic_endpoint = {endpoint}", text)
    path = directory / "rucio-hermes.cfg"
    path.write_text(text)
    return path


async def test_hermes_events_reach_lakecat_within_seconds(
    catalogue: Catalogue,
    engine: AsyncEngine,
    rucio: RucioServer,
    scopes: tuple[str, str],
    tmp_path: Path,
) -> None:
    scope, user = scopes
    populate(rucio, scope, user)
    async with rucio.client() as client:
        await run_sync(catalogue, client, SyncOptions(scopes=list(scopes), margin=timedelta(0)))
    rucio.calls(
        ("add_replicas", [LOCAL, [file(scope, "e1.fits", 21), file(scope, "e2.fits", 22)]], {}),
        (
            "add_dataset",
            [scope, "ds_ev"],
            {"files": [{"scope": scope, "name": n} for n in ("e1.fits", "e2.fits")]},
        ),
        ("close", [scope, "ds_ev"], {}),
        ("attach_dids", [scope, "c1", [{"scope": scope, "name": "ds_ev"}]], {}),
        ("detach_dids", [scope, "c1", [{"scope": scope, "name": "ds_b"}]], {}),
        ("set_metadata", [scope, "ds_b", "lifetime", -1], {}),
    )
    rucio.daemon("rucio-undertaker")
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path
    )
    with serve_listener(settings, rucio, list(scopes)) as url:
        started = time.monotonic()
        config = hermes_config(rucio, f"{url}/_bulk", tmp_path)
        rucio.daemon("rucio-hermes", "--bulk", "100000", config=config)
        elapsed = time.monotonic() - started
    assert elapsed < 30
    dataset = await catalogue.get_did(DIDKey(scope, "ds_ev"))
    assert dataset is not None
    assert dataset.did.is_open is False
    members = await catalogue.list_children(DIDKey(scope, "ds_ev"))
    assert [str(m.key) for m in members] == [f"{scope}:e1.fits", f"{scope}:e2.fits"]
    file_detail = await catalogue.get_did(DIDKey(scope, "e1.fits"))
    assert file_detail is not None
    assert file_detail.did.adler32 == "0015beef"
    assert [r.rse for r in file_detail.replicas] == [LOCAL]
    in_container = await catalogue.list_children(DIDKey(scope, "c1"))
    assert {str(m.key) for m in in_container} == {f"{scope}:ds_a", f"{scope}:ds_ev"}
    assert await catalogue.get_did(DIDKey(scope, "ds_b")) is None  # ERASE
    (run,) = [r for r in await catalogue.rucio_sync_runs() if r.mode is SyncMode.EVENTS]
    assert run.caller == "rucio-hermes"
    assert run.counts.deleted == 1


def test_a_bulk_body_reads_as_its_messages() -> None:
    body = (
        b'{ "index":{ } }\n'
        b'{"id": "1", "event_type": "CLOSE", "payload": {"scope": "s", "name": "d"},'
        b' "created_at": "2026-11-22 03:00:00", "services": "elastic"}\n'
        b'{ "index":{ } }\n'
        b'{"event_type": "detach", "payload": "{\\"scope\\": \\"s\\", \\"name\\": \\"c\\"}"}\n'
    )
    messages = parse_bulk(body)
    assert [(m.event_type, dict(m.payload)) for m in messages] == [
        ("CLOSE", {"scope": "s", "name": "d"}),
        ("DETACH", {"scope": "s", "name": "c"}),
    ]


async def test_the_listener_answers_like_elasticsearch_bulk(
    engine: AsyncEngine, rucio: RucioServer, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path
    )
    body = b'{ "index":{ } }\n{"event_type": "RULE_OK", "payload": {"scope": "x", "name": "y"}}\n'
    with serve_listener(settings, rucio, []) as url:
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"{url}/_bulk", content=body)
            broken = await http.post(url, content=b"{not json\n")
    assert answer.status_code == 200
    assert answer.json()["errors"] is False
    assert answer.json()["items"] == [{"index": {"_index": "rucio-events", "status": 201}}]
    assert broken.status_code == 400
    assert broken.json()["error"].startswith("line 1 of the bulk body is not JSON")
