"""Every shared search case (cases.py) on the relational backend, on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import select

from catalogue.authorization import EVERYTHING
from catalogue.errors import InvalidQueryError
from catalogue.search import SearchQuery, SearchSort, TextQuery, carried_total
from catalogue.store import search_sql
from catalogue.store import tables as t
from catalogue.store.engine import create_sessions
from catalogue.store.search_sql import RelationalSearch, fts5_query, ts_query
from tests.conftest import empty, make_catalogue
from tests.search.cases import CASES, DELETED, LIVE, SearchCase, build_search_lake, check_case


async def _stored_keys(engine):
    async with engine.connect() as connection:
        rows = await connection.execute(select(t.did.c.scope, t.did.c.name).order_by(t.did.c.id))
        return [f"{r.scope}:{r.name}" for r in rows]


@pytest.fixture
async def backend(session_engine):
    """The lake, built once per engine and rebuilt when another test has changed the data."""
    if await _stored_keys(session_engine) != _lake_ids_in_order():
        await empty(session_engine)
        await build_search_lake(make_catalogue(session_engine))
    return RelationalSearch(create_sessions(session_engine))


def _lake_ids_in_order():
    ordered = list(LIVE)
    ordered.insert(ordered.index("cta:ctao_sim_crab.fits"), DELETED)
    return ordered


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_case(backend, case: SearchCase):
    await check_case(backend, case)


async def test_the_lake_is_registered_in_the_documented_id_order(backend, session_engine):
    assert await _stored_keys(session_engine) == _lake_ids_in_order()


async def test_a_total_beyond_the_threshold_is_a_lower_bound(backend, monkeypatch):
    monkeypatch.setattr(search_sql, "TOTAL_EXACT_UP_TO", 10)
    result = await backend.search(SearchQuery(limit=3))
    assert (result.total, result.total_exact, len(result.hits)) == (10, False, 3)
    exact = await backend.search(SearchQuery(scopes=("cta",)))
    assert (exact.total, exact.total_exact) == (7, True)


async def test_a_cursor_from_another_search_is_refused(backend):
    first = await backend.search(SearchQuery(sort=SearchSort.NAME, limit=2))
    other = SearchQuery(sort=SearchSort.SIZE, limit=2, after=first.next_cursor)
    with pytest.raises(InvalidQueryError, match="other arguments"):
        await backend.search(other)


async def test_relevance_ranks_a_did_mentioning_a_word_more_often_higher(backend):
    result = await backend.search(SearchQuery(text=TextQuery.parse("3c196")))
    scores = {str(h.key): h.score for h in result.hits}
    # The image names 3C196 in its title, target, description and dataset's name.
    assert scores["lofar:L650884_image.fits"] > scores["lofar:lofar-all"]


def test_text_queries_quote_every_term():
    query = TextQuery.parse('crab "deep image" calex*')
    assert fts5_query(query) == '"crab" AND "deep image" AND "calex"*'
    assert ts_query(query) == "'crab' & ('deep' <-> 'image') & 'calex':*"


async def test_operators_in_text_are_words_not_syntax(backend):
    for typed in ("crab OR nebula", "NOT crab", "crab & !nebula", "crab:*", "NEAR(crab nebula)"):
        result = await backend.search(SearchQuery(text=TextQuery.parse(typed)))
        assert result.total == 0 or all(h.score is not None for h in result.hits), typed


async def test_limit_zero_counts_without_hits(backend):
    result = await backend.search(SearchQuery(limit=0, viewer=EVERYTHING))
    assert (len(result.hits), result.total, result.next_cursor) == (0, len(LIVE), None)


async def test_later_pages_carry_the_first_pages_total(backend):
    first = await backend.search(SearchQuery(text=TextQuery.parse("crab"), limit=2))
    assert first.next_cursor is not None
    query = SearchQuery(text=TextQuery.parse("crab"), limit=2, after=first.next_cursor)
    assert carried_total(query) == (first.total, first.total_exact)
    second = await backend.search(query)
    assert (second.total, second.total_exact) == (first.total, first.total_exact)
    assert not {h.key for h in first.hits} & {h.key for h in second.hits}
