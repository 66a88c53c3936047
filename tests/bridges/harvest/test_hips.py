"""HiPS harvesting from a real HTTP HiPS node, and the lake's own HiPS list entry.

The node (hips_support.py) serves a HiPS list and the directories of two real CDS surveys,
GALEX GR6 AIS FUV and SDSS9 r, with their real ``Moc.fits``; nothing is mocked.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from asgi_lifespan import LifespanManager
from mocpy import MOC
from sqlalchemy.ext.asyncio import AsyncEngine

from bridges.harvest.hips import HipsReader, read_records
from bridges.harvest.publish import FITS, TEXT
from bridges.harvest.run import run_harvest
from catalogue.config import Settings
from catalogue.coverage import Coverage, union_all
from catalogue.filters import parse_rucio_filter
from catalogue.harvest import HarvestRun, RecordProblem, RunStatus, record_name
from catalogue.models import DIDKey, DIDType
from catalogue.query import DIDQuery, FacetField, RegionFilter
from catalogue.region import Circle
from catalogue.service import Catalogue
from schema.app import create_app
from tests.bridges.harvest.hips_support import (
    GALEX_DID,
    GALEX_MOC,
    GALEX_PATH,
    SDSS_DID,
    SDSS_MOC,
    SDSS_PATH,
    HipsNode,
    free_port,
    galex_properties,
    sdss_properties,
    serve_app,
)
from tests.support.records import file_record, names, register, square

SOURCE = "hips.cds"
GALEX = DIDKey(SOURCE, record_name(GALEX_DID))
SDSS = DIDKey(SOURCE, record_name(SDSS_DID))
ONLY_GALEX = Circle(10.0, -40.0, 0.2)  # GALEX AIS covers it, SDSS (northern) does not
BOTH = Circle(180.0, 30.0, 0.2)
AUTHORITY = "lake.example.org"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[HipsNode]:
    served = HipsNode(tmp_path / "node")
    yield served
    served.close()


async def harvest(catalogue: Catalogue, url: str, **options: object) -> HarvestRun:
    options.setdefault("timeout", 10.0)
    reader = HipsReader(url, source=SOURCE, **options)  # type: ignore[arg-type]
    return await run_harvest(catalogue, reader)


def fixture_coverage(path: Path) -> Coverage:
    return Coverage.from_fits(path.read_bytes())


def same_coverage(stored: Coverage | None, expected: Coverage) -> bool:
    """The same cells: harvested MOCs are stored as published, at their own order."""
    assert stored is not None
    return np.array_equal(stored.ranges, expected.ranges)


# -- the properties syntax ----------------------------------------------------------------


def test_list_records_split_on_blank_lines_and_skip_comments() -> None:
    text = "# a HiPS list\r\ncreator_did = ivo://a/P/1\r\nk = v = w\r\n\r\n\r\n# next\ncreator_did=ivo://b/P/2\n"
    records = list(read_records(text.splitlines()))
    assert [(r.number, r.line, r.pairs) for r in records] == [
        (1, 2, [("creator_did", "ivo://a/P/1"), ("k", "v = w")]),
        (2, 7, [("creator_did", "ivo://b/P/2")]),
    ]


def test_a_properties_file_is_one_record_whatever_its_blank_lines() -> None:
    records = list(read_records(["creator_did = ivo://a/P/1", "", "obs_title = A"], single=True))
    assert [r.pairs for r in records] == [[("creator_did", "ivo://a/P/1"), ("obs_title", "A")]]


def test_a_line_without_equals_sign_is_a_problem_of_its_record() -> None:
    (record,) = read_records(["creator_did = ivo://a/P/1", "hips_order 11", "bad key = 1"])
    assert record.problems == [
        "line 2: no '=' (a properties line is 'keyword = value'): 'hips_order 11'",
        "line 3: keyword 'bad key' is empty or contains spaces: 'bad key = 1'",
    ]


# -- harvesting a HiPS list ---------------------------------------------------------------


async def test_each_survey_becomes_a_dataset_named_by_its_creator_did(
    catalogue: Catalogue, node: HipsNode
) -> None:
    run = await harvest(catalogue, node.publish())
    assert (run.status, run.error, run.problems) == (RunStatus.SUCCEEDED, None, [])
    assert (run.counts.added, run.counts.failed, run.counts.withdrawn) == (2, 0, 0)
    page = await catalogue.search(DIDQuery(sources=(SOURCE,)))
    assert names(page.items) == [str(GALEX), str(SDSS)]
    assert str(GALEX) == "hips.cds:CDS/P/GALEXGR6/AIS/FUV"
    assert {d.type for d in page.items} == {DIDType.DATASET}
    assert (await catalogue.search(DIDQuery(sources=("lake",)))).total == 0


async def test_obscore_keywords_become_the_characterisation(
    catalogue: Catalogue, node: HipsNode
) -> None:
    await harvest(catalogue, node.publish())
    galex = await catalogue.get_did(GALEX)
    sdss = await catalogue.get_did(SDSS)
    assert galex is not None
    assert sdss is not None
    assert galex.characterisation == {
        "obs_title": "GALEX GR6 AIS (until March 2014) - FUV",
        "obs_collection": "GALEX GR6 AIS",
        "dataproduct_type": "image",
        "em_min": 1.344e-7,
        "em_max": 1.786e-7,
        "t_min": 52757.0,
        "t_max": 54980.0,
    }
    assert sdss.characterisation == {
        "obs_title": "SDSS9 r",
        "obs_collection": "SDSS9",
        "dataproduct_type": "image",
        "em_min": 5.38e-7,
        "em_max": 7.23e-7,
        "t_min": 51075.0,
        "t_max": 55200.0,
    }


async def test_other_keywords_become_typed_metadata(catalogue: Catalogue, node: HipsNode) -> None:
    await harvest(catalogue, node.publish())
    galex = await catalogue.get_did(GALEX)
    assert galex is not None
    assert dict(galex.metadata) == {
        "description": "Galaxy Evolution Explorer All-sky Imaging Survey, GR6/GR7, far-UV band",
        "obs_ack": "GALEX was operated for NASA by the California Institute of Technology",
        "prov_progenitor": ["MAST GALEX GR6/GR7 AIS intensity maps", "Coadded by CDS with Hipsgen"],
        "bib_reference": "2005ApJ...619L...1M",
        "obs_regime": "UV",
        "client_category": "Image/UV/GALEX",
        "hips_version": "1.4",
        "hips_creation_date": datetime(2014, 10, 24, 14, 38, tzinfo=UTC),
        "hips_release_date": datetime(2017, 2, 27, 14, 45, tzinfo=UTC),
        "hips_builder": "Aladin/HipsGen v9.505",
        "hips_frame": "equatorial",
        "hips_order": 8,
        "hips_tile_width": 512,
        "hips_tile_format": ["png", "fits"],
        "hips_pixel_bitpix": -32,
        "hips_pixel_cut": [-0.0003, 0.003],
        "hips_estsize": 25_000_000,
        "hips_status": "public master clonableOnce",
        "hips_service_url": f"{node.url}/{GALEX_PATH}",
        "hips_service_url_1": f"{node.url}/mirror/{GALEX_PATH}",
        "hips_status_1": "public mirror clonableOnce",
        "moc_sky_fraction": 0.6821,
    }
    assert galex.did.bytes == 25_000_000 * 1024  # hips_estsize is in KB


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("obs_regime = UV", [GALEX]),
        ("client_category like Image/Optical%", [SDSS]),
        ("hips_tile_format contains fits, hips_order >= 11", [SDSS]),
        ("hips_release_date > 2018-01-01", [SDSS]),
        ("moc_sky_fraction > 0.5", [GALEX]),
        ("prov_progenitor contains Coadded by CDS with Hipsgen", [GALEX]),
    ],
)
async def test_metadata_filters_read_as_mocserver_queries(
    catalogue: Catalogue, node: HipsNode, text: str, expected: list[DIDKey]
) -> None:
    await harvest(catalogue, node.publish())
    query = DIDQuery(sources=(SOURCE,), filter=parse_rucio_filter(text))
    assert names((await catalogue.search(query)).items) == [str(k) for k in expected]


async def test_stored_coverage_is_the_published_moc(catalogue: Catalogue, node: HipsNode) -> None:
    await harvest(catalogue, node.publish())
    galex = fixture_coverage(GALEX_MOC)
    sdss = fixture_coverage(SDSS_MOC)
    assert same_coverage(await catalogue.get_coverage(GALEX), galex)
    assert same_coverage(await catalogue.get_coverage(SDSS), sdss)
    detail = await catalogue.get_did(GALEX)
    assert detail is not None
    assert detail.extent is not None
    assert detail.extent.sky_fraction == pytest.approx(0.6821, abs=5e-4)


async def test_region_search_finds_the_surveys_covering_the_cone(
    catalogue: Catalogue, node: HipsNode
) -> None:
    galex, sdss = fixture_coverage(GALEX_MOC), fixture_coverage(SDSS_MOC)
    cone = Coverage.from_region(ONLY_GALEX, 13)
    assert galex.overlaps(cone)
    assert not sdss.overlaps(cone)
    await harvest(catalogue, node.publish())

    async def covering(circle: Circle) -> list[str]:
        region = RegionFilter.from_shape(circle, catalogue.moc_order)
        return names((await catalogue.search(DIDQuery(region=region, sources=(SOURCE,)))).items)

    assert await covering(ONLY_GALEX) == [str(GALEX)]
    assert await covering(BOTH) == [str(GALEX), str(SDSS)]
    assert await covering(Circle(0.0, -30.0, 0.2)) == []


async def test_facets_and_runs_count_the_harvest(catalogue: Catalogue, node: HipsNode) -> None:
    run = await harvest(catalogue, node.publish())
    fields = [FacetField.SCOPE, FacetField.COLLECTION, FacetField.DATAPRODUCT_TYPE]
    facets = await catalogue.facets(DIDQuery(sources=(SOURCE,)), fields)
    assert facets[FacetField.SCOPE] == [(SOURCE, 2)]
    assert sorted(facets[FacetField.COLLECTION]) == [("GALEX GR6 AIS", 1), ("SDSS9", 1)]
    assert facets[FacetField.DATAPRODUCT_TYPE] == [("image", 2)]
    runs = await catalogue.harvest_runs(SOURCE)
    assert [(r.id, r.status, r.counts.added) for r in runs] == [(run.id, RunStatus.SUCCEEDED, 2)]
    (spec, live), *others = await catalogue.harvest_sources()
    assert (spec.name, spec.kind.value, spec.url, live, others) == (
        SOURCE,
        "hips",
        f"{node.url}/hipslist",
        2,
        [],
    )


async def test_harvesting_again_changes_nothing(catalogue: Catalogue, node: HipsNode) -> None:
    url = node.publish()
    await harvest(catalogue, url)
    again = await harvest(catalogue, url)
    assert again.status is RunStatus.SUCCEEDED
    assert (again.counts.added, again.counts.updated, again.counts.unchanged) == (0, 0, 2)
    assert again.counts.withdrawn == 0


async def test_a_survey_the_list_no_longer_has_is_withdrawn(
    catalogue: Catalogue, node: HipsNode
) -> None:
    await harvest(catalogue, node.publish())
    run = await harvest(catalogue, node.publish(sdss=False))
    assert (run.counts.unchanged, run.counts.withdrawn) == (1, 1)
    assert names((await catalogue.search(DIDQuery(sources=(SOURCE,)))).items) == [str(GALEX)]
    region = RegionFilter.from_shape(BOTH, catalogue.moc_order)
    found = await catalogue.search(DIDQuery(region=region, sources=(SOURCE,)))
    assert names(found.items) == [str(GALEX)]
    kept = await catalogue.get_did(SDSS)
    assert kept is not None
    info = await catalogue.harvest_info([kept.did.id])
    assert info[kept.did.id].withdrawn_at is not None
    assert info[kept.did.id].remote_id == SDSS_DID


async def test_a_survey_without_moc_is_harvested_without_coverage(
    catalogue: Catalogue, node: HipsNode
) -> None:
    url = node.publish()
    (node.root / SDSS_PATH / "Moc.fits").unlink()
    run = await harvest(catalogue, url)
    assert (run.status, run.counts.added, run.counts.failed) == (RunStatus.SUCCEEDED, 2, 0)
    assert await catalogue.get_coverage(SDSS) is None
    assert await catalogue.get_coverage(GALEX) is not None


async def test_a_malformed_line_refuses_its_record_only(
    catalogue: Catalogue, node: HipsNode
) -> None:
    node.publish()
    broken = sdss_properties(node.url).replace("hips_order           = 11", "hips_order 11")
    text = galex_properties(node.url) + "\n" + broken
    node.write("hipslist", text)
    line = text.splitlines().index("hips_order 11") + 1
    run = await harvest(catalogue, f"{node.url}/hipslist")
    assert (run.status, run.counts.added, run.counts.failed) == (RunStatus.SUCCEEDED, 1, 1)
    assert run.problems == [
        RecordProblem(
            SDSS_DID,
            f"line {line}: no '=' (a properties line is 'keyword = value'): 'hips_order 11'",
        )
    ]
    assert names((await catalogue.search(DIDQuery(sources=(SOURCE,)))).items) == [str(GALEX)]


async def test_a_record_without_creator_did_is_reported_by_position(
    catalogue: Catalogue, node: HipsNode
) -> None:
    node.publish()
    anonymous = f"obs_title = Untitled\nhips_service_url = {node.url}/{SDSS_PATH}\n"
    text = galex_properties(node.url) + "\n" + anonymous
    node.write("hipslist", text)
    line = text.splitlines().index("obs_title = Untitled") + 1
    run = await harvest(catalogue, f"{node.url}/hipslist")
    assert run.counts.added == 1
    assert run.problems == [
        RecordProblem(f"record 2 (line {line})", "no creator_did (HiPS 1.0 §4.4.1 requires it)")
    ]


async def test_a_malformed_moc_is_a_problem_of_its_record(
    catalogue: Catalogue, node: HipsNode
) -> None:
    url = node.publish()
    node.write(f"{SDSS_PATH}/Moc.fits", b"SIMPLE  = nonsense")
    run = await harvest(catalogue, url)
    assert (run.status, run.counts.added, run.counts.failed) == (RunStatus.SUCCEEDED, 1, 1)
    (problem,) = run.problems
    assert problem.where == SDSS_DID
    assert problem.reason.startswith(f"{node.url}/{SDSS_PATH}/Moc.fits: not a FITS file")


async def test_a_failing_master_moc_is_read_from_the_mirror(
    catalogue: Catalogue, node: HipsNode
) -> None:
    url = node.publish()
    node.faults[f"{GALEX_PATH}/Moc.fits"] = 503
    node.write(f"mirror/{GALEX_PATH}/Moc.fits", GALEX_MOC.read_bytes())
    run = await harvest(catalogue, url)
    assert (run.status, run.counts.added) == (RunStatus.SUCCEEDED, 2)
    galex = fixture_coverage(GALEX_MOC)
    assert same_coverage(await catalogue.get_coverage(GALEX), galex)


# -- remote failures ------------------------------------------------------------------------


async def test_a_server_error_on_the_list_fails_the_run(
    catalogue: Catalogue, node: HipsNode
) -> None:
    url = node.publish()
    node.faults["hipslist"] = 500
    run = await harvest(catalogue, url)
    assert (run.status, run.error) == (RunStatus.FAILED, f"{url}: HTTP 500 Internal Server Error")


async def test_a_silent_server_fails_the_run_after_the_timeout(
    catalogue: Catalogue, node: HipsNode
) -> None:
    url = node.publish()
    node.stalls["hipslist"] = 3.0
    run = await harvest(catalogue, url, timeout=0.3)
    assert (run.status, run.error) == (
        RunStatus.FAILED,
        f"{url}: no answer within 0.3 s (timed out)",
    )


async def test_an_unreachable_server_fails_the_run(catalogue: Catalogue) -> None:
    url = f"http://127.0.0.1:{free_port()}/hipslist"
    run = await harvest(catalogue, url)
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert run.error.startswith(f"{url}: ")
    assert "Connection refused" in run.error


async def test_an_empty_list_fails_the_run_and_withdraws_nothing(
    catalogue: Catalogue, node: HipsNode
) -> None:
    url = node.publish()
    await harvest(catalogue, url)
    node.write("hipslist", "# nothing published today\n")
    run = await harvest(catalogue, url)
    assert (run.status, run.error) == (RunStatus.FAILED, f"{url}: no HiPS record in the answer")
    assert (await catalogue.search(DIDQuery(sources=(SOURCE,)))).total == 2


async def test_a_failed_moc_fails_the_run_and_the_next_run_resumes_after_it(
    catalogue: Catalogue, node: HipsNode
) -> None:
    url = node.publish()
    moc_url = f"{node.url}/{SDSS_PATH}/Moc.fits"
    node.faults[f"{SDSS_PATH}/Moc.fits"] = 502
    failed = await harvest(catalogue, url, chunk_size=1)
    assert (failed.status, failed.error) == (RunStatus.FAILED, f"{moc_url}: HTTP 502 Bad Gateway")
    assert (failed.counts.added, failed.resume_after) == (1, GALEX_DID)
    del node.faults[f"{SDSS_PATH}/Moc.fits"]
    resumed = await harvest(catalogue, url, chunk_size=1)
    assert resumed.id == failed.id
    assert resumed.status is RunStatus.SUCCEEDED
    counts = resumed.counts
    assert (counts.added, counts.unchanged, counts.withdrawn) == (2, 0, 0)


# -- other ways to name a survey ------------------------------------------------------------


@pytest.mark.parametrize("suffix", [f"{GALEX_PATH}/properties", GALEX_PATH, f"{GALEX_PATH}/"])
async def test_a_properties_file_or_hips_url_harvests_one_survey(
    catalogue: Catalogue, node: HipsNode, suffix: str
) -> None:
    node.publish()
    run = await harvest(catalogue, f"{node.url}/{suffix}")
    assert (run.status, run.counts.added) == (RunStatus.SUCCEEDED, 1)
    galex = fixture_coverage(GALEX_MOC)
    assert same_coverage(await catalogue.get_coverage(GALEX), galex)


def test_the_default_source_is_named_after_the_host() -> None:
    reader = HipsReader("https://alasky.cds.unistra.fr/MocServer/query?get=record")
    assert reader.spec.name == "hips.alasky.cds.unistra.fr"
    assert reader.spec.kind.value == "hips"
    assert reader.complete is False


# -- the lake's own entry -------------------------------------------------------------------


LAKE_FILES = [
    file_record(
        "lake/a.fits",
        obscore={
            "s_region": square(10.0, 20.0, 0.5),
            "dataproduct_type": "image",
            "t_min": 59000.0,
            "t_max": 59001.5,
            "em_min": 4e-7,
            "em_max": 5e-7,
        },
    ),
    file_record(
        "lake/b.fits",
        obscore={
            "s_region": square(200.0, -30.0, 1.0),
            "dataproduct_type": "image",
            "t_min": 58000.25,
            "t_max": 58000.5,
            "em_min": 6e-7,
            "em_max": 9e-7,
        },
    ),
]


def settings_for(engine: AsyncEngine) -> Settings:
    url = engine.url.render_as_string(hide_password=False)
    return Settings(database_url=url, ivoa_authority=AUTHORITY)


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(engine), run_migrations=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def lake_union(catalogue: Catalogue) -> Coverage:
    files = await catalogue.search(DIDQuery(sources=("lake",), types=(DIDType.FILE,)))
    coverages = [await catalogue.get_coverage(d.key) for d in files.items]
    return union_all([c for c in coverages if c is not None]).degrade(catalogue.moc_order)


def one_record(text: str) -> dict[str, str]:
    (record,) = read_records(text.splitlines())
    assert record.problems == []
    return dict(record.pairs)


async def test_the_hips_list_describes_the_lake(
    catalogue: Catalogue, client: httpx.AsyncClient
) -> None:
    await register(catalogue, LAKE_FILES)
    response = await client.get("/hips/list")
    assert response.status_code == 200
    assert response.headers["content-type"] == TEXT
    record = one_record(response.text)
    released = record.pop("hips_release_date")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", released)
    fraction = float(record.pop("moc_sky_fraction"))
    assert fraction == pytest.approx((await lake_union(catalogue)).sky_fraction, rel=1e-5)
    assert record == {
        "creator_did": f"ivo://{AUTHORITY}/lake",
        "publisher_id": f"ivo://{AUTHORITY}",
        "obs_title": f"Data lake {AUTHORITY}",
        "obs_description": f"Sky coverage of the files registered in the data lake {AUTHORITY}: "
        "the union of their MOCs at order 10",
        "dataproduct_type": "image",
        "em_max": "9e-07",
        "em_min": "4e-07",
        "t_max": "59001.5",
        "t_min": "58000.25",
        "hips_version": "1.4",
        "hips_status": "public master unclonable",
        "hips_frame": "equatorial",
        "hips_service_url": "http://testserver/hips/lake",
        "moc_order": "10",
    }
    properties = await client.get("/hips/lake/properties")
    assert properties.headers["content-type"] == TEXT
    assert one_record(properties.text) == one_record(response.text)


async def test_the_lake_moc_is_the_union_of_its_own_files(
    catalogue: Catalogue, client: httpx.AsyncClient, node: HipsNode
) -> None:
    await register(catalogue, LAKE_FILES)
    await harvest(catalogue, node.publish())  # harvested surveys are not the lake's
    response = await client.get("/hips/lake/Moc.fits")
    assert response.status_code == 200
    assert response.headers["content-type"] == FITS
    published = Coverage.from_moc(MOC.from_fits(io.BytesIO(response.content)))
    expected = await lake_union(catalogue)
    assert not expected.is_empty
    assert np.array_equal(published.ranges, expected.ranges)


async def test_the_lake_entry_follows_new_files(
    catalogue: Catalogue, client: httpx.AsyncClient
) -> None:
    await register(catalogue, LAKE_FILES[:1])
    first = one_record((await client.get("/hips/list")).text)
    await register(catalogue, LAKE_FILES[1:])
    second = one_record((await client.get("/hips/list")).text)
    assert (first["t_min"], second["t_min"]) == ("59000.0", "58000.25")
    assert float(second["moc_sky_fraction"]) > float(first["moc_sky_fraction"])


async def test_an_empty_lake_publishes_an_empty_moc(client: httpx.AsyncClient) -> None:
    record = one_record((await client.get("/hips/list")).text)
    assert record["moc_sky_fraction"] == "0"
    assert "t_min" not in record
    assert "dataproduct_type" not in record
    moc = MOC.from_fits(io.BytesIO((await client.get("/hips/lake/Moc.fits")).content))
    assert moc.empty()


@pytest.mark.parametrize("path", ["/hips/list", "/hips/lake"])
async def test_the_lake_harvests_its_own_hips_entry(
    catalogue: Catalogue, engine: AsyncEngine, path: str
) -> None:
    await register(catalogue, LAKE_FILES)
    with serve_app(create_app(settings_for(engine), run_migrations=False)) as root:
        run = await run_harvest(catalogue, HipsReader(f"{root}{path}", source="hips.self"))
    assert (run.status, run.error, run.counts.added) == (RunStatus.SUCCEEDED, None, 1)
    key = DIDKey("hips.self", f"{AUTHORITY}/lake")
    detail = await catalogue.get_did(key)
    assert detail is not None
    assert detail.characterisation == {
        "obs_title": f"Data lake {AUTHORITY}",
        "publisher_id": f"ivo://{AUTHORITY}",
        "dataproduct_type": "image",
        "t_min": 58000.25,
        "t_max": 59001.5,
        "em_min": 4e-7,
        "em_max": 9e-7,
    }
    assert detail.metadata["hips_service_url"] == f"{root}/hips/lake"
    assert same_coverage(await catalogue.get_coverage(key), await lake_union(catalogue))
