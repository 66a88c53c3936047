"""The Elasticsearch backend (indexer/) against osmem-server, on both store engines.

Every shared search case runs here after the lake is indexed through the outbox worker, and
must answer as the relational backend does; then what only the index has: the worker's
retries, deletions, the rebuild's alias swap, and the filter language's translation.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from click.testing import CliRunner

from catalogue.errors import InvalidQueryError
from catalogue.filters import parse_rucio_filter
from catalogue.harvest import HarvestedRecord, SourceKind, SourceSpec
from catalogue.models import DIDKey, DIDType
from catalogue.query import DIDQuery, RegionFilter
from catalogue.region import Circle
from catalogue.search import SearchFacet, SearchQuery, SearchSort, TextQuery
from catalogue.store import tables as t
from catalogue.store.engine import create_sessions
from catalogue.store.filter_sql import filter_clause
from catalogue.store.queries import base_query
from catalogue.store.search_sql import RelationalSearch
from indexer.backend import ElasticsearchSearch
from indexer.client import create_client
from indexer.filter_es import filter_query, like_to_wildcard
from indexer.mapping import building_alias
from indexer.query import region_clause
from indexer.worker import RebuildRunningError
from schema.cli import main
from tests.catalogue.test_filters import FOUND, WRONG_TYPES, populate
from tests.conftest import ENGINES, make_catalogue, migrated_engine
from tests.search.cases import CASES, build_search_lake, check_case
from tests.search.conftest_es import URL_VARIABLE, IndexedLake, es_settings, make_worker
from tests.support.records import file_record, register, square

# --- the shared cases, indexed through the outbox ---------------------------------------------


@pytest.fixture(scope="module", params=ENGINES)
async def case_lake(request, tmp_path_factory, es_client):
    """The shared lake on each engine, written after the index exists, indexed by the worker."""
    alias = f"lakecat-test-cases-{request.param}-{id(request)}"
    async with migrated_engine(request.param, tmp_path_factory.mktemp("es-cases")) as engine:
        sessions = create_sessions(engine)
        worker = make_worker(sessions, es_client, alias)
        await worker.ensure_index()  # empty: everything below reaches it through the outbox
        await build_search_lake(make_catalogue(engine))
        assert await worker.drain() > 0
        yield IndexedLake(
            sessions,
            worker,
            ElasticsearchSearch(es_client, sessions, alias),
            RelationalSearch(sessions),
        )
    await es_client.options(ignore_status=404).indices.delete(index=f"{alias}-*")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_elasticsearch_answers_every_shared_case(case_lake, case):
    await check_case(case_lake.elasticsearch, case)


async def test_a_rebuilt_index_holds_the_same_documents_as_the_outbox_wrote(case_lake, es_client):
    async def documents():
        response = await es_client.search(index=case_lake.worker.alias, size=500, sort=["did_id"])
        return [(h["_id"], h["_source"]) for h in response.body["hits"]["hits"]]

    written = await documents()
    await case_lake.worker.rebuild()
    assert await documents() == written


async def es_ids(lake, query):
    """Every hit's DID id, paging through with the cursor."""
    ids, cursor = [], None
    while True:
        page = await lake.elasticsearch.search(
            SearchQuery(**{**query, "limit": 7, "after": cursor})
        )
        ids += [h.did_id for h in page.hits]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


async def sql_filter_ids(lake, text):
    f = parse_rucio_filter(text)
    async with lake.sessions() as session:
        rows = await session.scalars(base_query(DIDQuery(filter=f), t.did.c.id))
        return sorted(rows)


# --- the filter language: the same DIDs as the store's SQL ------------------------------------

EXTRA_FILTERS = [
    # collections match ObsCore conditions through their members' values
    "calib_level=2",
    "calib_level!=2",
    "calib_level!=1",
    "calib_level<2",
    "dataproduct_type=image",
    "dataproduct_type!=image",
    "dataproduct_type=im*",
    "dataproduct_type!=im*",
    "dataproduct_type !exists",
    "dataproduct_type exists",
    "calib_level in (2|3)",
    # metadata wildcards; booleans are the text "true"/"false" to the store's not-like
    "band=g*",
    "band!=g*",
    "band like _",
    "flag!=tr*",
    "flag!=*e",
    "flag!=x*",
    "run!=x*",
    # empty lists exist, and hold nothing
    "empty exists",
    "empty !exists",
    "empty contains 1",
    "empty!=1",
    "tags !exists",
    "tags contains 3.0",
    "flag<true",
    "flag>=false",
    "flag>true",
    # keys with dots are keys, not paths
    "a.b=1",
    "a.b.c exists",
    "a!=1",
    # system columns with NULLs: a missing value never compares
    "bytes!=1000",
    "length!=0",
    "guid exists",
    "adler32!='00000000'",
    "updated_at>2000-01-01",
    "name like %_1",
    "name!=cal?",
    "name=cal?*",
    "scope!=lake",
    "obs_release_date<2100-01-01",
    "obs_release_date !exists",
]


