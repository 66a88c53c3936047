"""Region queries: cones, polygons and MOCs against files and collections, sorted and paged."""

import io
import json
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Latitude, Longitude
from mocpy import MOC

from catalogue.coverage import Coverage
from catalogue.errors import InvalidQueryError
from catalogue.filters import parse_rucio_filter
from catalogue.models import DIDKey, DIDType, Intersect
from catalogue.query import DIDQuery, RegionFilter, SortKey
from catalogue.region import Circle, Polygon
from tests.conftest import ENGINES, make_catalogue, migrated_engine
from tests.support.records import file_record, manifest, register, square

MOCS = Path(__file__).parent.parent / "data" / "moc"
GALEX = MOCS / "P-GALEXGR6-AIS-FUV.fits"
SMOC = MOCS / "MOC2.0_smoc.ascii.txt"
ORDER = 10
OVERLAPS, ENCLOSED, COVERS = Intersect.OVERLAPS, Intersect.ENCLOSED, Intersect.COVERS
FILE, DATASET, CONTAINER = DIDType.FILE, DIDType.DATASET, DIDType.CONTAINER


def circle(ra, dec, radius):
    return f"Circle ICRS {ra} {dec} {radius}"


def centre_of(cell: str) -> tuple[float, float]:
    """The barycentre of a HEALPix cell written as a MOC, e.g. ``3/10``."""
    centre = MOC.from_string(cell).barycenter()
    return float(centre.ra.deg), float(centre.dec.deg)


# The cone the tests ask about: 1 degree around (150, 2). Files "just inside" lie within it,
# "just outside" files keep a gap of 0.25 degree (four order-10 cells) from its edge. Each
# file is given as its s_region, size, t_min (MJD), em_min (m) and metadata.
CONE = Circle(150, 2, 1.0)
LAYOUT = {
    "c_in_a": (square(150.3, 2.2, 0.05), 4000, 60000.0, 5e-7, {"band": "g"}),
    "c_in_b": (circle(149.5, 1.6, 0.1), 1000, 60100.0, 1e-6, {"band": "r"}),
    "c_edge": (square(151.0, 2, 0.15), 3000, 60200.0, 5e-7, {"band": "g"}),
    "c_big": (circle(150, 2, 3), 2000, 59000.0, 3e-7, {"band": "g"}),
    "c_out_near": (square(151.3, 2, 0.05), 500, 60000.0, 5e-7, {"band": "g"}),
    # either side of RA = 0
    "z_zero": (square(0, 10, 0.2), 100, None, None, {}),
    "z_west": (circle(359.5, 10, 0.1), 100, None, None, {}),
    "z_east": (circle(0.5, 10, 0.1), 100, None, None, {}),
    # near the north pole
    "p_a": (circle(0, 89.5, 0.2), 100, None, None, {}),
    "p_b": (circle(180, 89.5, 0.2), 100, None, None, {}),
    "p_far": (circle(90, 87, 0.2), 100, None, None, {}),
    # in and out of the MOC 2.0 standard's example: 3/3 10 4/16-18 22 5/19-20 ...
    "m_in_3_10": (circle(*centre_of("3/10"), 0.05), 100, None, None, {}),
    "m_in_5_19": (circle(*centre_of("5/19"), 0.05), 100, None, None, {}),
    "m_out_4_20": (circle(*centre_of("4/20"), 0.05), 100, None, None, {}),
    "m_out_3_500": (circle(*centre_of("3/500"), 0.05), 100, None, None, {}),
    # no sky coverage at all
    "n_nowhere": (None, 100, 60000.0, 5e-7, {"band": "g"}),
}
CONE_FILES = ["c_big", "c_edge", "c_in_a", "c_in_b"]


def layout_record(name):
    s_region, size, t_min, em_min, metadata = LAYOUT[name]
    obscore = {"s_region": s_region}
    if t_min is not None:
        obscore |= {"t_min": t_min, "t_max": t_min + 1, "em_min": em_min, "em_max": em_min * 2}
    return file_record(name, size=size, obscore=obscore, metadata=metadata)


async def populate(catalogue):
    for name in LAYOUT:  # one run each, so creation times follow the layout's order
        await register(catalogue, [layout_record(name)])
    collections = {
        "ds_mixed": (DATASET, ["c_in_a", "c_out_near"]),
        "ds_in": (DATASET, ["c_in_b"]),
        "ds_far": (DATASET, ["p_far"]),
        "k_cont": (CONTAINER, ["ds_mixed"]),
        "k_cont_far": (CONTAINER, ["ds_far"]),
    }
    for name, (did_type, members) in collections.items():
        await catalogue.add_collection(DIDKey("lake", name), did_type)
        await catalogue.attach(DIDKey("lake", name), [DIDKey("lake", m) for m in members])


