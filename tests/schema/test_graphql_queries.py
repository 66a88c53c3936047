"""The Query root over HTTP: one DID with all its parts, listings, coverage, facets."""

import base64
import io
from collections import Counter
from datetime import UTC, datetime

import astropy.units as u
import pytest
from astropy.coordinates import Latitude, Longitude
from astropy.time import Time
from mocpy import MOC

from catalogue.demo import build_demo_lake
from catalogue.models import RSE, DIDKey, DIDType
from catalogue.region import parse_stcs
from tests.support.graphql import gql
from tests.support.records import file_record, register

BIG = 5_000_000_000  # beyond 2**31: only the Long scalar carries it
CIRCLE = "Circle ICRS 150 2 0.5"
MD5 = "0123456789abcdef0123456789abcdef"


async def detail_lake(catalogue):
    """lake:big.fits in dataset lake:night-1, in container lake:survey; a second small file."""
    await catalogue.add_rse(RSE("DISK", "https://disk.example.org:443/lake"))
    await catalogue.add_rse(RSE("TAPE", "root://tape.example.org:1094/lake"))
    big = file_record(
        "big.fits",
        size=BIG,
        md5=MD5,
        dataset="night-1",
        replicas=[
            {"rse": "DISK", "path": "n1/big.fits"},
            {
                "rse": "TAPE",
                "url": "root://tape.example.org:1094/archive/big.fits",
                "state": "COPYING",
            },
        ],
        metadata={
            "run": 7,
            "seeing": 0.8,
            "calibrated": True,
            "observed": "2024-03-01T12:00:00Z",
            "filters": ["g", "r"],
            "observer": "ada",
        },
        obscore={
            "dataproduct_type": "image",
            "calib_level": 2,
            "obs_collection": "TEST-SURVEY",
            "target_name": "COSMOS",
            "facility_name": "Alpha",
            "instrument_name": "CamA",
            "s_region": CIRCLE,
            "t_min": 60000.25,
            "t_max": 60000.75,
            "em_min": 4e-7,
            "em_max": 5.5e-7,
        },
    )
    small = file_record("small.fits", size=10, dataset="night-1")
    await register(catalogue, [big, small])
    await catalogue.add_collection(DIDKey("lake", "survey"), DIDType.CONTAINER)
    await catalogue.attach(DIDKey("lake", "survey"), [DIDKey("lake", "night-1")])


def did_query(selection):
    return f'{{ did(scope: "lake", name: "big.fits") {{ {selection} }} }}'


def moc_of(body, path=("did", "coverage", "moc")):
    value = body["data"]
    for key in path:
        value = value[key]
    return MOC.from_string(value, format="ascii")


async def test_did_is_a_file_with_its_size_as_long_checksums_replicas_and_parents(
    client, catalogue
):
    await detail_lake(catalogue)
    body = await gql(
        client,
        did_query(
            "__typename id scope name type ... on File { bytes adler32 md5 "
            "replicas { rse url state } } parents { __typename id }"
        ),
    )
    assert body == {
        "data": {
            "did": {
                "__typename": "File",
                "id": "lake:big.fits",
                "scope": "lake",
                "name": "big.fits",
                "type": "FILE",
                "bytes": BIG,
                "adler32": file_record("big.fits")["adler32"],
                "md5": MD5,
                "replicas": [
                    {
                        "rse": "DISK",
                        "url": "https://disk.example.org:443/lake/n1/big.fits",
                        "state": "AVAILABLE",
                    },
                    {
                        "rse": "TAPE",
                        "url": "root://tape.example.org:1094/archive/big.fits",
                        "state": "COPYING",
                    },
                ],
                "parents": [{"__typename": "Dataset", "id": "lake:night-1"}],
            }
        }
    }


async def test_did_metadata_entries_carry_their_types(client, catalogue):
    await detail_lake(catalogue)
    body = await gql(client, did_query("metadata { key value type }"))
    assert body["data"]["did"]["metadata"] == [
        {"key": "calibrated", "value": True, "type": "boolean"},
        {"key": "filters", "value": ["g", "r"], "type": "list"},
        {"key": "observed", "value": "2024-03-01T12:00:00+00:00", "type": "datetime"},
        {"key": "observer", "value": "ada", "type": "string"},
        {"key": "run", "value": 7, "type": "integer"},
        {"key": "seeing", "value": 0.8, "type": "float"},
    ]


