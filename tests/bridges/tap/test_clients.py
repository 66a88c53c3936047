"""The TAP service as pyvo and STILTS use it, against a live server with the demo lake.

Expected rows are computed independently: positions are read with a plain SELECT and the
cone is decided with astropy's angular separation, not with our ADQL geometry.
"""

from __future__ import annotations

import io
import subprocess
from collections import Counter
from xml.etree import ElementTree as ET

import httpx
import numpy as np
import pytest
import pyvo
from astropy.coordinates import SkyCoord
from astropy.io.votable import parse_single_table
from astropy.table import Table

from tests.bridges.tap.conftest import stilts
from tests.support.live import LiveService

pytestmark = pytest.mark.filterwarnings("ignore::astropy.io.votable.exceptions.VOWarning")


def _positions(service: pyvo.dal.TAPService) -> Table:
    table = service.run_sync(
        "SELECT lake_scope, lake_name, s_ra, s_dec FROM ivoa.obscore", maxrec=100_000
    ).to_table()
    return table[~(table["s_ra"].mask | table["s_dec"].mask)] if table.masked else table


def _in_cone(positions: Table, ra: float, dec: float, radius: float) -> set[str]:
    centre = SkyCoord(ra, dec, unit="deg")
    coords = SkyCoord(np.asarray(positions["s_ra"]), np.asarray(positions["s_dec"]), unit="deg")
    inside = coords.separation(centre).deg <= radius
    return {str(n) for n in positions["lake_name"][inside]}


def test_sync_cone_search_returns_the_files_whose_centre_is_inside(live: LiveService) -> None:
    service = pyvo.dal.TAPService(live.tap)
    positions = _positions(service)
    assert len(positions) > 1000
    ra, dec = float(positions["s_ra"][0]), float(positions["s_dec"][0])
    expected = _in_cone(positions, ra, dec, 2.0)
    result = service.run_sync(
        "SELECT lake_name, s_ra, s_dec, access_url FROM ivoa.obscore "
        f"WHERE 1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {ra}, {dec}, 2.0))"
    ).to_table()
    assert {str(n) for n in result["lake_name"]} == expected
    assert 0 < len(expected) < len(positions)
    assert all(str(u).startswith(f"{live.root}/datalink/links?ID=") for u in result["access_url"])


def test_async_query_with_order_and_top(live: LiveService) -> None:
    service = pyvo.dal.TAPService(live.tap)
    job = service.submit_job(
        "SELECT TOP 5 lake_name, t_min FROM ivoa.obscore WHERE t_min IS NOT NULL "
        "ORDER BY t_min DESC, lake_name"
    )
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "COMPLETED", job.phase
    table = job.fetch_result().to_table()
    job.delete()
    every = service.run_sync(
        "SELECT lake_name, t_min FROM ivoa.obscore WHERE t_min IS NOT NULL", maxrec=100_000
    ).to_table()
    order = sorted(zip(-np.asarray(every["t_min"]), every["lake_name"], strict=True))
    assert [str(n) for n in table["lake_name"]] == [str(n) for _, n in order[:5]]


def test_run_async_convenience(live: LiveService) -> None:
    service = pyvo.dal.TAPService(live.tap)
    result = service.run_async(
        "SELECT obs_collection, COUNT(*) AS n FROM ivoa.obscore GROUP BY obs_collection"
    )
    counts = {str(r["obs_collection"]): int(r["n"]) for r in result}
    every = service.run_sync("SELECT obs_collection FROM ivoa.obscore", maxrec=100_000)
    assert counts == dict(Counter(str(c) for c in every.to_table()["obs_collection"]))
    assert len(counts) > 1