@pytest.fixture(scope="module", params=ENGINES)
async def lake(request, tmp_path_factory):
    """One populated catalogue per engine, shared by the read-only queries of this module."""
    async with migrated_engine(request.param, tmp_path_factory.mktemp("region")) as engine:
        catalogue = make_catalogue(engine)
        await populate(catalogue)
        yield catalogue


def cone(ra, dec, radius, intersect=OVERLAPS):
    return RegionFilter(Coverage.from_region(Circle(ra, dec, radius), ORDER), intersect)


async def found(catalogue, region, **query):
    page = await catalogue.search(DIDQuery(region=region, limit=1000, **query))
    assert page.total == len(page.items)
    assert page.next_cursor is None
    return sorted(d.key.name for d in page.items)


# --- cones -----------------------------------------------------------------------------------

CONE_ANSWERS = {
    OVERLAPS: ["c_big", "c_edge", "c_in_a", "c_in_b"],
    ENCLOSED: ["c_in_a", "c_in_b"],
    COVERS: ["c_big"],
}


@pytest.mark.parametrize("intersect", list(Intersect))
async def test_a_cone_finds_exactly_the_files_in_that_relation(lake, intersect):
    region = RegionFilter(Coverage.from_region(CONE, ORDER), intersect)
    assert await found(lake, region, types=(FILE,)) == CONE_ANSWERS[intersect]


@pytest.mark.parametrize("intersect", list(Intersect))
async def test_a_cone_with_its_shape_finds_the_same_files(lake, intersect):
    region = RegionFilter.from_shape(CONE, ORDER, intersect)
    assert await found(lake, region, types=(FILE,)) == CONE_ANSWERS[intersect]


async def test_a_file_without_coverage_is_never_in_a_region(lake):
    everywhere = cone(0, 0, 180)
    assert "n_nowhere" not in await found(lake, everywhere)
    assert len(await found(lake, everywhere, types=(FILE,))) == len(LAYOUT) - 1


async def test_a_cone_on_empty_sky_finds_nothing(lake):
    assert await found(lake, cone(250, -60, 1)) == []


@pytest.mark.parametrize(
    ("ra", "expected"), [(359.8, ["z_west", "z_zero"]), (0.2, ["z_east", "z_zero"])]
)
async def test_a_file_straddling_ra_zero_is_found_from_either_side(lake, ra, expected):
    assert await found(lake, cone(ra, 10, 0.3)) == expected


async def test_a_cone_straddling_ra_zero_encloses_the_files_on_both_sides(lake):
    assert await found(lake, cone(0, 10, 0.75, ENCLOSED)) == ["z_east", "z_west", "z_zero"]


@pytest.mark.parametrize("intersect", [OVERLAPS, ENCLOSED])
async def test_a_cone_on_the_north_pole_finds_the_files_around_it(lake, intersect):
    assert await found(lake, cone(45, 90, 0.8, intersect)) == ["p_a", "p_b"]


async def test_a_wider_polar_cone_reaches_the_farther_file_and_its_collections(lake):
    assert await found(lake, cone(0, 90, 3.5)) == ["ds_far", "k_cont_far", "p_a", "p_b", "p_far"]


# --- polygons and MOCs -----------------------------------------------------------------------

BOX = Polygon(((149.0, 1.0), (150.5, 1.0), (150.5, 2.5), (149.0, 2.5)))


@pytest.mark.parametrize(
    ("intersect", "expected"),
    [
        (OVERLAPS, ["c_big", "c_in_a", "c_in_b"]),
        (ENCLOSED, ["c_in_a", "c_in_b"]),
        (COVERS, ["c_big"]),
    ],
)
async def test_a_polygon_finds_exactly_the_files_in_that_relation(lake, intersect, expected):
    region = RegionFilter(Coverage.from_region(BOX, ORDER), intersect)
    assert await found(lake, region, types=(FILE,)) == expected


@pytest.mark.parametrize("intersect", [OVERLAPS, ENCLOSED])
async def test_a_moc_ascii_string_finds_the_files_in_its_cells(lake, intersect):
    region = RegionFilter(Coverage.from_string(SMOC.read_text()), intersect)
    assert await found(lake, region) == ["m_in_3_10", "m_in_5_19"]


async def test_a_moc_json_string_finds_the_files_in_its_cells(lake):
    region = RegionFilter(Coverage.from_string(json.dumps({"3": [500], "4": [20]})), ENCLOSED)
    assert await found(lake, region) == ["m_out_3_500", "m_out_4_20"]


async def test_a_moc_fits_file_finds_the_files_in_its_cells(lake):
    moc = MOC.from_string("3/10 4/20")
    region = RegionFilter(Coverage.from_fits(moc_fits_bytes(moc)))
    assert await found(lake, region) == ["m_in_3_10", "m_out_4_20"]


