"""Nested fields are batched by the request's DataLoaders: no query per listed DID.

Statements are counted with SQLAlchemy's ``before_cursor_execute`` event on every engine
while one request runs; the test's own catalogue is idle meanwhile, so every statement
counted is the app's.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from catalogue.models import RSE, DIDKey, DIDType
from tests.support.graphql import gql
from tests.support.records import file_record, register, square

DATASETS = 20
FILES_PER_DATASET = 6


@contextmanager
def counting_statements() -> Iterator[list[str]]:
    """The SQL statements sent to any database while the block runs."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


@pytest.fixture
async def lake(catalogue):
    """Datasets of files in a container; every DID has metadata, files replicas and sky."""
    for name in ("DISK", "TAPE"):
        await catalogue.add_rse(RSE(name, f"https://{name.lower()}.example.org:443/lake"))
    records = [
        file_record(
            f"d{d:02d}-f{f}.fits",
            dataset=f"d{d:02d}",
            metadata={"run": d, "band": "r"},
            replicas=[{"rse": "DISK"}, {"rse": "TAPE"}],
            obscore={
                "calib_level": 2,
                "s_region": square(10.0 * d, 5.0 * f - 10.0, 0.2),
                "t_min": 60000.0 + d,
                "t_max": 60000.5 + d,
                "em_min": 5e-7,
                "em_max": 6e-7,
            },
        )
        for d in range(DATASETS)
        for f in range(FILES_PER_DATASET)
    ]
    await register(catalogue, records)
    datasets = [DIDKey("lake", f"d{d:02d}") for d in range(DATASETS)]
    for key in datasets:
        await catalogue.set_metadata(key, {"night": key.name})
    await catalogue.add_collection(DIDKey("lake", "survey"), DIDType.CONTAINER)
    await catalogue.attach(DIDKey("lake", "survey"), datasets)


PARTS = """id metadata { key value type } obscore { calib_level s_ra t_min }
  coverage { skyFraction moc(maxOrder: 3) } timeRange { startMjd } spectralRange { min }
  parents { id }"""

FILES = f"""query($n: Int!) {{ dids(filter: {{types: [FILE]}}, first: $n) {{
  totalCount edges {{ node {{ {PARTS} ... on File {{ bytes replicas {{ rse url state }} }} }} }}
}} }}"""

DATASETS_WITH_FILES = f"""query($n: Int!) {{ dids(filter: {{types: [DATASET]}}, first: $n) {{
  edges {{ node {{ {PARTS} ... on Dataset {{ bytes
    files(first: 5) {{ totalCount edges {{ node {{ id ... on File {{ replicas {{ rse }} }} }} }} }}
  }} }} }}
}} }}"""


async def statements_for(client, query, n):
    with counting_statements() as statements:
        body = await gql(client, query, {"n": n})
    assert "errors" not in body, body
    assert len(body["data"]["dids"]["edges"]) == n
    return statements


@pytest.mark.usefixtures("lake")
async def test_listing_files_with_all_their_parts_takes_the_same_statements_for_any_page(client):
    five = await statements_for(client, FILES, 5)
    twenty = await statements_for(client, FILES, 20)
    # the page and its total, then one batch each: replicas, parents, metadata, obscore, extents
    assert len(twenty) == len(five) == 7


@pytest.mark.usefixtures("lake")
async def test_listing_datasets_costs_one_files_page_per_dataset_and_nothing_else_per_row(
    client,
):
    five = await statements_for(client, DATASETS_WITH_FILES, 5)
    twenty = await statements_for(client, DATASETS_WITH_FILES, 20)
    # Each dataset's ``files`` connection is its own search (its page and its total: two
    # statements), as Relay connections are; everything else, including the replicas of
    # every listed file, is one batch per part whatever the page size.
    files_page = 2
    assert len(twenty) - len(five) == (20 - 5) * files_page


def did_lookups(n):
    return (
        "{ "
        + " ".join(f'd{d}: did(scope: "lake", name: "d{d:02d}") {{ {PARTS} }}' for d in range(n))
        + " }"
    )


@pytest.mark.usefixtures("lake")
async def test_looking_up_several_dids_by_name_takes_the_same_statements_for_any_number(client):
    counts = []
    for n in (3, 12):
        with counting_statements() as statements:
            body = await gql(client, did_lookups(n))
        assert "errors" not in body, body
        assert all(body["data"][f"d{d}"] for d in range(n))
        counts.append(len(statements))
    # the DIDs by name, then one batch each: metadata, obscore, extents, parents
    assert counts == [5, 5]
