"""DID filters over HTTP, on a small hand-made lake whose answers are known exactly."""

import astropy.units as u
import pytest
from astropy.coordinates import Latitude, Longitude
from astropy.time import Time
from mocpy import MOC

from catalogue.bands import BAND_RANGES, Band
from catalogue.models import DIDKey, DIDType
from tests.support.graphql import gql
from tests.support.records import file_record, register, square

# name: (scope, metadata, obscore). Squares are 1 deg on a side; a and b overlap in RA.
LAKE = {
    "a.fits": (
        "lake",
        {
            "run": 1,
            "band": "g",
            "tags": ["deep", "wide"],
            "exptime": 30.0,
            "field": "COSMOS-1",
            "flag": True,
            "observed": "2024-01-10T00:00:00Z",
        },
        {
            "obs_collection": "SURVEY-A",
            "dataproduct_type": "image",
            "calib_level": 1,
            "facility_name": "Alpha",
            "instrument_name": "CamA",
            "target_name": "M31",
            "s_region": square(10.0, 10.0, 0.5),
            "t_min": 60000.0,
            "t_max": 60001.0,
            "em_min": 4e-7,
            "em_max": 5e-7,
        },
    ),
    "b.fits": (
        "lake",
        {
            "run": 3,
            "band": "r",
            "tags": ["wide"],
            "exptime": 60.5,
            "field": "COSMOS-2",
            "flag": False,
            "observed": "2024-02-10T00:00:00Z",
        },
        {
            "obs_collection": "SURVEY-A",
            "dataproduct_type": "image",
            "calib_level": 2,
            "facility_name": "Alpha",
            "instrument_name": "CamA",
            "target_name": "M31",
            "s_region": square(10.6, 10.0, 0.5),
            "t_min": 60010.0,
            "t_max": 60011.0,
            "em_min": 5.5e-7,
            "em_max": 7e-7,
        },
    ),
    "c.fits": (
        "lake",
        {"run": 6, "band": "r", "tags": ["deep"], "field": "XMM-LSS"},
        {
            "obs_collection": "SURVEY-B",
            "dataproduct_type": "spectrum",
            "calib_level": 3,
            "facility_name": "Beta",
            "instrument_name": "SpecB",
            "target_name": "M33",
            "s_region": square(50.0, -20.0, 0.5),
            "t_min": 60100.0,
            "t_max": 60101.0,
            "em_min": 0.2,
            "em_max": 2.0,
        },
    ),
    "d.fits": (
        "lake",
        {"run": 8, "band": "i"},
        {
            "obs_collection": "SURVEY-B",
            "dataproduct_type": "image",
            "calib_level": 2,
            "facility_name": "Beta",
            "instrument_name": "CamB",
            "target_name": "NGC 253",
            "s_region": square(200.0, 45.0, 0.5),
            "t_min": 60200.0,
            "t_max": 60200.5,
            "em_min": 1e-12,
            "em_max": 5e-12,
        },
    ),
    "e.fits": (
        "sim",
        {"run": 10, "band": "r"},
        {"dataproduct_type": "cube", "calib_level": 4, "facility_name": "Gamma"},
    ),
    "notes.txt": ("lake", {}, {}),
}
FILES = set(LAKE)
EVERYTHING = FILES | {"empty-ds", "empty-box"}


async def filter_lake(catalogue):
    """The files above, and an empty dataset and container (no metadata, no extent)."""
    await register(
        catalogue,
        [
            file_record(name, scope=scope, metadata=meta, obscore=obscore)
            for name, (scope, meta, obscore) in LAKE.items()
        ],
    )
    await catalogue.add_collection(DIDKey("lake", "empty-ds"), DIDType.DATASET)
    await catalogue.add_collection(DIDKey("lake", "empty-box"), DIDType.CONTAINER)


SELECT = """query($filter: DIDFilterInput) {
  dids(filter: $filter, first: 100) { totalCount edges { node { name } } } }"""


async def names(client, selection):
    """The names a filter selects, checking the total agrees with the page."""
    body = await gql(client, SELECT, {"filter": selection})
    assert "errors" not in body, body
    found = [e["node"]["name"] for e in body["data"]["dids"]["edges"]]
    assert body["data"]["dids"]["totalCount"] == len(found)
    return set(found)


@pytest.fixture
async def lake(catalogue):
    await filter_lake(catalogue)


# -- system fields --------------------------------------------------------------------------


@pytest.mark.usefixtures("lake")
@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["FILE"], FILES),
        (["DATASET"], {"empty-ds"}),
        (["DATASET", "CONTAINER"], {"empty-ds", "empty-box"}),
    ],
)
async def test_types_filter_selects_dids_of_those_types(client, types, expected):
    assert await names(client, {"types": types}) == expected