@pytest.fixture
async def filter_lake(catalogue, indexed):
    await populate(catalogue)
    raws = [DIDKey("lake", "raw_1"), DIDKey("lake", "raw_2")]
    await catalogue.attach(DIDKey("lake", "ds_a"), raws)
    await catalogue.attach(DIDKey("lake", "cont"), [DIDKey("lake", "ds_a")])
    await catalogue.set_metadata(DIDKey("lake", "cal_1"), {"empty": [], "a.b": 1, "a": 2})
    await catalogue.set_metadata(DIDKey("lake", "cal_2"), {"a.b.c": "x", "a": 1})
    await register(
        catalogue,
        [file_record("cal?", obscore={"obs_release_date": "2030-01-01T00:00:00Z"})],
    )
    await indexed.sync()
    return indexed


async def test_every_filter_finds_the_same_dids_in_elasticsearch_as_in_sql(filter_lake):
    differing = {}
    for text in [*FOUND, *EXTRA_FILTERS]:
        expected = await sql_filter_ids(filter_lake, text)
        got = sorted(await es_ids(filter_lake, {"filter": parse_rucio_filter(text)}))
        if got != expected:
            differing[text] = (got, expected)
    assert differing == {}
    # and the lake is rich enough for that to mean something
    assert await sql_filter_ids(filter_lake, "calib_level!=1") != []


@pytest.mark.parametrize(("text", "message"), WRONG_TYPES.items(), ids=WRONG_TYPES.keys())
def test_a_bad_filter_raises_the_stores_error_in_elasticsearch(text, message):
    f = parse_rucio_filter(text)
    with pytest.raises(InvalidQueryError) as from_sql:
        filter_clause(f)
    with pytest.raises(InvalidQueryError) as from_es:
        filter_query(f)
    assert str(from_es.value) == str(from_sql.value)
    assert str(from_es.value).startswith(message)


@pytest.mark.parametrize(
    ("pattern", "wildcard"),
    [("raw_%", "raw_*"), ("a*b", "a\\*b"), ("what?", "what\\?"), ("c:\\x%", "c:\\\\x*")],
)
def test_a_like_pattern_becomes_a_wildcard_with_the_same_literals(pattern, wildcard):
    assert like_to_wildcard(pattern) == wildcard


# --- the outbox worker -----------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def names_found(lake, **query):
    page = await lake.elasticsearch.search(SearchQuery(limit=500, **query))
    return sorted(h.key.name for h in page.hits)


async def test_the_worker_retries_while_elasticsearch_is_down_and_loses_nothing(
    catalogue, indexed, es_client, alias
):
    await register(catalogue, [file_record(f"f{i}.fits") for i in range(5)])
    waiting = (await indexed.worker.status()).waiting
    assert waiting >= 5

    down_client = create_client(es_settings(f"http://127.0.0.1:{closed_port()}"))
    down = make_worker(indexed.sessions, down_client, alias)
    stop = asyncio.Event()
    task = asyncio.create_task(down.run_forever(stop))
    await asyncio.sleep(0.5)
    stop.set()
    await task
    await down_client.close()
    assert down.failures >= 2  # it kept trying, backing off
    assert (await indexed.worker.status()).waiting == waiting  # and kept every row

    up = make_worker(indexed.sessions, es_client, alias)
    stop = asyncio.Event()
    task = asyncio.create_task(up.run_forever(stop))
    for _ in range(100):
        if (await up.status()).waiting == 0:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert await names_found(indexed) == [f"f{i}.fits" for i in range(5)]
    status = await up.status()
    assert (status.waiting, status.oldest, status.documents) == (0, None, 5)


async def test_status_shows_the_lag_until_the_worker_catches_up(catalogue, indexed):
    await register(catalogue, [file_record("a.fits"), file_record("b.fits")])
    before = await indexed.worker.status()
    assert before.waiting == 2
    assert before.oldest is not None
    assert before.lag_seconds >= 0
    assert before.indices[0].startswith(f"{indexed.worker.alias}-")
    assert await indexed.sync() == 2
    after = await indexed.worker.status()
    assert (after.waiting, after.documents, after.building) == (0, 2, [])


async def test_a_deleted_did_leaves_the_index(catalogue, indexed):
    await register(catalogue, [file_record("keep.fits"), file_record("gone.fits")])
    await indexed.sync()
    assert await names_found(indexed) == ["gone.fits", "keep.fits"]
    await catalogue.delete(DIDKey("lake", "gone.fits"))
    await indexed.sync()
    assert await names_found(indexed) == ["keep.fits"]
    assert (await indexed.worker.status()).documents == 1