async def test_did_obscore_fields_have_their_standard_names(client, catalogue):
    await detail_lake(catalogue)
    body = await gql(
        client,
        did_query(
            "obscore { dataproduct_type calib_level obs_collection target_name facility_name "
            "instrument_name s_ra s_dec s_fov s_region t_min t_max em_min em_max access_estsize }"
        ),
    )
    assert body["data"]["did"]["obscore"] == {
        "dataproduct_type": "image",
        "calib_level": 2,
        "obs_collection": "TEST-SURVEY",
        "target_name": "COSMOS",
        "facility_name": "Alpha",
        "instrument_name": "CamA",
        "s_ra": 150.0,
        "s_dec": 2.0,
        "s_fov": 1.0,
        "s_region": parse_stcs(CIRCLE).to_stcs(),
        "t_min": 60000.25,
        "t_max": 60000.75,
        "em_min": 4e-7,
        "em_max": 5.5e-7,
        "access_estsize": BIG // 1000,
    }


async def test_did_coverage_ascii_moc_is_the_cone_at_the_catalogue_order(client, catalogue):
    await detail_lake(catalogue)
    body = await gql(client, did_query("coverage { skyFraction order moc(format: ASCII) }"))
    moc = moc_of(body)
    coverage = body["data"]["did"]["coverage"]
    assert coverage["order"] == catalogue.moc_order
    assert moc.max_order == catalogue.moc_order
    assert coverage["skyFraction"] == pytest.approx(moc.sky_fraction, rel=1e-12)
    cone = MOC.from_cone(
        lon=Longitude(150 * u.deg),
        lat=Latitude(2 * u.deg),
        radius=0.5 * u.deg,
        max_depth=catalogue.moc_order,
    )
    assert moc == cone


async def test_did_coverage_max_order_degrades_to_a_coarser_enclosing_moc(client, catalogue):
    await detail_lake(catalogue)
    body = await gql(client, did_query("coverage { full: moc coarse: moc(maxOrder: 4) }"))
    coverage = body["data"]["did"]["coverage"]
    full = MOC.from_string(coverage["full"], format="ascii")
    coarse = MOC.from_string(coverage["coarse"], format="ascii")
    assert coarse.max_order == 4
    assert coarse == full.degrade_to_order(4)
    assert coarse.sky_fraction > full.sky_fraction


async def test_did_coverage_json_and_fits_encode_the_same_moc_as_ascii(client, catalogue):
    await detail_lake(catalogue)
    body = await gql(
        client,
        did_query(
            "coverage { ascii: moc(format: ASCII) json: moc(format: JSON) "
            "fits: moc(format: FITS_BASE64) }"
        ),
    )
    coverage = body["data"]["did"]["coverage"]
    ascii_moc = MOC.from_string(coverage["ascii"], format="ascii")
    json_moc = MOC.from_string(coverage["json"], format="json")
    fits_moc = MOC.from_fits(io.BytesIO(base64.b64decode(coverage["fits"])))
    assert json_moc == ascii_moc
    assert fits_moc == ascii_moc


async def test_did_time_range_gives_the_same_instants_as_mjd_and_iso(client, catalogue):
    await detail_lake(catalogue)
    body = await gql(client, did_query("timeRange { startMjd endMjd start end }"))
    time_range = body["data"]["did"]["timeRange"]
    assert (time_range["startMjd"], time_range["endMjd"]) == (60000.25, 60000.75)
    for mjd, iso in ((60000.25, time_range["start"]), (60000.75, time_range["end"])):
        expected = Time(mjd, format="mjd", scale="utc").to_datetime(timezone=UTC)
        assert datetime.fromisoformat(iso) == expected
    assert time_range["start"] == "2023-02-25T06:00:00+00:00"


async def test_did_spectral_range_is_in_metres(client, catalogue):
    await detail_lake(catalogue)
    body = await gql(client, did_query("spectralRange { min max }"))
    assert body["data"]["did"]["spectralRange"] == {"min": 4e-7, "max": 5.5e-7}


async def test_did_that_does_not_exist_is_null(client, catalogue):
    await detail_lake(catalogue)
    body = await gql(client, '{ did(scope: "lake", name: "nothing.fits") { id } }')
    assert body == {"data": {"did": None}}


