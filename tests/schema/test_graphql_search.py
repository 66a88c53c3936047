"""The GraphQL ``search`` field over the relational backend (the embedded default).

The shared cases in tests/search check the backends' semantics; these check the field:
arguments reach the port, hits resolve to the store's DIDs, pages chain, errors name the
argument.
"""

from __future__ import annotations

from typing import Any

import httpx

from catalogue.service import Catalogue
from tests.search.cases import CRAB_NEBULA, build_search_lake
from tests.support.graphql import gql

SEARCH = """
query($text: String, $first: Int!, $after: String, $filter: DIDFilterInput) {
  search(text: $text, first: $first, after: $after, filter: $filter,
         facets: [SCOPE, FACILITY], sort: NAME) {
    total totalExact backend nextCursor
    hits { score did { scope name __typename } }
    facets { field values { value count } }
  }
}
"""


async def _search(client: httpx.AsyncClient, **variables: Any) -> dict[str, Any]:
    body = await gql(client, SEARCH, {"first": 20, **variables})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["search"]
    return result


async def test_text_search_returns_the_stores_dids_with_facets(
    client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    await build_search_lake(catalogue)
    result = await _search(client, text="crab nebula", first=100)
    names = {f"{h['did']['scope']}:{h['did']['name']}" for h in result["hits"]}
    assert names == set(CRAB_NEBULA)
    assert result["total"] == len(CRAB_NEBULA)
    assert result["totalExact"] is True
    assert result["backend"] == "relational"
    scopes = {
        v["value"]: v["count"]
        for f in result["facets"]
        if f["field"] == "SCOPE"
        for v in f["values"]
    }
    assert sum(scopes.values()) == len(CRAB_NEBULA)
    assert {h["did"]["__typename"] for h in result["hits"]} <= {"File", "Dataset", "Container"}


async def test_pages_chain_with_the_cursor(client: httpx.AsyncClient, catalogue: Catalogue) -> None:
    await build_search_lake(catalogue)
    everything = await _search(client, text="crab nebula", first=100)
    seen: list[str] = []
    after = None
    while True:
        page = await _search(client, text="crab nebula", first=4, after=after)
        seen += [f"{h['did']['scope']}:{h['did']['name']}" for h in page["hits"]]
        after = page["nextCursor"]
        if after is None:
            break
    assert seen == [f"{h['did']['scope']}:{h['did']['name']}" for h in everything["hits"]]


async def test_bad_arguments_are_errors_naming_them(
    client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    await build_search_lake(catalogue)
    body = await gql(client, SEARCH, {"first": 5, "text": 'crab "nebula'})
    assert body["data"] is None
    assert "text" in body["errors"][0]["message"]
    assert "quote" in body["errors"][0]["message"]
    other = await _search(client, text="crab", first=2)
    body = await gql(client, SEARCH, {"first": 2, "text": "lofar", "after": other["nextCursor"]})
    assert "after" in body["errors"][0]["message"]
    body = await gql(client, SEARCH, {"first": 5000, "text": "crab"})
    assert "first" in body["errors"][0]["message"]