async def test_harvested_records_carry_their_source_and_leave_the_index_when_withdrawn(
    catalogue, indexed
):
    await register(catalogue, [file_record("own.fits")])
    spec = SourceSpec("vo.remote", SourceKind.TAP, "http://remote.example/tap")

    def remote(n: int) -> HarvestedRecord:
        return HarvestedRecord(f"ivo://remote/obs?{n}", DIDType.FILE, {"obs_collection": "R"})

    harvest = await catalogue.start_harvest(spec)
    await harvest.add([remote(1), remote(2)])
    await harvest.finish(complete=True)
    await indexed.sync()
    assert await names_found(indexed, sources=("vo.remote",)) == ["remote/obs?1", "remote/obs?2"]
    assert await names_found(indexed, sources=("lake",)) == ["own.fits"]
    counted = await indexed.elasticsearch.search(SearchQuery(facets=(SearchFacet.SOURCE,)))
    assert counted.facets[SearchFacet.SOURCE] == [("vo.remote", 2), ("lake", 1)]
    harvest = await catalogue.start_harvest(spec)
    await harvest.add([remote(1)])
    await harvest.finish(complete=True)  # obs?2 is gone from the source: withdrawn
    await indexed.sync()
    assert await names_found(indexed, sources=("vo.remote",)) == ["remote/obs?1"]


async def test_a_metadata_change_reaches_the_index_through_the_outbox(catalogue, indexed):
    await register(catalogue, [file_record("a.fits", metadata={"run": 1})])
    await indexed.sync()
    run_two = parse_rucio_filter("run=2")
    assert await names_found(indexed, filter=run_two) == []
    await catalogue.set_metadata(DIDKey("lake", "a.fits"), {"run": 2})
    await indexed.sync()
    assert await names_found(indexed, filter=run_two) == ["a.fits"]


async def test_rebuild_swaps_the_alias_while_searches_and_the_outbox_go_on(
    catalogue, indexed, es_client
):
    worker = indexed.worker
    await register(catalogue, [file_record(f"old{i:02}.fits") for i in range(60)])
    await indexed.sync()
    [first_index] = (await worker.status()).indices

    answers: list[int] = []
    stop = asyncio.Event()

    async def keep_searching():
        while not stop.is_set():
            page = await indexed.elasticsearch.search(SearchQuery(limit=0))
            answers.append(page.total)
            await asyncio.sleep(0)

    loaded = asyncio.Event()
    searching = asyncio.create_task(keep_searching())
    draining = asyncio.create_task(worker.run_forever(stop))
    rebuilding = asyncio.create_task(worker.rebuild(lambda _n: loaded.set()))
    await loaded.wait()
    # written while the new index loads: the outbox reaches it as well as the old one
    await register(catalogue, [file_record("new.fits")])
    await catalogue.delete(DIDKey("lake", "old00.fits"))
    new_index = await rebuilding
    for _ in range(100):
        if (await worker.status()).waiting == 0:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(searching, draining)

    status = await worker.status()
    assert status.indices == [new_index] != [first_index]
    assert status.building == []
    assert not (await es_client.indices.exists(index=first_index)).body
    assert not (await es_client.indices.exists_alias(name=building_alias(worker.alias))).body
    found = await names_found(indexed)
    assert found == sorted(["new.fits", *(f"old{i:02}.fits" for i in range(1, 60))])
    assert answers  # searches answered throughout, never an empty or missing index
    assert min(answers) >= 59


async def test_a_second_rebuild_at_once_is_refused(indexed, es_client):
    worker = indexed.worker
    building = building_alias(worker.alias)
    await es_client.indices.put_alias(index=(await worker.status()).indices[0], name=building)
    with pytest.raises(RebuildRunningError, match="is running"):
        await worker.rebuild()
    # a crashed rebuild's leftovers go with --force (here: the live index itself)
    await worker.rebuild(force=True)
    assert (await worker.status()).building == []


# --- region: coarse cells in the index, exact answers ----------------------------------------


async def test_coarse_index_cells_give_candidates_that_the_store_decides_exactly(
    catalogue, engine, es_client, alias
):
    await register(
        catalogue,
        [
            file_record("centre.fits", obscore={"s_region": square(10.0, 10.0, 0.1)}),
            file_record("beside.fits", obscore={"s_region": square(10.6, 10.0, 0.1)}),
            file_record("far.fits", obscore={"s_region": square(200.0, -40.0, 0.1)}),
        ],
    )
    from catalogue.store.engine import create_sessions  # noqa: PLC0415

    sessions = create_sessions(engine)
    coarse = make_worker(sessions, es_client, alias, moc_ranges=1)  # one range per DID
    await coarse.ensure_index()
    backend = ElasticsearchSearch(es_client, sessions, alias)
    region = RegionFilter.from_shape(Circle(10.0, 10.0, 0.2), 10)
    candidates = await es_client.search(
        index=alias, query=region_clause(region.coverage), size=10, _source=["name"]
    )
    assert sorted(h["_source"]["name"] for h in candidates.body["hits"]["hits"]) == [
        "beside.fits",
        "centre.fits",
    ]
    page = await backend.search(SearchQuery(region=region, facets=()))
    assert [h.key.name for h in page.hits] == ["centre.fits"]
    assert (page.total, page.total_exact) == (1, True)