@pytest.mark.usefixtures("lake")
async def test_scopes_filter_selects_dids_of_those_scopes(client):
    assert await names(client, {"scopes": ["sim"]}) == {"e.fits"}


@pytest.mark.usefixtures("lake")
async def test_name_pattern_matches_with_star_wildcards(client):
    assert await names(client, {"name": "*.fits"}) == FILES - {"notes.txt"}


@pytest.mark.usefixtures("lake")
async def test_name_pattern_takes_underscore_literally(client):
    assert await names(client, {"name": "empty_ds"}) == set()


# -- metadata filter trees ------------------------------------------------------------------


def condition(key, op, value=None, values=None):
    found = {"key": key, "op": op}
    if value is not None:
        found["value"] = value
    if values is not None:
        found["values"] = values
    return {"condition": found}


@pytest.mark.usefixtures("lake")
@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        (condition("band", "EQ", "r"), {"b.fits", "c.fits", "e.fits"}),
        (condition("band", "NE", "r"), {"a.fits", "d.fits"}),
        (condition("run", "LT", 3), {"a.fits"}),
        (condition("run", "GTE", 6), {"c.fits", "d.fits", "e.fits"}),
        (condition("exptime", "GTE", 45.5), {"b.fits"}),
        (condition("band", "IN", values=["g", "i"]), {"a.fits", "d.fits"}),
        (condition("tags", "CONTAINS", "deep"), {"a.fits", "c.fits"}),
        (condition("exptime", "EXISTS"), {"a.fits", "b.fits"}),
        (condition("field", "LIKE", "COSMOS%"), {"a.fits", "b.fits"}),
        (condition("flag", "EQ", value=True), {"a.fits"}),
        (condition("observed", "GT", "2024-02-01T00:00:00Z"), {"b.fits"}),
        (condition("observed", "NOT_EXISTS"), EVERYTHING - {"a.fits", "b.fits"}),
    ],
    ids=[
        "eq",
        "ne",
        "lt",
        "gte",
        "gte-float",
        "in",
        "contains",
        "exists",
        "like",
        "eq-boolean",
        "gt-datetime",
        "not-exists",
    ],
)
async def test_metadata_condition_selects_the_files_it_holds_for(client, tree, expected):
    assert await names(client, {"metadata": tree}) == expected


@pytest.mark.usefixtures("lake")
async def test_metadata_all_requires_every_branch(client):
    tree = {"all": [condition("band", "EQ", "r"), condition("run", "GTE", 6)]}
    assert await names(client, {"metadata": tree}) == {"c.fits", "e.fits"}


@pytest.mark.usefixtures("lake")
async def test_metadata_any_of_nested_groups_selects_either_branch(client):
    tree = {
        "any": [
            {"all": [condition("band", "EQ", "r"), condition("run", "GT", 5)]},
            condition("run", "LT", 2),
        ]
    }
    assert await names(client, {"metadata": tree}) == {"a.fits", "c.fits", "e.fits"}


@pytest.mark.usefixtures("lake")
async def test_rucio_filter_ands_commas_and_ors_semicolons(client):
    assert await names(client, {"rucioFilter": "run>5,band=r;run<2"}) == {
        "a.fits",
        "c.fits",
        "e.fits",
    }


# -- sky regions ----------------------------------------------------------------------------


def cone(ra, dec, radius, intersect="OVERLAPS"):
    return {"region": {"cone": {"ra": ra, "dec": dec, "radius": radius}, "intersect": intersect}}


@pytest.mark.usefixtures("lake")
@pytest.mark.parametrize(
    ("region", "expected"),
    [
        (cone(10.3, 10.0, 0.1), {"a.fits", "b.fits"}),
        (cone(10.0, 10.0, 0.9), {"a.fits", "b.fits"}),
        (cone(10.0, 10.0, 0.9, "ENCLOSED"), {"a.fits"}),
        (cone(10.3, 10.0, 2.0, "ENCLOSED"), {"a.fits", "b.fits"}),
        (cone(9.8, 10.0, 0.1, "COVERS"), {"a.fits"}),
        (cone(10.3, 10.0, 0.1, "COVERS"), {"a.fits", "b.fits"}),
        (cone(10.0, 10.0, 0.9, "COVERS"), set()),
    ],
    ids=[
        "overlaps-both",
        "overlaps-wide",
        "enclosed-one",
        "enclosed-both",
        "covers-one",
        "covers-both",
        "covers-none",
    ],
)
async def test_cone_selects_files_by_how_they_relate_to_it(client, region, expected):
    assert await names(client, region) == expected


@pytest.mark.usefixtures("lake")
@pytest.mark.parametrize("intersect", ["OVERLAPS", "ENCLOSED"])
async def test_polygon_around_one_file_selects_it(client, intersect):
    region = {"polygon": {"vertices": [49, -21, 51, -21, 51, -19, 49, -19]}}
    region["intersect"] = intersect
    assert await names(client, {"region": region}) == {"c.fits"}


