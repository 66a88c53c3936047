"""The metadata filter language: how a string parses, and what each filter finds on both engines."""

import asyncio
import re
from datetime import UTC, datetime

import pytest

from catalogue.errors import InvalidQueryError
from catalogue.filters import AllOf, AnyOf, Condition, Op, parse_rucio_filter
from catalogue.models import DIDKey, DIDType
from catalogue.query import DIDQuery
from tests.conftest import ENGINES, make_catalogue, migrated_engine
from tests.support.records import file_record, manifest

# --- parsing ---------------------------------------------------------------------------------

JAN = datetime(2024, 1, 1, tzinfo=UTC)

PARSED = {
    "run=5": Condition("run", Op.EQ, 5),
    "run == 5": Condition("run", Op.EQ, 5),
    " run != 5 ": Condition("run", Op.NE, 5),
    "run<5": Condition("run", Op.LT, 5),
    "run<=5": Condition("run", Op.LTE, 5),
    "run>5": Condition("run", Op.GT, 5),
    "run>=5": Condition("run", Op.GTE, 5),
    "seeing>=0.5": Condition("seeing", Op.GTE, 0.5),
    "seeing<1e-3": Condition("seeing", Op.LT, 0.001),
    "good=true": Condition("good", Op.EQ, value=True),
    "good=False": Condition("good", Op.EQ, value=False),
    "night>2024-01-01": Condition("night", Op.GT, JAN),
    "night>2024-01-01T06:30:00": Condition("night", Op.GT, datetime(2024, 1, 1, 6, 30, tzinfo=UTC)),
    "night<2024-01-01 06:30:00.5Z": Condition(
        "night", Op.LT, datetime(2024, 1, 1, 6, 30, 0, 500000, tzinfo=UTC)
    ),
    "band=g": Condition("band", Op.EQ, "g"),
    'obs_id="123"': Condition("obs_id", Op.EQ, "123"),
    "obs_id='true'": Condition("obs_id", Op.EQ, "true"),
    'night="2024-01-01"': Condition("night", Op.EQ, "2024-01-01"),
    "run=5,band=g": AllOf((Condition("run", Op.EQ, 5), Condition("band", Op.EQ, "g"))),
    "run=5;band=g": AnyOf((Condition("run", Op.EQ, 5), Condition("band", Op.EQ, "g"))),
    "run=5,band=g;run=7": AnyOf(
        (
            AllOf((Condition("run", Op.EQ, 5), Condition("band", Op.EQ, "g"))),
            Condition("run", Op.EQ, 7),
        )
    ),
    "1<run<5": AllOf((Condition("run", Op.GT, 1), Condition("run", Op.LT, 5))),
    "1 <= run < 5": AllOf((Condition("run", Op.GTE, 1), Condition("run", Op.LT, 5))),
    "0.5<seeing<=1.5": AllOf((Condition("seeing", Op.GT, 0.5), Condition("seeing", Op.LTE, 1.5))),
    "name=raw*": Condition("name", Op.LIKE, "raw%"),
    "name=raw_*.fits": Condition("name", Op.LIKE, "raw_%.fits"),
    "name!=*.fits": Condition("name", Op.NOT_LIKE, "%.fits"),
    "created_after=2024-01-01": Condition("created_at", Op.GTE, JAN),
    "created_before=2024-01-01": Condition("created_at", Op.LTE, JAN),
    "created_after=2024-01-01,created_before=2024-02-01": AllOf(
        (
            Condition("created_at", Op.GTE, JAN),
            Condition("created_at", Op.LTE, datetime(2024, 2, 1, tzinfo=UTC)),
        )
    ),
    "run>1;run>2": AnyOf((Condition("run", Op.GT, 1), Condition("run", Op.GT, 2))),
    "band in (g|r|5)": Condition("band", Op.IN, ("g", "r", 5)),
    'run in (1|"7")': Condition("run", Op.IN, (1, "7")),
    "tags contains deep": Condition("tags", Op.CONTAINS, "deep"),
    "tags CONTAINS 3": Condition("tags", Op.CONTAINS, 3),
    "seeing exists": Condition("seeing", Op.EXISTS),
    "seeing !exists": Condition("seeing", Op.NOT_EXISTS),
    "name like raw_%": Condition("name", Op.LIKE, "raw_%"),
    "target_name=stars in M31": Condition("target_name", Op.EQ, "stars in M31"),
    'obs_title="like no other"': Condition("obs_title", Op.EQ, "like no other"),
    "obs_title!=it exists": Condition("obs_title", Op.NE, "it exists"),
}


@pytest.mark.parametrize(("text", "expected"), PARSED.items(), ids=PARSED.keys())
def test_a_filter_string_parses_to_its_tree(text, expected):
    assert parse_rucio_filter(text) == expected