# --- paging and totals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sort", [SearchSort.NAME, SearchSort.SIZE, SearchSort.TIME, SearchSort.RELEVANCE]
)
@pytest.mark.parametrize("descending", [False, True])
async def test_search_after_pages_through_every_hit_once_in_the_relational_order(
    catalogue, indexed, sort, descending
):
    records = [
        file_record(f"p{i:02}.fits", size=(i * 7) % 5, obscore={"t_min": 50000 + i % 3})
        for i in range(23)
    ]
    await register(catalogue, records)
    await catalogue.add_collection(DIDKey("lake", "set"), DIDType.DATASET)
    await indexed.sync()
    # every file ties on "fits": relevance pages through one tie, in id order
    query = {"sort": sort, "descending": descending, "text": TextQuery.parse("fits")}
    ids, cursor = [], None
    while True:
        page = await indexed.elasticsearch.search(SearchQuery(**query, limit=4, after=cursor))
        ids += [h.did_id for h in page.hits]
        assert (page.total, page.total_exact) == (len(records), True)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    relational = await indexed.relational.search(SearchQuery(**query, limit=500))
    assert ids == [h.did_id for h in relational.hits]


async def test_totals_above_the_threshold_are_a_lower_bound_on_both_backends(
    catalogue, indexed, monkeypatch
):
    monkeypatch.setattr("indexer.backend.TOTAL_EXACT_UP_TO", 5)
    monkeypatch.setattr("catalogue.store.search_sql.TOTAL_EXACT_UP_TO", 5)
    await register(catalogue, [file_record(f"t{i}.fits") for i in range(8)])
    await indexed.sync()
    for backend in (indexed.elasticsearch, indexed.relational):
        page = await backend.search(SearchQuery(limit=3))
        assert (page.total, page.total_exact) == (5, False), backend.name


async def test_a_cursor_of_another_search_is_refused(catalogue, indexed):
    await register(catalogue, [file_record(f"c{i}.fits") for i in range(3)])
    await indexed.sync()
    page = await indexed.elasticsearch.search(SearchQuery(limit=1))
    with pytest.raises(InvalidQueryError, match="other arguments"):
        await indexed.elasticsearch.search(
            SearchQuery(limit=1, sort=SearchSort.NAME, after=page.next_cursor)
        )


# --- the command line -------------------------------------------------------------------------


def test_index_commands_rebuild_drain_and_report(tmp_path, es_url, monkeypatch):
    alias = f"lakecat-test-cli-{tmp_path.name[-8:].lower()}"
    monkeypatch.setenv("LAKECAT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite'}")
    monkeypatch.setenv("LAKECAT_ELASTICSEARCH_URL", es_url)
    monkeypatch.setenv("LAKECAT_ELASTICSEARCH_PLAIN_JSON", "true")
    monkeypatch.setenv("LAKECAT_ELASTICSEARCH_INDEX", alias)
    monkeypatch.setenv("LAKECAT_ELASTICSEARCH_REPLICAS", "0")
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    runner = CliRunner()

    def lakecat(*args):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    lakecat("did", "add", "lake:first", "--type", "DATASET")
    assert f"{alias} -> {alias}-" in lakecat("index", "rebuild")
    lakecat("did", "add", "lake:second", "--type", "DATASET")
    assert "outbox rows waiting: 2" in lakecat("index", "status")
    assert "indexed 2 outbox rows" in lakecat("index", "run", "--once")
    status = lakecat("index", "status")
    assert "outbox rows waiting: 0" in status
    assert "documents:           2" in status


async def test_the_service_runs_the_worker_while_it_serves(tmp_path, es_url, es_client, alias):
    from asgi_lifespan import LifespanManager  # noqa: PLC0415

    from catalogue.config import Settings  # noqa: PLC0415
    from schema.app import create_app  # noqa: PLC0415

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'served.sqlite'}",
        elasticsearch_url=es_url,
        elasticsearch_plain_json=True,
        elasticsearch_index=alias,
        elasticsearch_replicas=0,
    )
    app = create_app(settings)
    async with LifespanManager(app):
        for _ in range(100):  # the worker builds the missing index first
            if (await es_client.indices.exists_alias(name=alias)).body:
                break
            await asyncio.sleep(0.05)
        assert (await es_client.indices.exists_alias(name=alias)).body