def test_upload_cross_match(live: LiveService) -> None:
    service = pyvo.dal.TAPService(live.tap)
    positions = _positions(service)
    picks = positions[[0, len(positions) // 2, len(positions) - 1]]
    sources = Table(
        {
            "src": ["a", "b", "c"],
            "ra": np.asarray(picks["s_ra"], dtype=float),
            "dec": np.asarray(picks["s_dec"], dtype=float),
        }
    )
    radius = 0.01
    result = service.search(
        "SELECT u.src, o.lake_name FROM ivoa.obscore AS o "
        "JOIN TAP_UPLOAD.sources AS u "
        f"ON 1 = CONTAINS(POINT('ICRS', o.s_ra, o.s_dec), CIRCLE('ICRS', u.ra, u.dec, {radius}))",
        uploads={"sources": sources},
    ).to_table()
    got = {(str(r["src"]), str(r["lake_name"])) for r in result}
    expected = {
        (str(src), name)
        for src, ra, dec in zip(sources["src"], sources["ra"], sources["dec"], strict=True)
        for name in _in_cone(positions, ra, dec, radius)
    }
    assert got == expected
    assert {s for s, _ in got} == {"a", "b", "c"}


def test_maxrec_overflow_is_signalled_not_an_error(live: LiveService) -> None:
    response = httpx.post(
        f"{live.tap}/sync",
        data={"LANG": "ADQL", "QUERY": "SELECT lake_name FROM ivoa.obscore", "MAXREC": "7"},
        timeout=60,
    )
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    statuses = [
        e.get("value")
        for e in root.iter()
        if e.tag.endswith("INFO") and e.get("name") == "QUERY_STATUS"
    ]
    assert statuses == ["OK", "OVERFLOW"]
    assert len(parse_single_table(io.BytesIO(response.content)).array) == 7


def test_syntax_error_is_a_votable_error_document_with_the_position(live: LiveService) -> None:
    response = httpx.get(
        f"{live.tap}/sync",
        params={"LANG": "ADQL", "QUERY": "SELECT lake_name FRM ivoa.obscore"},
        timeout=60,
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/x-votable+xml")
    root = ET.fromstring(response.content)
    info = next(
        e for e in root.iter() if e.tag.endswith("INFO") and e.get("name") == "QUERY_STATUS"
    )
    assert info.get("value") == "ERROR"
    assert "line 1" in (info.text or "")
    assert "FRM" in (info.text or "") or "column" in (info.text or "")


def test_pyvo_reports_the_error_message(live: LiveService) -> None:
    service = pyvo.dal.TAPService(live.tap)
    with pytest.raises(pyvo.dal.DALQueryError, match="not published"):
        service.run_sync("SELECT * FROM ivoa.nosuchtable")


def test_datalink_lists_every_replica(live: LiveService) -> None:
    service = pyvo.dal.TAPService(live.tap)
    row = service.run_sync(
        "SELECT TOP 1 o.lake_scope, o.lake_name, o.access_url, f.did_id "
        "FROM ivoa.obscore AS o JOIN lake.files AS f "
        "ON f.scope = o.lake_scope AND f.name = o.lake_name ORDER BY o.lake_name"
    ).to_table()[0]
    replicas = service.run_sync(
        f"SELECT rse, url FROM lake.replicas WHERE did_id = {int(row['did_id'])}"
    ).to_table()
    links = pyvo.dal.adhoc.DatalinkResults.from_result_url(str(row["access_url"]))
    this = [r for r in links if r.semantics == "#this"]
    assert sorted(str(r.access_url) for r in this) == sorted(str(u) for u in replicas["url"])
    local = {str(r["local_semantics"]) for r in links.to_table() if r["semantics"] == "#this"}
    assert local == {str(r) for r in replicas["rse"]}


def test_tap_schema_is_queryable(live: LiveService) -> None:
    service = pyvo.dal.TAPService(live.tap)
    columns = service.run_sync(
        "SELECT column_name, ucd, utype, unit, std FROM TAP_SCHEMA.columns "
        "WHERE table_name = 'ivoa.obscore' ORDER BY column_index"
    ).to_table()
    by_name = {str(r["column_name"]): r for r in columns}
    assert str(by_name["obs_publisher_did"]["ucd"]) == "meta.ref.ivoid"
    assert str(by_name["s_ra"]["unit"]) == "deg"
    assert int(by_name["lake_name"]["std"]) == 0
    assert int(by_name["t_min"]["std"]) == 1
    tables = {t.name for t in service.tables}
    assert {"ivoa.obscore", "lake.files", "lake.replicas", "TAP_SCHEMA.columns"} <= tables


def test_stilts_tapquery_round_trip(live: LiveService, tmp_path: pytest.TempPathFactory) -> None:
    out = tmp_path / "out.csv"  # type: ignore[operator]
    subprocess.run(
        [
            stilts(),
            "tapquery",
            f"tapurl={live.tap}",
            "adql=SELECT TOP 3 lake_name, s_ra FROM ivoa.obscore ORDER BY lake_name",
            "sync=true",
            f"out={out}",
            "ofmt=csv",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    got = Table.read(out, format="ascii.csv")
    service = pyvo.dal.TAPService(live.tap)
    expected = service.run_sync("SELECT lake_name FROM ivoa.obscore", maxrec=100_000).to_table()
    names = sorted(str(n) for n in expected["lake_name"])[:3]
    assert [str(n) for n in got["lake_name"]] == names