def moc_fits_bytes(moc: MOC) -> bytes:
    buffer = io.BytesIO()
    moc.serialize(format="fits").writeto(buffer)
    return buffer.getvalue()


# --- collections -----------------------------------------------------------------------------


async def test_collections_overlap_a_cone_by_their_aggregated_coverage(lake):
    region = RegionFilter(Coverage.from_region(CONE, ORDER), OVERLAPS)
    assert await found(lake, region, types=(DATASET, CONTAINER)) == [
        "ds_in",
        "ds_mixed",
        "k_cont",
    ]


async def test_a_collection_with_a_member_outside_is_not_enclosed(lake):
    region = RegionFilter(Coverage.from_region(CONE, ORDER), ENCLOSED)
    assert await found(lake, region, types=(DATASET, CONTAINER)) == ["ds_in"]


async def test_a_container_is_found_where_only_its_datasets_files_are(lake):
    assert await found(lake, cone(151.3, 2, 0.1), types=(DATASET, CONTAINER)) == [
        "ds_mixed",
        "k_cont",
    ]


# --- combined with other criteria ------------------------------------------------------------


async def test_a_region_combines_with_a_metadata_filter(lake):
    region = cone(150, 2, 1.0)
    assert await found(lake, region, filter=parse_rucio_filter("band=g")) == [
        "c_big",
        "c_edge",
        "c_in_a",
    ]


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ((60000.5, 60150.0), ["c_in_a", "c_in_b"]),
        ((None, 60000.5), ["c_big", "c_in_a"]),
        ((60150.0, None), ["c_edge"]),
        ((61000.0, 62000.0), []),
    ],
)
async def test_a_region_combines_with_a_time_range(lake, time, expected):
    assert await found(lake, cone(150, 2, 1.0), types=(FILE,), time=time) == expected


@pytest.mark.parametrize(
    ("spectral", "expected"),
    [
        ((4e-7, 5.5e-7), ["c_big", "c_edge", "c_in_a"]),
        ((1.5e-6, None), ["c_in_b"]),
        ((None, 4e-7), ["c_big"]),
    ],
)
async def test_a_region_combines_with_a_spectral_range(lake, spectral, expected):
    assert await found(lake, cone(150, 2, 1.0), types=(FILE,), spectral=spectral) == expected


async def test_a_region_combines_with_a_name_pattern_and_a_scope(lake):
    region = cone(150, 2, 1.0)
    assert await found(lake, region, name="c_in_*", scopes=("lake",)) == ["c_in_a", "c_in_b"]
    assert await found(lake, region, scopes=("other",)) == []


# --- sorting and paging ----------------------------------------------------------------------

SORTED = {
    SortKey.NAME: ["c_big", "c_edge", "c_in_a", "c_in_b"],
    SortKey.CREATED: ["c_in_a", "c_in_b", "c_edge", "c_big"],
    SortKey.SIZE: ["c_in_b", "c_big", "c_edge", "c_in_a"],
    SortKey.TIME: ["c_big", "c_in_a", "c_in_b", "c_edge"],
}


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("sort", list(SortKey))
async def test_a_region_result_is_sorted(lake, sort, descending):
    query = DIDQuery(
        region=cone(150, 2, 1.0), types=(FILE,), sort=sort, descending=descending, limit=10
    )
    page = await lake.search(query)
    expected = SORTED[sort][::-1] if descending else SORTED[sort]
    assert [d.key.name for d in page.items] == expected


async def pages(catalogue, query):
    """Every page of a query, following its cursors."""
    out = []
    for _ in range(20):
        page = await catalogue.search(query)
        out.append(page)
        if page.next_cursor is None:
            return out
        query = DIDQuery(**{**query_args(query), "cursor": page.next_cursor})
    pytest.fail("the cursors never reached the end")


def query_args(query):
    fields = ("scopes", "types", "name", "filter", "region", "time", "spectral", "sort")
    return {f: getattr(query, f) for f in fields} | {
        "descending": query.descending,
        "limit": query.limit,
    }


