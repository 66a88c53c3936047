"""Every example of docs/graphql.md runs, in order, against a small demo lake, and answers.

A ```graphql block is an example; a ```json block right after it (nothing but blank lines
between) holds its variables. ``<!-- expect-error -->`` before a block marks an example that
fails on purpose: a query must then answer with top-level errors, a mutation with an error
member of its result union (or ``ok: false``). Every other query must answer without errors
and with data, every other mutation with its success type. A paging example (an ``after``
variable) is followed page by page to its end.

The examples run once per module over their own SQLite database (the GraphQL layer is the
same on both engines); each test then checks one answer, so the pipeline examples, which
build on each other, run in document order however the tests are selected.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLInterfaceType,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    parse,
)
from mocpy import MOC

from catalogue.demo import build_demo_lake
from catalogue.query import MAX_PAGE
from catalogue.service import Catalogue
from catalogue.store.engine import create_engine, create_sessions, migrate
from schema.graphql import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from schema.limits import MAX_NODES
from tests.support.app_client import app_client
from tests.support.auth import bearer, local_settings

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "graphql.md"
SDL = ROOT / "schema" / "schema.graphql"
EXPECT_ERROR = "<!-- expect-error -->"
SCALE = 0.05
MAX_FOLLOWED_PAGES = 50

_FENCE = re.compile(
    r"^```(?P<lang>[\w-]*)[^`\n]*\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL
)


def _user_errors() -> frozenset[str]:
    """The error members of the mutation unions: what implements UserError in the SDL."""
    sdl = build_schema(SDL.read_text())
    interface = sdl.get_type("UserError")
    assert isinstance(interface, GraphQLInterfaceType)
    return frozenset(t.name for t in sdl.get_possible_types(interface))


USER_ERRORS = _user_errors()


@dataclass(frozen=True)
class Example:
    """One ```graphql block of the document, with its variables."""

    line: int
    query: str
    variables: dict[str, Any] | None
    expect_error: bool

    @property
    def operation(self) -> OperationDefinitionNode:
        found = [d for d in parse(self.query).definitions if isinstance(d, OperationDefinitionNode)]
        assert len(found) == 1, f"line {self.line}: one operation per example"
        return found[0]

    @property
    def is_mutation(self) -> bool:
        return self.operation.operation is OperationType.MUTATION

    @property
    def label(self) -> str:
        name = self.operation.name
        return f"line{self.line}-{name.value if name else 'anonymous'}"


def read_examples(text: str) -> list[Example]:
    """The examples of a Markdown text, in order."""
    blocks = list(_FENCE.finditer(text))
    examples = []
    for i, block in enumerate(blocks):
        if block.group("lang") != "graphql":
            continue
        before = text[blocks[i - 1].end() if i else 0 : block.start()]
        variables = None
        after = blocks[i + 1] if i + 1 < len(blocks) else None
        if (
            after is not None
            and after.group("lang") == "json"
            and not text[block.end() : after.start()].strip()
        ):
            variables = json.loads(after.group("body"))
            assert isinstance(variables, dict)
            assert not {"data", "errors"} & set(variables), "an answer is not variables"
        examples.append(
            Example(
                line=text.count("\n", 0, block.start()) + 1,
                query=block.group("body"),
                variables=variables,
                expect_error=EXPECT_ERROR in before,
            )
        )
    return examples


EXAMPLES = read_examples(DOC.read_text())


@dataclass
class Answer:
    """What the server said to one example: the HTTP status, the body, any further pages."""

    status: int
    body: dict[str, Any]
    pages: list[dict[str, Any]] = field(default_factory=list)


def _connections(value: Any) -> Iterator[dict[str, Any]]:
    """Every connection (an object with edges) in an answer."""
    if isinstance(value, dict):
        if isinstance(value.get("edges"), list):
            yield value
        for item in value.values():
            yield from _connections(item)
    elif isinstance(value, list):
        for item in value:
            yield from _connections(item)


def _typed(value: Any) -> Iterator[dict[str, Any]]:
    """Every object in an answer that says its ``__typename``."""
    if isinstance(value, dict):
        if "__typename" in value:
            yield value
        for item in value.values():
            yield from _typed(item)
    elif isinstance(value, list):
        for item in value:
            yield from _typed(item)


async def _post(client: httpx.AsyncClient, query: str, variables: Any) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, "variables": variables})


async def _follow_pages(client: httpx.AsyncClient, example: Example, answer: Answer) -> None:
    """For a paging example (an ``after`` variable), fetch the next pages by endCursor."""
    variables = dict(example.variables or {})
    body = answer.body
    for _ in range(MAX_FOLLOWED_PAGES):
        (top,) = body["data"].values()
        if not top["pageInfo"]["hasNextPage"]:
            return
        variables["after"] = top["pageInfo"]["endCursor"]
        reply = await _post(client, example.query, variables)
        assert reply.status_code == 200
        body = reply.json()
        answer.pages.append(body)
    pytest.fail(f"line {example.line}: more than {MAX_FOLLOWED_PAGES} pages")


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The app over its own small demo lake, for this module only."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('graphql_docs') / 'lake.sqlite'}"
    engine = create_engine(url)
    try:
        await migrate(engine)
        summary = await build_demo_lake(Catalogue(create_sessions(engine)), scale=SCALE)
        assert (summary.failed, summary.problems) == (0, [])
    finally:
        await engine.dispose()
    settings = local_settings(tmp_path_factory.mktemp("graphql_docs_auth"), database_url=url)
    async with app_client(settings, headers=bearer(settings), run_migrations=True) as http:
        yield http


@pytest.fixture(scope="module")
async def answers(client: httpx.AsyncClient) -> list[Answer]:
    """Every example's answer, asked in document order."""
    found = []
    for example in EXAMPLES:
        reply = await _post(client, example.query, example.variables)
        answer = Answer(reply.status_code, reply.json())
        if (
            example.variables is not None
            and "after" in example.variables
            and not answer.body.get("errors")
        ):
            await _follow_pages(client, example, answer)
        found.append(answer)
    return found


def test_the_document_has_examples_for_every_kind_of_user():
    assert len(EXAMPLES) == DOC.read_text().count("\n```graphql\n")
    assert len(EXAMPLES) >= 20
    assert any(e.is_mutation for e in EXAMPLES)
    assert any(e.expect_error and not e.is_mutation for e in EXAMPLES)
    assert any(e.expect_error and e.is_mutation for e in EXAMPLES)
    assert len({e.label for e in EXAMPLES}) == len(EXAMPLES), "operation names repeat"


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[e.label for e in EXAMPLES])
def test_example_answers_as_the_document_says(index: int, answers: list[Answer]):
    example, answer = EXAMPLES[index], answers[index]
    where = f"docs/graphql.md line {example.line}"
    assert answer.status == 200, (where, answer.body)
    body = answer.body
    if example.expect_error and not example.is_mutation:
        assert body.get("errors"), (where, "should fail", body)
        assert all("code" in (e.get("extensions") or {}) for e in body["errors"]), body
        return
    assert "errors" not in body, (where, body["errors"])
    data = body["data"]
    if example.is_mutation:
        _check_mutation(where, example, data)
    else:
        _check_query(where, data)
    for page in answer.pages:
        assert "errors" not in page, (where, page["errors"])