REJECTED = {
    "name>raw*": "wildcards only work with = and !=",
    "name<=*.fits": "wildcards only work with = and !=",
    "run>1,run>2": "repeats 'run' with 'gt' in one group",
    "1<run<5,run>2": "repeats 'run' with 'gt' in one group",
    "created_after=2024-01-01,created_at>=2024-02-01": "repeats 'created_at' with 'gte'",
    "band in g|r": "write 'key in (a|b|c)'",
    "band in ()": "'in' needs a non-empty list of values",
    "seeing exists 3": "'exists' takes no value",
    "run=": "has no value",
    "run=1;": "has an empty group",
    "just words": "cannot read filter term",
    "9run=1": "is not a valid metadata key",
}


@pytest.mark.parametrize(("text", "message"), REJECTED.items(), ids=REJECTED.keys())
def test_a_malformed_filter_is_an_invalid_query(text, message):
    with pytest.raises(InvalidQueryError, match=re.escape(message)):
        parse_rucio_filter(text)


# --- searching -------------------------------------------------------------------------------

FIRST = {  # registered first: created before the moment BETWEEN
    "raw_1": {
        "size": 1000,
        "metadata": {
            "run": 1,
            "seeing": 0.5,
            "band": "g",
            "night": "2024-01-01T00:00:00Z",
            "tags": ["deep", "wide"],
            "flag": True,
        },
        "obscore": {"calib_level": 1, "dataproduct_type": "image"},
    },
    "raw_2": {
        "size": 2000,
        "metadata": {
            "run": 3,
            "seeing": 1.25,
            "band": "r",
            "night": "2024-06-01T12:00:00Z",
            "tags": ["wide"],
            "flag": False,
        },
        "obscore": {"calib_level": 2, "dataproduct_type": "image"},
    },
    "rawx3": {
        "size": 3000,
        "metadata": {
            "run": 5,
            "seeing": 2.0,
            "band": "i",
            "night": "2025-01-01T00:00:00Z",
            "tags": ["deep", 3],
        },
        "obscore": {"calib_level": 3, "dataproduct_type": "spectrum"},
    },
}
SECOND = {
    "cal_1": {"size": 500},
    "cal_2": {
        "size": 0,
        "metadata": {"run": "7", "band": "g"},
        "obscore": {"calib_level": 2, "dataproduct_type": "cube"},
    },
}
FILES = [*FIRST, *SECOND]
EVERYTHING = sorted([*FILES, "ds_a", "cont"])
BETWEEN: dict[str, datetime] = {}


async def populate(catalogue):
    await catalogue.register_files(
        manifest([file_record(n, **v) for n, v in FIRST.items()]), all_or_nothing=True
    )
    await asyncio.sleep(0.01)
    BETWEEN["at"] = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await catalogue.register_files(
        manifest([file_record(n, **v) for n, v in SECOND.items()]), all_or_nothing=True
    )
    await catalogue.add_collection(DIDKey("lake", "ds_a"), DIDType.DATASET, {"run": 2, "band": "r"})
    await catalogue.add_collection(DIDKey("lake", "cont"), DIDType.CONTAINER)


@pytest.fixture(scope="module", params=ENGINES)
async def lake(request, tmp_path_factory):
    """One populated catalogue per engine, shared by the read-only searches of this module."""
    async with migrated_engine(request.param, tmp_path_factory.mktemp("filters")) as engine:
        catalogue = make_catalogue(engine)
        await populate(catalogue)
        yield catalogue


async def found(catalogue, text):
    page = await catalogue.search(DIDQuery(filter=parse_rucio_filter(text), limit=100))
    assert page.total == len(page.items)
    return sorted(d.key.name for d in page.items)


