"""Requests too large or too expensive to answer are refused before anything is read."""

from catalogue.models import DIDKey, DIDType
from schema.graphql import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from schema.limits import MAX_NODES
from tests.support.graphql import gql

NESTED = """{ dids(first: 500) { edges { node { ... on Dataset {
  files(first: 500) { edges { node { id } } } } } } } }"""
TOO_EXPENSIVE = {
    "message": f"this request could return 250500 DIDs through its (nested) pages; "
    f"the limit is {MAX_NODES}. Ask for smaller pages.",
    "extensions": {"code": "QUERY_TOO_EXPENSIVE"},
}


def refusal(body):
    """The one error of a refused request, without its location."""
    assert body["data"] is None, body
    (error,) = body["errors"]
    return {k: v for k, v in error.items() if k != "locations"}


async def test_query_deeper_than_the_limit_is_refused(client):
    nested = "id"
    for _ in range(MAX_DEPTH):
        nested = f"parents {{ {nested} }}"
    body = await gql(client, f'{{ did(scope: "lake", name: "x") {{ {nested} }} }}')
    assert refusal(body) == {
        "message": f"'anonymous' exceeds maximum operation depth of {MAX_DEPTH}",
        "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
    }


async def test_query_at_the_depth_limit_is_answered(client):
    nested = "id"
    for _ in range(MAX_DEPTH - 1):
        nested = f"parents {{ {nested} }}"
    body = await gql(client, f'{{ did(scope: "lake", name: "x") {{ {nested} }} }}')
    assert body == {"data": {"did": None}}


async def test_query_with_more_tokens_than_the_limit_is_refused(client):
    body = await gql(client, "{ " + "scopes " * MAX_TOKENS + "}")
    assert refusal(body) == {
        "message": f"Syntax Error: Document contains more than {MAX_TOKENS} tokens. "
        "Parsing aborted.",
        "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
    }


async def test_query_with_more_aliases_than_the_limit_is_refused(client):
    aliases = " ".join(f"a{i}: scopes" for i in range(MAX_ALIASES + 1))
    body = await gql(client, f"{{ {aliases} }}")
    assert refusal(body) == {
        "message": f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}",
        "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
    }


async def test_nested_pages_beyond_the_node_limit_are_refused(client):
    assert refusal(await gql(client, NESTED)) == TOO_EXPENSIVE


async def test_nested_pages_sized_by_variables_are_refused(client):
    query = """query($n: Int!) { dids(first: $n) { edges { node { ... on Dataset {
      files(first: $n) { edges { node { id } } } } } } } }"""
    assert refusal(await gql(client, query, {"n": 500})) == TOO_EXPENSIVE


async def test_nested_pages_sized_by_variable_defaults_are_refused(client):
    query = """query($n: Int! = 500) { dids(first: $n) { edges { node { ... on Dataset {
      files(first: $n) { edges { node { id } } } } } } } }"""
    assert refusal(await gql(client, query)) == TOO_EXPENSIVE


async def test_nested_pages_inside_named_fragments_are_refused(client):
    query = """{ dids(first: 500) { edges { node { ...Files } } } }
      fragment Files on Dataset { files(first: 500) { edges { node { id } } } }"""
    assert refusal(await gql(client, query)) == TOO_EXPENSIVE


async def test_nested_pages_within_the_node_limit_are_answered(client):
    query = """{ dids(first: 100) { totalCount edges { node { ... on Dataset {
      files(first: 100) { totalCount } } } } } }"""
    assert await gql(client, query) == {"data": {"dids": {"totalCount": 0, "edges": []}}}


async def test_page_larger_than_the_page_cap_is_refused(client):
    body = await gql(client, "{ dids(first: 2001) { totalCount } }")
    assert refusal(body) == {
        "message": "first: must be between 0 and 2000",
        "path": ["dids"],
        "extensions": {"code": "BAD_USER_INPUT", "field": "first"},
    }


async def test_page_of_files_larger_than_the_page_cap_is_refused(client, catalogue):
    await catalogue.add_collection(DIDKey("lake", "night"), DIDType.DATASET)
    body = await gql(
        client,
        '{ did(scope: "lake", name: "night") { '
        "... on Dataset { files(first: 2001) { totalCount } } } }",
    )
    assert body["data"] == {"did": None}
    (error,) = body["errors"]
    assert {k: v for k, v in error.items() if k != "locations"} == {
        "message": "first: must be between 0 and 2000",
        "path": ["did", "files"],
        "extensions": {"code": "BAD_USER_INPUT", "field": "first"},
    }