def _check_query(where: str, data: dict[str, Any]) -> None:
    """Each top-level field answers something, and each connection in it has edges."""
    for name, value in data.items():
        assert value not in (None, [], {}), (where, f"{name} is empty")
        if isinstance(value, dict) and "totalCount" in value:
            assert value["totalCount"] > 0, (where, f"{name} found nothing")
        if isinstance(value, dict) and "skyFraction" in value:
            assert value["skyFraction"] > 0, (where, f"{name} covers nothing")
    for connection in _connections(data):
        assert connection["edges"], (where, "a connection without edges teaches nothing")


def _check_mutation(where: str, example: Example, data: dict[str, Any]) -> None:
    """Each result says what it is; the example succeeds, or fails as it means to."""
    for name, value in data.items():
        assert isinstance(value, dict), (where, name)
        assert "__typename" in value or "ok" in value, (where, f"{name}: ask for __typename")
    refusals = [t for t in _typed(data) if t["__typename"] in USER_ERRORS]
    refusals += [v for v in data.values() if v.get("ok") is False]
    if example.expect_error:
        assert refusals, (where, "should fail", data)
        for refusal in refusals:
            messages = [i.get("message") for i in refusal.get("items", [])]
            assert refusal.get("message") or any(messages), (where, refusal)
    else:
        assert not refusals, (where, refusals)


def test_paging_example_pages_through_every_match(answers: list[Answer]):
    paged = [
        (e, a) for e, a in zip(EXAMPLES, answers, strict=True) if "after" in (e.variables or {})
    ]
    assert paged
    for _, answer in paged:
        tops = [next(iter(b["data"].values())) for b in (answer.body, *answer.pages)]
        (total,) = {top["totalCount"] for top in tops}
        ids = [edge["node"]["id"] for top in tops for edge in top["edges"]]
        assert len(answer.pages) >= 1
        assert len(ids) == len(set(ids)) == total


def test_coverage_example_reads_with_mocpy(answers: list[Answer]):
    mocs = [
        a.body["data"]["coverage"]["moc"]
        for e, a in zip(EXAMPLES, answers, strict=True)
        if not e.is_mutation and "moc" in ((a.body.get("data") or {}).get("coverage") or {})
    ]
    assert mocs
    for text in mocs:
        moc = MOC.from_str(text)
        assert 0 < moc.sky_fraction < 1


def test_the_documented_limits_are_the_code_s():
    text = DOC.read_text()
    for number in (MAX_PAGE, MAX_DEPTH, MAX_TOKENS, MAX_ALIASES):
        assert f"| {number} " in text or f" {number} (" in text or f"to {number} " in text, number
    assert f"{MAX_NODES:,}" in text


async def test_graphiql_is_served_to_browsers(client: httpx.AsyncClient):
    reply = await client.get("/graphql", headers={"Accept": "text/html"})
    assert reply.status_code == 200
    assert "graphiql" in reply.text.lower()
