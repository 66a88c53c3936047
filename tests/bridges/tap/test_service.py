"""The TAP service in process, on both engines: parameters, errors, limits, uploads."""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import numpy as np
import pytest
from astropy.io.votable import from_table, parse_single_table
from astropy.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import Mount

from bridges.tap.adql import translate
from bridges.tap.app import TapService
from bridges.tap.tables import ALL_TABLES, RelationContext, TableSet
from catalogue.config import Settings
from catalogue.service import Catalogue
from tests.conftest import make_catalogue
from tests.support.records import file_record, register, square

pytestmark = pytest.mark.filterwarnings("ignore::astropy.io.votable.exceptions.VOWarning")


@pytest.fixture
async def lake(engine: AsyncEngine) -> Catalogue:
    """Ten files along the equator, 1 degree apart, at RA 10..19."""
    catalogue = make_catalogue(engine)
    records = [
        file_record(
            f"f{i:02d}.fits",
            obscore={
                "s_region": square(10 + i, 0, 0.1),
                "obs_collection": "EQ" if i % 2 else "ODD",
                "t_min": 60000 + i,
                "t_max": 60000.5 + i,
            },
        )
        for i in range(10)
    ]
    await register(catalogue, records)
    return catalogue


@pytest.fixture
async def client(engine: AsyncEngine, lake: Catalogue) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the TAP service over the test database."""
    service = TapService(engine, lake, Settings(tap_sync_timeout=2))
    app = Starlette(
        routes=[
            Mount("/tap", routes=service.routes()),
            Mount("/datalink", routes=service.datalink_routes()),
        ]
    )
    await service.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://lake.test"
        ) as http:
            yield http
    finally:
        await service.stop()


def _status(content: bytes) -> tuple[str | None, str]:
    root = ET.fromstring(content)
    for element in root.iter():
        if element.tag.endswith("INFO") and element.get("name") == "QUERY_STATUS":
            return element.get("value"), element.text or ""
    return None, ""


async def _sync(client: httpx.AsyncClient, **params: str) -> httpx.Response:
    return await client.post("/tap/sync", data={"LANG": "ADQL", **params})


async def test_cone_on_the_point_index(client: httpx.AsyncClient) -> None:
    response = await _sync(
        client,
        QUERY="SELECT lake_name FROM ivoa.obscore "
        "WHERE 1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 12.0, 0.0, 1.5)) "
        "ORDER BY lake_name",
    )
    assert response.status_code == 200, response.text
    table = parse_single_table(io.BytesIO(response.content)).to_table()
    assert [str(n) for n in table["lake_name"]] == ["f01.fits", "f02.fits", "f03.fits"]


async def test_region_predicate_decided_by_the_catalogue(client: httpx.AsyncClient) -> None:
    response = await _sync(
        client,
        QUERY="SELECT lake_name FROM ivoa.obscore "
        "WHERE 1 = INTERSECTS(s_region, CIRCLE('ICRS', 13.5, 0.0, 0.45)) ORDER BY lake_name",
    )
    assert response.status_code == 200, response.text
    table = parse_single_table(io.BytesIO(response.content)).to_table()
    assert [str(n) for n in table["lake_name"]] == ["f03.fits", "f04.fits"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"LANG": "", "QUERY": "SELECT * FROM ivoa.obscore"}, "LANG"),
        ({"LANG": "SQL", "QUERY": "SELECT * FROM ivoa.obscore"}, "LANG=SQL"),
        ({"QUERY": ""}, "QUERY"),
        ({"QUERY": "SELECT * FROM ivoa.obscore", "MAXREC": "many"}, "MAXREC"),
        ({"QUERY": "SELECT * FROM ivoa.obscore", "RESPONSEFORMAT": "fits"}, "fits"),
        ({"QUERY": "SELECT * FROM ivoa.obscore", "UPLOAD": "t,ftp://x"}, "ftp://x"),
        ({"QUERY": "SELECT * FROM TAP_UPLOAD.t", "UPLOAD": "t,param:t"}, "param:t"),
        ({"QUERY": "DELETE FROM ivoa.obscore"}, "DELETE"),
        ({"QUERY": "SELECT nosuch FROM ivoa.obscore"}, "nosuch"),
    ],
)
async def test_bad_requests_get_a_votable_error(
    client: httpx.AsyncClient, params: dict[str, str], words: str
) -> None:
    response = await client.post("/tap/sync", data={"LANG": "ADQL", **params})
    assert response.status_code == 400
    status, message = _status(response.content)
    assert status == "ERROR"
    assert words.lower() in message.lower(), message


async def test_maxrec_zero_gives_metadata_only(client: httpx.AsyncClient) -> None:
    response = await _sync(client, QUERY="SELECT lake_name, s_ra FROM ivoa.obscore", MAXREC="0")
    assert response.status_code == 200
    table = parse_single_table(io.BytesIO(response.content))
    assert [f.name for f in table.fields] == ["lake_name", "s_ra"]
    assert len(table.array) == 0


async def test_top_below_maxrec_is_no_overflow(client: httpx.AsyncClient) -> None:
    response = await _sync(client, QUERY="SELECT TOP 3 lake_name FROM ivoa.obscore", MAXREC="3")
    root = ET.fromstring(response.content)
    values = [e.get("value") for e in root.iter() if e.get("name") == "QUERY_STATUS"]
    assert values == ["OK"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "votable", "votable/td"])
async def test_formats_carry_the_same_rows(client: httpx.AsyncClient, fmt: str) -> None:
    response = await _sync(
        client,
        QUERY="SELECT lake_name, t_min FROM ivoa.obscore ORDER BY lake_name",
        RESPONSEFORMAT=fmt,
    )
    assert response.status_code == 200, response.text
    if fmt in {"csv", "tsv"}:
        table = Table.read(response.text, format="ascii.csv" if fmt == "csv" else "ascii.tab")
    else:
        table = parse_single_table(io.BytesIO(response.content)).to_table()
    assert [str(n) for n in table["lake_name"]] == [f"f{i:02d}.fits" for i in range(10)]
    assert np.allclose(np.asarray(table["t_min"], dtype=float), 60000 + np.arange(10))


async def test_inline_upload_joins_obscore(client: httpx.AsyncClient) -> None:
    sources = Table({"id": [1, 2], "ra": [14.0, 30.0], "dec": [0.0, 0.0]})
    buffer = io.BytesIO()
    from_table(sources).to_xml(buffer)
    response = await client.post(
        "/tap/sync",
        data={
            "LANG": "ADQL",
            "UPLOAD": "mine,param:part1",
            "QUERY": "SELECT u.id, o.lake_name FROM TAP_UPLOAD.mine AS u JOIN ivoa.obscore AS o "
            "ON 1 = CONTAINS(POINT('ICRS', o.s_ra, o.s_dec), CIRCLE('ICRS', u.ra, u.dec, 0.2))",
        },
        files={"part1": ("mine.xml", buffer.getvalue(), "application/x-votable+xml")},
    )
    assert response.status_code == 200, response.text
    table = parse_single_table(io.BytesIO(response.content)).to_table()
    assert [(int(r["id"]), str(r["lake_name"])) for r in table] == [(1, "f04.fits")]


async def test_unknown_datalink_id_is_a_not_found_row(client: httpx.AsyncClient) -> None:
    response = await client.get("/datalink/links", params={"ID": "nosuch:thing"})
    assert response.status_code == 200
    table = parse_single_table(io.BytesIO(response.content)).to_table()
    assert str(table["error_message"][0]).startswith("NotFoundFault")


async def test_vosi_documents_are_xml(client: httpx.AsyncClient) -> None:
    for path in ("/tap/capabilities", "/tap/availability", "/tap/tables", "/tap/examples"):
        response = await client.get(path)
        assert response.status_code == 200, path
        ET.fromstring(response.content)
    detail = await client.get("/tap/tables/ivoa.obscore")
    assert b"s_region" in detail.content
    assert (await client.get("/tap/tables/ivoa.nosuch")).status_code == 404


async def test_a_query_past_the_time_limit_is_cancelled(client: httpx.AsyncClient) -> None:
    columns = "TAP_SCHEMA.columns"
    response = await _sync(
        client,
        QUERY=f"SELECT COUNT(*) FROM {columns} AS a, {columns} AS b, {columns} AS c, "
        f"{columns} AS d, {columns} AS e",
    )
    assert response.status_code == 400
    status, message = _status(response.content)
    assert status == "ERROR"
    assert "limit of 2 s" in message


async def test_cone_search_reads_the_point_index(engine: AsyncEngine) -> None:
    """On a sky of 3000 files, analysed, both planners pick the s_hpx index for a cone."""
    catalogue = make_catalogue(engine)
    records = [
        file_record(f"sky{i:04d}.fits", obscore={"s_region": square(ra, dec, 0.05)})
        for i, (ra, dec) in enumerate(
            (ra, dec) for ra in np.arange(0.5, 360, 6.0) for dec in np.arange(-75, 76, 3.0)
        )
    ]
    await register(catalogue, records)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE")
    plan = translate(
        "SELECT lake_name FROM ivoa.obscore "
        "WHERE 1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 12.5, 3.0, 1.0))",
        TableSet(ALL_TABLES),
        engine.dialect,
        RelationContext("http://lake.test"),
    )
    sql = plan.sql([], None)
    explain = "EXPLAIN" if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    async with engine.connect() as connection:
        explained = await connection.exec_driver_sql(f"{explain} {sql}")
        plan_text = " ".join(str(value) for row in explained for value in row)
        rows = (await connection.exec_driver_sql(sql)).all()
    assert "ix_characterisation_s_hpx" in plan_text, plan_text
    assert [r[0] for r in rows] == ["sky0128.fits"]


async def test_runid_is_echoed(client: httpx.AsyncClient) -> None:
    response = await _sync(client, QUERY="SELECT TOP 1 lake_name FROM ivoa.obscore", RUNID="r-42")
    root = ET.fromstring(response.content)
    assert [e.get("value") for e in root.iter() if e.get("name") == "RUNID"] == ["r-42"]


@pytest.fixture
def votable_url(tmp_path: Path) -> Iterator[str]:
    """A VOTable of two positions served over HTTP on 127.0.0.1, as a remote upload."""
    sources = Table({"id": [7, 8], "ra": [16.0, 40.0], "dec": [0.0, 0.0]})
    from_table(sources).to_xml(str(tmp_path / "sources.xml"))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sources.xml"
    finally:
        server.shutdown()
        thread.join()


async def test_upload_by_http_url(client: httpx.AsyncClient, votable_url: str) -> None:
    response = await _sync(
        client,
        UPLOAD=f"remote,{votable_url}",
        QUERY="SELECT u.id, o.lake_name FROM TAP_UPLOAD.remote AS u JOIN ivoa.obscore AS o "
        "ON 1 = CONTAINS(POINT('ICRS', o.s_ra, o.s_dec), CIRCLE('ICRS', u.ra, u.dec, 0.2))",
    )
    assert response.status_code == 200, response.text
    table = parse_single_table(io.BytesIO(response.content)).to_table()
    assert [(int(r["id"]), str(r["lake_name"])) for r in table] == [(7, "f06.fits")]


async def test_unreachable_upload_url_is_reported(client: httpx.AsyncClient) -> None:
    response = await _sync(
        client,
        UPLOAD="gone,http://127.0.0.1:9/none.xml",
        QUERY="SELECT * FROM TAP_UPLOAD.gone",
    )
    assert response.status_code == 400
    status, message = _status(response.content)
    assert status == "ERROR"
    assert "cannot fetch upload http://127.0.0.1:9/none.xml" in message