async def test_did_of_a_dataset_sums_its_files_and_pages_them(client, catalogue):
    await detail_lake(catalogue)
    body = await gql(
        client,
        """{ did(scope: "lake", name: "night-1") {
              __typename type parents { id }
              ... on Dataset { bytes length isOpen
                files(first: 1) { totalCount edges { node { id } } pageInfo { hasNextPage } } }
        } }""",
    )
    assert body["data"]["did"] == {
        "__typename": "Dataset",
        "type": "DATASET",
        "parents": [{"id": "lake:survey"}],
        "bytes": BIG + 10,
        "length": 2,
        "isOpen": True,
        "files": {
            "totalCount": 2,
            "edges": [{"node": {"id": "lake:big.fits"}}],
            "pageInfo": {"hasNextPage": True},
        },
    }


async def test_did_of_a_container_lists_its_children_with_their_union_extent(client, catalogue):
    await detail_lake(catalogue)
    body = await gql(
        client,
        """{ did(scope: "lake", name: "survey") {
              __typename parents { id } timeRange { startMjd endMjd }
              ... on Container { length isOpen children { totalCount edges { node { id } } } }
        } }""",
    )
    assert body["data"]["did"] == {
        "__typename": "Container",
        "parents": [],
        "timeRange": {"startMjd": 60000.25, "endMjd": 60000.75},
        "length": 1,
        "isOpen": True,
        "children": {"totalCount": 1, "edges": [{"node": {"id": "lake:night-1"}}]},
    }