@pytest.mark.usefixtures("lake")
async def test_polygon_inside_a_file_is_covered_by_it(client):
    region = {
        "polygon": {"vertices": [49.9, -20.1, 50.1, -20.1, 50.1, -19.9, 49.9, -19.9]},
        "intersect": "COVERS",
    }
    assert await names(client, {"region": region}) == {"c.fits"}


@pytest.mark.usefixtures("lake")
@pytest.mark.parametrize(
    ("intersect", "expected"),
    [("OVERLAPS", {"d.fits"}), ("ENCLOSED", {"d.fits"}), ("COVERS", set())],
)
async def test_moc_region_selects_by_intersect(client, intersect, expected):
    around_d = MOC.from_cone(
        lon=Longitude(200 * u.deg), lat=Latitude(45 * u.deg), radius=2 * u.deg, max_depth=6
    )
    region = {"moc": around_d.to_string(format="ascii"), "intersect": intersect}
    assert await names(client, {"region": region}) == expected


# -- time and wavelength ----------------------------------------------------------------------


def iso(mjd):
    return Time(mjd, format="mjd", scale="utc").isot + "Z"


@pytest.mark.usefixtures("lake")
async def test_time_bounds_in_iso_and_in_mjd_select_the_same_files(client):
    by_mjd = await names(client, {"time": {"start": "60005", "end": "60150.5"}})
    by_iso = await names(client, {"time": {"start": iso(60005), "end": iso(60150.5)}})
    assert by_mjd == by_iso == {"b.fits", "c.fits"}


@pytest.mark.usefixtures("lake")
async def test_time_with_only_a_start_selects_what_ends_after_it(client):
    assert await names(client, {"time": {"start": iso(60100.5)}}) == {"c.fits", "d.fits"}


@pytest.mark.usefixtures("lake")
async def test_spectral_range_in_metres_selects_overlapping_files(client):
    assert await names(client, {"spectral": {"min": 5.2e-7, "max": 6e-7}}) == {"b.fits"}


def overlapping(band):
    low, high = BAND_RANGES[band]
    found = set()
    for name, (_, _, obscore) in LAKE.items():
        if "em_min" not in obscore:
            continue
        if (low is None or obscore["em_max"] >= low) and (
            high is None or obscore["em_min"] <= high
        ):
            found.add(name)
    return found


@pytest.mark.usefixtures("lake")
@pytest.mark.parametrize(
    ("band", "expected"),
    [
        (Band.RADIO, {"c.fits"}),
        (Band.OPTICAL, {"a.fits", "b.fits"}),
        (Band.GAMMA_RAY, {"d.fits"}),
        (Band.X_RAY, set()),
    ],
)
async def test_band_name_selects_files_overlapping_its_wavelength_range(client, band, expected):
    assert overlapping(band) == expected  # the lake is what the bands.py ranges say it is
    assert await names(client, {"spectral": {"band": band.name}}) == expected


# -- ObsCore ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("lake")
@pytest.mark.parametrize(
    ("obscore", "expected"),
    [
        ({"collection": ["SURVEY-B"]}, {"c.fits", "d.fits"}),
        ({"dataproductType": ["image"]}, {"a.fits", "b.fits", "d.fits"}),
        ({"dataproductType": ["spectrum", "cube"]}, {"c.fits", "e.fits"}),
        ({"calibLevel": [2]}, {"b.fits", "d.fits"}),
        ({"calibLevelMin": 3}, {"c.fits", "e.fits"}),
        ({"facility": ["Beta", "Gamma"]}, {"c.fits", "d.fits", "e.fits"}),
        ({"instrument": ["CamA"]}, {"a.fits", "b.fits"}),
        ({"target": ["M33", "NGC 253"]}, {"c.fits", "d.fits"}),
        ({"collection": ["SURVEY-B"], "calibLevelMin": 3}, {"c.fits"}),
    ],
    ids=[
        "collection",
        "dataproduct-type",
        "dataproduct-types",
        "calib-level",
        "calib-level-min",
        "facility",
        "instrument",
        "target",
        "combined",
    ],
)
async def test_obscore_filter_selects_files_by_their_characterisation(client, obscore, expected):
    assert await names(client, {"obscore": obscore}) == expected


@pytest.mark.usefixtures("lake")
async def test_every_criterion_given_must_hold(client):
    selection = {
        "scopes": ["lake"],
        "obscore": {"facility": ["Alpha", "Beta"]},
        "metadata": condition("band", "EQ", "r"),
        "time": {"end": "60050"},
    }
    assert await names(client, selection) == {"b.fits"}