FOUND = {
    # integers
    "run=3": ["raw_2"],
    "run!=3": ["cal_2", "ds_a", "raw_1", "rawx3"],
    "run<3": ["ds_a", "raw_1"],
    "run<=3": ["ds_a", "raw_1", "raw_2"],
    "run>3": ["rawx3"],
    "run>=3": ["raw_2", "rawx3"],
    "1<run<5": ["ds_a", "raw_2"],
    "1<=run<=5": ["ds_a", "raw_1", "raw_2", "rawx3"],
    # floats, and integers compared with floats
    "seeing=1.25": ["raw_2"],
    "seeing=2": ["rawx3"],
    "seeing!=0.5": ["raw_2", "rawx3"],
    "seeing<1.25": ["raw_1"],
    "seeing<=1.25": ["raw_1", "raw_2"],
    "seeing>0.5": ["raw_2", "rawx3"],
    "seeing>=2.0": ["rawx3"],
    # strings: a string never equals a number, nor a number a string
    "band=g": ["cal_2", "raw_1"],
    "band!=g": ["ds_a", "raw_2", "rawx3"],
    "band<i": ["cal_2", "raw_1"],
    "band>=i": ["ds_a", "raw_2", "rawx3"],
    "run=7": [],
    'run="7"': ["cal_2"],
    # datetimes
    "night=2025-01-01": ["rawx3"],
    "night!=2025-01-01": ["raw_1", "raw_2"],
    "night<2024-06-01T12:00:00": ["raw_1"],
    "night<=2024-06-01T12:00:00": ["raw_1", "raw_2"],
    "night>2024-03-01": ["raw_2", "rawx3"],
    "night>=2024-01-01": ["raw_1", "raw_2", "rawx3"],
    "2024-01-01<night<2025-01-01": ["raw_2"],
    # booleans are not numbers
    "flag=true": ["raw_1"],
    "flag=false": ["raw_2"],
    "flag!=true": ["raw_2"],
    "flag=1": [],
    # in
    "run in (1|5|7)": ["raw_1", "rawx3"],
    'run in (1|"7")': ["cal_2", "raw_1"],
    "band in (g|i)": ["cal_2", "raw_1", "rawx3"],
    # lists: contains looks inside, = and != do not
    "tags contains deep": ["raw_1", "rawx3"],
    "tags contains wide": ["raw_1", "raw_2"],
    "tags contains 3": ["rawx3"],
    "tags contains nothing": [],
    "tags=deep": [],
    "tags!=deep": [],
    # exists
    "seeing exists": ["raw_1", "raw_2", "rawx3"],
    "seeing !exists": ["cal_1", "cal_2", "cont", "ds_a"],
    "tags exists": ["raw_1", "raw_2", "rawx3"],
    # AND and OR
    "run>=3,band=r": ["raw_2"],
    "run>=3;band=g": ["cal_2", "raw_1", "raw_2", "rawx3"],
    "band=g,run!=1;run=5": ["cal_2", "rawx3"],
    # names: * is the wildcard and _ is literal
    "name=raw_*": ["raw_1", "raw_2"],
    "name=raw*": ["raw_1", "raw_2", "rawx3"],
    "name=*_1": ["cal_1", "raw_1"],
    "name!=raw_*": ["cal_1", "cal_2", "cont", "ds_a", "rawx3"],
    "name=raw_1": ["raw_1"],
    # DID types
    "type=FILE": sorted(FILES),
    "type=DATASET": ["ds_a"],
    "type=container": ["cont"],
    "type=COLLECTION": ["cont", "ds_a"],
    "type=ALL": EVERYTHING,
    "type in (DATASET|CONTAINER)": ["cont", "ds_a"],
    # system columns
    "bytes>=1000": ["raw_1", "raw_2", "rawx3"],
    "bytes<1000,type=FILE": ["cal_1", "cal_2"],
    "length=0": ["cont", "ds_a"],
    "scope=lake,name=cal_1": ["cal_1"],
    # ObsCore fields are typed filter keys
    "calib_level>=2": ["cal_2", "raw_2", "rawx3"],
    "calib_level=2": ["cal_2", "raw_2"],
    "calib_level in (1|3)": ["raw_1", "rawx3"],
    "dataproduct_type=image": ["raw_1", "raw_2"],
    "dataproduct_type!=image": ["cal_2", "rawx3"],
    "dataproduct_type=*e": ["cal_2", "raw_1", "raw_2"],
    "dataproduct_type exists": ["cal_2", "raw_1", "raw_2", "rawx3"],
    "dataproduct_type !exists": ["cal_1", "cont", "ds_a"],
    "access_estsize=2": ["raw_2"],
}


@pytest.mark.parametrize(("text", "expected"), FOUND.items(), ids=FOUND.keys())
async def test_a_filter_finds_exactly_its_dids(lake, text, expected):
    assert await found(lake, text) == expected


async def test_created_after_finds_what_was_registered_after(lake):
    moment = BETWEEN["at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert await found(lake, f"created_after={moment}") == ["cal_1", "cal_2", "cont", "ds_a"]


async def test_created_before_finds_what_was_registered_before(lake):
    moment = BETWEEN["at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert await found(lake, f"created_before={moment}") == ["raw_1", "raw_2", "rawx3"]


async def test_created_at_between_two_moments_finds_what_was_registered_between(lake):
    moment = BETWEEN["at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert await found(lake, f"created_at<{moment},created_at>2000-01-01") == [
        "raw_1",
        "raw_2",
        "rawx3",
    ]
    assert await found(lake, f"created_at>={moment},created_at<2100-01-01") == [
        "cal_1",
        "cal_2",
        "cont",
        "ds_a",
    ]


WRONG_TYPES = {
    "calib_level=abc": "calib_level: 'abc' is not a integer value",
    "s_ra>north": "s_ra: 'north' is not a float value",
    "dataproduct_type=3": "dataproduct_type: 3 is not a text value",
    "calib_level in (1|x)": "calib_level: 'x' is not a integer value",
    "created_at>yesterday": "created_at: 'yesterday' is not a timestamp value",
    "bytes>big": "bytes: 'big' is not a integer value",
    "calib_level=2*": "calib_level: wildcards work on text values only",
    "calib_level contains 2": "calib_level holds a single value",
    "type>DATASET": "type filters take '=' only",
    "type=BLOB": "type 'BLOB' is not one of",
}


@pytest.mark.parametrize(("text", "message"), WRONG_TYPES.items(), ids=WRONG_TYPES.keys())
async def test_a_filter_value_of_the_wrong_type_is_an_invalid_query_naming_the_key(
    lake, text, message
):
    with pytest.raises(InvalidQueryError) as caught:
        await found(lake, text)
    assert str(caught.value).startswith(message)