async def test_dataset_files_paged_one_at_a_time_visit_each_file_once(client, catalogue):
    await catalogue.add_rse(RSE("DISK", "https://disk.example.org:443/lake"))
    await register(catalogue, [file_record(f"f{i}.fits", dataset="night") for i in range(5)])
    query = """query($after: String) { did(scope: "lake", name: "night") { ... on Dataset {
        files(first: 2, after: $after) { totalCount edges { node { name } }
          pageInfo { hasNextPage endCursor } } } } }"""
    seen, after, totals = [], None, set()
    while True:
        page = (await gql(client, query, {"after": after}))["data"]["did"]["files"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        totals.add(page["totalCount"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"f{i}.fits" for i in range(5)]
    assert totals == {5}


async def test_container_children_paged_visit_each_child_once(client, catalogue):
    top = DIDKey("lake", "top")
    await catalogue.add_collection(top, DIDType.CONTAINER)
    children = [DIDKey("lake", f"c{i}") for i in range(3)]
    for child in children:
        await catalogue.add_collection(child, DIDType.DATASET)
    await catalogue.attach(top, children)
    query = """query($after: String) { did(scope: "lake", name: "top") { ... on Container {
        children(first: 2, after: $after) { edges { node { id } }
          pageInfo { hasNextPage endCursor } } } } }"""
    first = (await gql(client, query))["data"]["did"]["children"]
    after = first["pageInfo"]["endCursor"]
    second = (await gql(client, query, {"after": after}))["data"]["did"]["children"]
    assert [e["node"]["id"] for e in first["edges"] + second["edges"]] == [
        "lake:c0",
        "lake:c1",
        "lake:c2",
    ]
    assert (first["pageInfo"]["hasNextPage"], second["pageInfo"]["hasNextPage"]) == (True, False)


# -- dids: a Relay connection ---------------------------------------------------------------

PAGE = """query($filter: DIDFilterInput, $first: Int!, $after: String) {
  dids(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def test_dids_first_page_has_edges_cursors_page_info_and_the_exact_total(client, catalogue):
    await build_demo_lake(catalogue, scale=0.05)
    everything = await gql(client, PAGE, {"filter": {"types": ["FILE"]}, "first": 2000})
    page = await gql(client, PAGE, {"filter": {"types": ["FILE"]}, "first": 3})
    all_edges = everything["data"]["dids"]["edges"]
    dids = page["data"]["dids"]
    assert dids["totalCount"] == len(all_edges) == everything["data"]["dids"]["totalCount"]
    assert [e["node"]["id"] for e in dids["edges"]] == [e["node"]["id"] for e in all_edges[:3]]
    assert dids["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": dids["edges"][0]["cursor"],
        "endCursor": dids["edges"][2]["cursor"],
    }
    assert len({e["cursor"] for e in dids["edges"]}) == 3


CRAB_CONE = {"region": {"cone": {"ra": 83.63, "dec": 22.01, "radius": 3.0}}}
SELECTIONS = {"scopes": {"scopes": ["rubin", "ctao"]}, "region": CRAB_CONE}


@pytest.mark.parametrize("selection", list(SELECTIONS.values()), ids=list(SELECTIONS))
async def test_dids_paging_with_first_and_after_visits_every_match_once(
    client, catalogue, selection
):
    await build_demo_lake(catalogue, scale=0.05)
    everything = await gql(client, PAGE, {"filter": selection, "first": 2000})
    expected = [e["node"]["id"] for e in everything["data"]["dids"]["edges"]]
    seen, after = [], None
    while True:
        page = await gql(client, PAGE, {"filter": selection, "first": 17, "after": after})
        dids = page["data"]["dids"]
        assert dids["totalCount"] == len(expected)
        seen += [e["node"]["id"] for e in dids["edges"]]
        if not dids["pageInfo"]["hasNextPage"]:
            break
        after = dids["pageInfo"]["endCursor"]
    assert seen == expected
    assert len(set(seen)) == len(seen) > 17


# -- sorting ---------------------------------------------------------------------------------


async def sort_lake(catalogue):
    """Files of distinct sizes and start times (two without time), a dataset, a container.

    Registered one call at a time, so creation order is the order below.
    """
    times = {"f1": 60300.0, "f2": 60100.0, "f3": 60200.0, "f4": 60000.0}
    sizes = {"f1": 300, "f2": 100, "f3": BIG, "f4": 50, "f5": 7, "f6": 900}
    for name, size in sizes.items():
        obscore = {"t_min": times[name], "t_max": times[name] + 1} if name in times else {}
        await register(catalogue, [file_record(name, size=size, obscore=obscore)])
    await catalogue.add_collection(DIDKey("lake", "ds"), DIDType.DATASET)
    await catalogue.attach(DIDKey("lake", "ds"), [DIDKey("lake", "f2"), DIDKey("lake", "f5")])
    await catalogue.add_collection(DIDKey("lake", "box"), DIDType.CONTAINER)


# ds: bytes 107, starts at 60100 (from f2); box: no size, no time. Missing values sort last
# in both directions, and ties (f5, f6, box without time) keep creation order ascending and
# reverse it descending.
SORTED = {
    ("NAME", "ASC"): ["box", "ds", "f1", "f2", "f3", "f4", "f5", "f6"],
    ("NAME", "DESC"): ["f6", "f5", "f4", "f3", "f2", "f1", "ds", "box"],
    ("CREATED", "ASC"): ["f1", "f2", "f3", "f4", "f5", "f6", "ds", "box"],
    ("CREATED", "DESC"): ["box", "ds", "f6", "f5", "f4", "f3", "f2", "f1"],
    ("SIZE", "ASC"): ["f5", "f4", "f2", "ds", "f1", "f6", "f3", "box"],
    ("SIZE", "DESC"): ["f3", "f6", "f1", "ds", "f2", "f4", "f5", "box"],
    ("TIME", "ASC"): ["f4", "f2", "ds", "f3", "f1", "f5", "f6", "box"],
    ("TIME", "DESC"): ["f1", "f3", "ds", "f2", "f4", "box", "f6", "f5"],
}


@pytest.mark.parametrize(("field", "direction"), list(SORTED))
async def test_dids_sorted_by_each_field_and_direction_keep_the_order_across_pages(
    client, catalogue, field, direction
):
    await sort_lake(catalogue)
    query = """query($sort: SortInput, $after: String) {
      dids(sort: $sort, first: 3, after: $after) {
        edges { node { name } } pageInfo { hasNextPage endCursor } } }"""
    sort = {"field": field, "direction": direction}
    seen, after = [], None
    while True:
        dids = (await gql(client, query, {"sort": sort, "after": after}))["data"]["dids"]
        seen += [e["node"]["name"] for e in dids["edges"]]
        if not dids["pageInfo"]["hasNextPage"]:
            break
        after = dids["pageInfo"]["endCursor"]
    assert seen == SORTED[field, direction]


# -- coverage, facets, rses, scopes ------------------------------------------------------------


@pytest.mark.parametrize(
    "selection",
    [{"scopes": ["ctao"], "types": ["FILE"]}, {**CRAB_CONE, "types": ["FILE"]}],
    ids=["scopes", "region"],
)
async def test_coverage_of_a_filter_is_the_union_of_the_selected_dids_mocs(
    client, catalogue, selection
):
    await build_demo_lake(catalogue, scale=0.05)
    body = await gql(
        client,
        """query($filter: DIDFilterInput) {
          coverage(filter: $filter, maxOrder: 7) { order moc }
          dids(filter: $filter, first: 2000) { edges { node { coverage { moc } } } }
        }""",
        {"filter": selection},
    )
    mocs = [
        MOC.from_string(e["node"]["coverage"]["moc"], format="ascii")
        for e in body["data"]["dids"]["edges"]
    ]
    union = mocs[0].union(*mocs[1:]).degrade_to_order(7)
    assert len(mocs) > 10
    assert body["data"]["coverage"]["order"] == 7
    assert MOC.from_string(body["data"]["coverage"]["moc"], format="ascii") == union


FACET_NODE = """... on File { scope obscore { obs_collection facility_name calib_level
  dataproduct_type } replicas { rse } }"""


@pytest.mark.parametrize(
    "selection",
    [{"types": ["FILE"], "scopes": ["ctao", "xmm", "lofar"]}, {**CRAB_CONE, "types": ["FILE"]}],
    ids=["scopes", "region"],
)
async def test_facets_count_the_values_the_listing_shows(client, catalogue, selection):
    await build_demo_lake(catalogue, scale=0.05)
    body = await gql(
        client,
        f"""query($filter: DIDFilterInput) {{
          facets(fields: [SCOPE, COLLECTION, FACILITY, CALIB_LEVEL, DATAPRODUCT_TYPE, RSE],
                 filter: $filter, limit: 100) {{ field values {{ value count }} }}
          dids(filter: $filter, first: 2000) {{ edges {{ node {{ {FACET_NODE} }} }} }}
        }}""",
        {"filter": selection},
    )
    nodes = [e["node"] for e in body["data"]["dids"]["edges"]]

    def counts(values):
        return dict(Counter(str(v) for v in values if v is not None))

    expected = {
        "SCOPE": counts(n["scope"] for n in nodes),
        "COLLECTION": counts(n["obscore"]["obs_collection"] for n in nodes),
        "FACILITY": counts(n["obscore"]["facility_name"] for n in nodes),
        "CALIB_LEVEL": counts(n["obscore"]["calib_level"] for n in nodes),
        "DATAPRODUCT_TYPE": counts(n["obscore"]["dataproduct_type"] for n in nodes),
        "RSE": counts(r for n in nodes for r in {r["rse"] for r in n["replicas"]}),
    }
    facets = {
        f["field"]: {v["value"]: v["count"] for v in f["values"]} for f in body["data"]["facets"]
    }
    assert facets == expected
    assert len(nodes) > 10


async def test_facets_by_type_count_every_kind_of_did(client, catalogue):
    await build_demo_lake(catalogue, scale=0.05)
    body = await gql(
        client,
        """{ facets(fields: [TYPE]) { field values { value count } }
             dids(first: 2000) { edges { node { type } } } }""",
    )
    types = Counter(e["node"]["type"] for e in body["data"]["dids"]["edges"])
    assert body["data"]["facets"] == [
        {
            "field": "TYPE",
            "values": [{"value": t, "count": n} for t, n in types.most_common()],
        }
    ]
    assert set(types) == {"FILE", "DATASET", "CONTAINER"}


async def test_rses_and_scopes_list_what_is_registered(client, catalogue):
    await catalogue.add_rse(RSE("TAPE", "root://tape.example.org:1094/lake", "CHEAP"))
    await catalogue.add_rse(RSE("DISK", "https://disk.example.org:443/lake", read_only=True))
    await register(catalogue, [file_record("a", scope="sim"), file_record("b", scope="lake")])
    body = await gql(client, "{ rses { name baseUrl qosClass deterministic readOnly } scopes }")
    assert body == {
        "data": {
            "rses": [
                {
                    "name": "DISK",
                    "baseUrl": "https://disk.example.org:443/lake",
                    "qosClass": None,
                    "deterministic": True,
                    "readOnly": True,
                },
                {
                    "name": "TAPE",
                    "baseUrl": "root://tape.example.org:1094/lake",
                    "qosClass": "CHEAP",
                    "deterministic": True,
                    "readOnly": False,
                },
            ],
            "scopes": ["lake", "sim"],
        }
    }
