"""Client errors in queries: a top-level error naming the input field, never a 500."""

import pytest

from tests.support.graphql import gql
from tests.support.records import file_record, register

DIDS = """query($filter: DIDFilterInput, $first: Int! = 10, $after: String) {
  dids(filter: $filter, first: $first, after: $after) { totalCount } }"""


def refusal(body):
    """The one error of a refused query, after checking nothing was answered."""
    assert body["data"] is None, body
    assert len(body["errors"]) == 1, body
    return body["errors"][0]


def assert_names_field(body, field, path="dids"):
    error = refusal(body)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert error["message"].startswith(f"{field}: ")
    assert error["path"] == [path]


CASES = {
    "cone-radius": (
        {"region": {"cone": {"ra": 10, "dec": 10, "radius": -1}}},
        "filter.region.cone",
    ),
    "cone-position": (
        {"region": {"cone": {"ra": 10, "dec": 95, "radius": 1}}},
        "filter.region.cone",
    ),
    "polygon-odd-vertices": (
        {"region": {"polygon": {"vertices": [1, 2, 3, 4, 5]}}},
        "filter.region.polygon.vertices",
    ),
    "polygon-two-vertices": (
        {"region": {"polygon": {"vertices": [1, 2, 3, 4]}}},
        "filter.region.polygon",
    ),
    "two-region-kinds": (
        {"region": {"moc": "3/1", "cone": {"ra": 10, "dec": 10, "radius": 1}}},
        "filter.region",
    ),
    "no-region-kind": ({"region": {"intersect": "COVERS"}}, "filter.region"),
    "moc": ({"region": {"moc": "junk/x"}}, "filter.region.moc"),
    "moc-json": ({"region": {"moc": '{"31": [1]}'}}, "filter.region.moc"),
    "time-start": ({"time": {"start": "yesterday"}}, "filter.time.start"),
    "time-end": ({"time": {"end": "2024-13-01T00:00:00"}}, "filter.time.end"),
    "spectral-band-and-range": (
        {"spectral": {"band": "RADIO", "min": 1.0}},
        "filter.spectral",
    ),
    "rucio-filter-term": ({"rucioFilter": "run"}, "filter.rucioFilter"),
    "rucio-filter-empty-group": ({"rucioFilter": "run>5;"}, "filter.rucioFilter"),
    "metadata-two-kinds": (
        {"metadata": {"condition": {"key": "run", "op": "EXISTS"}, "all": []}},
        "filter.metadata",
    ),
    "metadata-empty-group": ({"metadata": {"any": []}}, "filter.metadata.any"),
    "metadata-nested": (
        {"metadata": {"all": [{"condition": {"key": "bad key", "op": "EXISTS"}}]}},
        "filter.metadata.all[0].condition",
    ),
    "metadata-in-without-values": (
        {"metadata": {"condition": {"key": "run", "op": "IN"}}},
        "filter.metadata.condition",
    ),
    "metadata-missing-value": (
        {"metadata": {"condition": {"key": "run", "op": "GT"}}},
        "filter.metadata.condition.value",
    ),
    "metadata-object-value": (
        {"metadata": {"condition": {"key": "run", "op": "EQ", "value": {"a": 1}}}},
        "filter.metadata.condition.value",
    ),
}


@pytest.mark.parametrize(("selection", "field"), list(CASES.values()), ids=list(CASES))
async def test_invalid_filter_is_refused_naming_the_field(client, selection, field):
    body = await gql(client, DIDS, {"filter": selection})
    assert_names_field(body, field)


async def test_band_outside_the_enum_is_refused_naming_where_it_is(client):
    body = await gql(client, DIDS, {"filter": {"spectral": {"band": "BLUE"}}})
    error = refusal(body)
    assert error["message"] == (
        "Variable '$filter' has invalid value at .spectral.band: "
        "Value 'BLUE' does not exist in 'Band' enum."
    )


async def test_first_above_the_page_cap_is_refused_naming_first(client):
    body = await gql(client, DIDS, {"first": 5000})
    assert_names_field(body, "first")
    assert refusal(body)["message"] == "first: must be between 0 and 2000"


async def test_negative_first_is_refused_naming_first(client):
    assert_names_field(await gql(client, DIDS, {"first": -1}), "first")


async def test_garbage_cursor_is_refused_naming_after(client):
    body = await gql(client, DIDS, {"after": "not-a-cursor"})
    assert_names_field(body, "after")
    assert refusal(body)["message"] == "after: the cursor is not one this service issued"


async def test_cursor_from_another_query_is_refused_naming_after(client, catalogue):
    await register(catalogue, [file_record(f"f{i}") for i in range(3)])
    page = await gql(
        client,
        """{ dids(filter: {types: [FILE]}, first: 1) { pageInfo { endCursor } } }""",
    )
    cursor = page["data"]["dids"]["pageInfo"]["endCursor"]
    body = await gql(client, DIDS, {"filter": {"scopes": ["lake"]}, "after": cursor})
    assert_names_field(body, "after")
    assert refusal(body)["message"] == (
        "after: the cursor belongs to a query with other arguments; "
        "repeat the arguments of the query that returned it"
    )


async def test_cursor_of_a_listing_is_refused_by_a_dataset_files_page(client, catalogue):
    await register(catalogue, [file_record(f"f{i}", dataset="night") for i in range(3)])
    page = await gql(client, "{ dids(first: 1) { pageInfo { endCursor } } }")
    cursor = page["data"]["dids"]["pageInfo"]["endCursor"]
    body = await gql(
        client,
        """query($after: String) { did(scope: "lake", name: "night") {
             ... on Dataset { files(after: $after) { totalCount } } } }""",
        {"after": cursor},
    )
    assert body["data"] == {"did": None}
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}
    assert error["path"] == ["did", "files"]


async def test_coverage_max_order_out_of_range_is_refused_naming_it(client):
    body = await gql(client, "{ coverage(maxOrder: 30) { order } }")
    assert_names_field(body, "maxOrder", path="coverage")


async def test_coverage_with_an_invalid_filter_is_refused_naming_the_field(client):
    body = await gql(client, '{ coverage(filter: {rucioFilter: "run"}) { order } }')
    assert_names_field(body, "filter.rucioFilter", path="coverage")


async def test_facets_limit_out_of_range_is_refused_naming_it(client):
    body = await gql(client, "{ facets(fields: [SCOPE], limit: 0) { field } }")
    assert_names_field(body, "limit", path="facets")


BAD_REQUESTS = [
    {"json": {"query": DIDS, "variables": {"filter": selection}}} for selection, _ in CASES.values()
] + [
    {"json": {"query": DIDS, "variables": {"after": "garbage"}}},
    {"json": {"query": DIDS, "variables": {"first": 5000}}},
    {"json": {"query": "{ dids( }"}},
    {"json": {"query": "{ nothing }"}},
    {"json": {}},
    {"content": b"{not json", "headers": {"content-type": "application/json"}},
    {"json": {"query": 'mutation { createDataset(scope: "no scope", name: "x") { __typename } }'}},
    {"json": {"query": 'mutation { attach(parent: "x", children: []) { __typename } }'}},
]


async def test_no_bad_request_is_a_server_error_or_shows_a_traceback(client):
    for request in BAD_REQUESTS:
        response = await client.post("/graphql", **request)
        assert response.status_code in (200, 400), (request, response.text)
        assert "Traceback" not in response.text, response.text
        assert "Unexpected error" not in response.text, response.text
        assert 'File "' not in response.text, response.text
