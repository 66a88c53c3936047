from catalogue.coverage import Coverage
from catalogue.demo import (
    DEMO_RSES,
    DEMO_SCOPES,
    build_demo_lake,
    demo_lake_exists,
    generate_demo_lake,
)
from catalogue.models import DIDKey, DIDType
from catalogue.query import DIDQuery, RegionFilter
from catalogue.region import Circle

SCALE = 0.05
CRAB = (83.6331, 22.0145)


async def test_build_registers_every_facility_and_marks_the_lake_built(catalogue):
    assert not await demo_lake_exists(catalogue)
    progress = []
    summary = await build_demo_lake(catalogue, scale=SCALE, progress=progress.append)
    assert summary.registered > 0
    assert (summary.failed, summary.problems, summary.without_coverage) == (0, [], [])
    assert sum(progress) == summary.registered
    assert await demo_lake_exists(catalogue)
    assert set(DEMO_SCOPES) <= set(await catalogue.list_scopes())
    assert {r.name for r in await catalogue.list_rses()} == {r.name for r in DEMO_RSES}


async def test_second_build_finds_every_file_unchanged(catalogue):
    first = await build_demo_lake(catalogue, scale=SCALE)
    second = await build_demo_lake(catalogue, scale=SCALE)
    assert (second.registered, second.unchanged, second.failed) == (0, first.registered, 0)


async def test_cone_search_around_the_crab_finds_iact_event_lists(catalogue):
    await build_demo_lake(catalogue, scale=SCALE)
    cone = Coverage.from_region(Circle(*CRAB, 0.5), catalogue.moc_order)
    query = DIDQuery(types=(DIDType.FILE,), region=RegionFilter(cone), limit=2000)
    page = await catalogue.search(query)
    details = [await catalogue.get_did(did.key) for did in page.items]
    facilities = {d.characterisation["facility_name"] for d in details}
    assert {"CTAO-North", "MAGIC"} <= facilities
    crab = [d for d in details if d.characterisation.get("target_name") == "Crab Nebula"]
    assert crab
    assert {d.characterisation["dataproduct_type"] for d in crab} == {"event"}
    assert all(1e-21 < d.characterisation["em_min"] < 1e-16 for d in crab)


async def test_container_search_finds_filled_and_nested_containers(catalogue):
    await build_demo_lake(catalogue, scale=SCALE)
    page = await catalogue.search(DIDQuery(types=(DIDType.CONTAINER,), limit=2000))
    assert page.items
    assert all(did.length for did in page.items)
    children = await catalogue.list_children(DIDKey("rubin", "DP1"))
    assert {c.type for c in children} == {DIDType.CONTAINER}
    files = await catalogue.list_children(DIDKey("rubin", "DP1"), recursive=True)
    assert DIDType.FILE in {c.type for c in files}
    crab = await catalogue.get_did(DIDKey("ctao", "Crab-Nebula"))
    assert crab is not None
    assert crab.extent is not None
    assert crab.extent.sky_fraction > 0


def test_same_seed_gives_the_same_lake_and_another_seed_another():
    first, again = generate_demo_lake(7, SCALE), generate_demo_lake(7, SCALE)
    assert first.records == again.records
    assert first.containers == again.containers
    other = generate_demo_lake(8, SCALE)
    assert [r["name"] for r in other.records] != [r["name"] for r in first.records]


def test_full_scale_lake_is_a_few_thousand_consistent_records():
    lake = generate_demo_lake()
    assert 3000 <= len(lake.records) <= 5000
    keys = [(r["scope"], r["name"]) for r in lake.records]
    assert len(set(keys)) == len(keys)
    assert {r["scope"] for r in lake.records} == set(DEMO_SCOPES)
    for record in lake.records:
        obscore = record["obscore"]
        assert obscore["t_min"] < obscore["t_max"]
        assert obscore["t_exptime"] <= (obscore["t_max"] - obscore["t_min"]) * 86400 + 1e-3
        assert 0 < obscore["em_min"] < obscore["em_max"]
        assert 1 <= len(record["replicas"]) <= 3
        if obscore["data_rights"] == "proprietary":
            assert obscore["obs_release_date"] > "2026"


def test_rubin_coadds_are_level_3_and_bands_have_their_wavelengths():
    lake = generate_demo_lake(scale=SCALE)
    coadds = [r for r in lake.records if r["name"].startswith("deepCoadd_")]
    assert {r["obscore"]["calib_level"] for r in coadds} == {3}
    r_band = next(r["obscore"] for r in coadds if r["metadata"]["band"] == "r")
    assert (r_band["em_min"], r_band["em_max"]) == (5.52e-7, 6.91e-7)