PAGED_REGION = cone(150, 2, 1.5)  # the cone files, c_out_near, and every collection over them
PAGED_ALL = [
    "c_big",
    "c_edge",
    "c_in_a",
    "c_in_b",
    "c_out_near",
    "ds_in",
    "ds_mixed",
    "k_cont",
]


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("sort", list(SortKey))
async def test_paging_a_region_result_visits_each_match_once(lake, sort, descending):
    query = DIDQuery(region=PAGED_REGION, sort=sort, descending=descending, limit=3)
    whole = await lake.search(DIDQuery(**{**query_args(query), "limit": 100}))
    assert sorted(d.key.name for d in whole.items) == PAGED_ALL
    result = await pages(lake, query)
    assert [len(p.items) for p in result] == [3, 3, 2]
    assert [p.total for p in result] == [8, 8, 8]
    assert [d.key for p in result for d in p.items] == [d.key for d in whole.items]


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("sort", list(SortKey))
async def test_paging_a_filter_result_visits_each_match_once(lake, sort, descending):
    query = DIDQuery(name="*_*", sort=sort, descending=descending, limit=3)
    whole = await lake.search(DIDQuery(**{**query_args(query), "limit": 100}))
    assert whole.total == len(LAYOUT) + 5
    result = await pages(lake, query)
    assert {p.total for p in result} == {whole.total}
    assert [d.key for p in result for d in p.items] == [d.key for d in whole.items]


async def test_an_exact_page_leaves_no_cursor(lake):
    page = await lake.search(DIDQuery(region=cone(150, 2, 1.0), types=(FILE,), limit=4))
    assert (len(page.items), page.total, page.next_cursor) == (4, 4, None)


async def test_a_cursor_works_with_another_page_size(lake):
    first = await lake.search(DIDQuery(region=PAGED_REGION, limit=2))
    rest = await lake.search(DIDQuery(region=PAGED_REGION, limit=100, cursor=first.next_cursor))
    assert [d.key.name for d in first.items + list(rest.items)] == PAGED_ALL


@pytest.mark.parametrize(
    "change",
    [
        {"region": cone(150, 2, 1.4)},
        {"region": RegionFilter(PAGED_REGION.coverage, ENCLOSED)},
        {"region": None},
        {"sort": SortKey.SIZE},
        {"descending": True},
        {"types": (FILE,)},
        {"filter": parse_rucio_filter("band=g")},
        {"time": (0.0, 1e6)},
    ],
    ids=["region", "intersect", "no region", "sort", "order", "types", "filter", "time"],
)
async def test_a_cursor_reused_with_other_arguments_is_an_invalid_query(lake, change):
    first = await lake.search(DIDQuery(region=PAGED_REGION, limit=3))
    args = {"region": PAGED_REGION, "limit": 3, "cursor": first.next_cursor} | change
    with pytest.raises(InvalidQueryError, match="the cursor belongs to a query with other"):
        await lake.search(DIDQuery(**args))


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "", "e30", "W10", "eyJxIjogMX0", "!!!!", "eyJxIjoiYSIsInYiOjEsImkiOiJ4In0"],
)
async def test_a_garbage_cursor_is_an_invalid_query(lake, cursor):
    with pytest.raises(InvalidQueryError, match="the cursor is not one this service issued"):
        await lake.search(DIDQuery(region=PAGED_REGION, limit=3, cursor=cursor))


# --- a real survey's coverage ----------------------------------------------------------------


def galex_positions(count: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Random cone centres whose 0.05 degree cones are wholly inside / wholly outside GALEX."""
    galex = MOC.from_fits(GALEX)
    rng = np.random.default_rng(20261121)
    inside: list[tuple[float, float]] = []
    outside: list[tuple[float, float]] = []
    while len(inside) < count or len(outside) < count:
        ra = float(rng.uniform(0, 360))
        dec = float(np.degrees(np.arcsin(rng.uniform(-1, 1))))
        moc = MOC.from_cone(
            lon=Longitude(ra * u.deg), lat=Latitude(dec * u.deg), radius=0.05 * u.deg, max_depth=10
        )
        inside_part = np.asarray(moc.intersection(galex).to_depth29_ranges)
        if np.array_equal(inside_part, moc.to_depth29_ranges) and len(inside) < count:
            inside.append((ra, dec))
        elif moc.intersection(galex).empty() and len(outside) < count:
            outside.append((ra, dec))
    return inside, outside


@pytest.mark.parametrize("intersect", [OVERLAPS, ENCLOSED])
async def test_the_galex_coverage_finds_exactly_the_files_inside_it(catalogue, intersect):
    inside, outside = galex_positions(6)
    records = [
        file_record(f"in{i}", obscore={"s_region": circle(ra, dec, 0.05)})
        for i, (ra, dec) in enumerate(inside)
    ] + [
        file_record(f"out{i}", obscore={"s_region": circle(ra, dec, 0.05)})
        for i, (ra, dec) in enumerate(outside)
    ]
    summary = await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert summary.registered == 12
    region = RegionFilter(Coverage.from_fits(GALEX.read_bytes()), intersect)
    page = await catalogue.search(DIDQuery(region=region, limit=100))
    assert [d.key.name for d in page.items] == [f"in{i}" for i in range(6)]
    assert page.total == 6
