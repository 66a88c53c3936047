"""The relational search backend: the port (catalogue/search.py) over the store itself.

Full text matches ``search_document`` through SQLite's FTS5 table or PostgreSQL's GIN index
on its stored ``to_tsvector('simple', text)`` (migration 0003); everything else is the DID
search's own SQL: the where-clauses of :func:`catalogue.store.queries.base_query`, the
region's index probe decided exactly by :func:`~catalogue.store.queries.matches_region`, and
the facet counts of :mod:`catalogue.store.aggregates`. Pages follow ``search_after`` keysets,
never OFFSET.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    FromClause,
    Select,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal_column,
    null,
    or_,
    select,
    table,
    true,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnClause

from catalogue.bands import BAND_RANGES
from catalogue.coverage import Coverage
from catalogue.errors import InvalidQueryError
from catalogue.models import DIDKey, DIDType
from catalogue.query import DIDQuery, FacetField
from catalogue.search import (
    TOTAL_EXACT_UP_TO,
    SearchFacet,
    SearchHit,
    SearchQuery,
    SearchResult,
    SearchSort,
    TextQuery,
    carried_total,
    decode_after,
    encode_after,
)
from catalogue.store import tables as t
from catalogue.store.aggregates import count_statement
from catalogue.store.bulk import IN_LIST_LIMIT
from catalogue.store.harvest import source_names
from catalogue.store.queries import base_query, matches_region

_BEYOND = 1e300  # a missing time or size: such DIDs sort last either way
_SIMPLE: ColumnClause[Any] = literal_column("'simple'::regconfig")
_DOCUMENT = table(t.search_document.name, column("did_id"), column(t.SEARCH_TSV))
_FTS = table(t.SEARCH_FTS, column("rowid"))


def fts5_query(text: TextQuery) -> str:
    """An FTS5 MATCH expression: every term quoted, ANDed; ``"a b"`` phrases, ``"ab"*``."""

    def quote(token: str) -> str:
        return '"' + token.replace('"', '""') + '"'

    parts = [quote(term) for term in text.terms]
    parts += [quote(" ".join(phrase)) for phrase in text.phrases]
    parts += [quote(prefix) + "*" for prefix in text.prefixes]
    return " AND ".join(parts)


def ts_query(text: TextQuery) -> str:
    """A PostgreSQL tsquery: quoted lexemes ``'a' & 'b'``, ``('a' <-> 'b')``, ``'ab':*``."""

    def quote(token: str) -> str:
        return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"

    parts = [quote(term) for term in text.terms]
    parts += ["(" + " <-> ".join(quote(token) for token in p) + ")" for p in text.phrases]
    parts += [quote(prefix) + ":*" for prefix in text.prefixes]
    return " & ".join(parts)


def _matches(dialect: str, text: TextQuery, *, scored: bool) -> FromClause:
    """(did_id, score) of the documents matching the text; a higher score is better.

    Unscored, the score is NULL: counts and facets need only the index's hit set.
    """
    if dialect == "postgresql":
        vector = _DOCUMENT.c[t.SEARCH_TSV]
        wanted = func.to_tsquery(_SIMPLE, bindparam("ts_query", ts_query(text)))
        score = cast(func.ts_rank_cd(vector, wanted), Float) if scored else null()
        found = select(_DOCUMENT.c.did_id.label("did_id"), score.label("score")).where(
            vector.op("@@")(wanted)
        )
        if not scored:
            return found.subquery("matched")
        # Once per hit: inlined, the rank was computed again for each reference to it in
        # the keyset condition and the ORDER BY.
        return found.cte("matched").prefix_with("MATERIALIZED")
    fts: ColumnClause[Any] = literal_column(t.SEARCH_FTS)
    bm25 = -type_coerce(func.bm25(fts), Float)  # bm25: lower is better
    return (
        select(_FTS.c.rowid.label("did_id"), (bm25 if scored else null()).label("score"))
        .select_from(_FTS)
        .where(fts.op("MATCH")(bindparam("fts_query", fts5_query(text))))
        .subquery("matched")
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    """The SQL pieces of one search: its sort key, score and where the cursor points."""

    query: SearchQuery
    dialect: str
    matched: FromClause | None  # the text's hits with their scores
    unscored: FromClause | None  # the same hits, for counts and facets

    @property
    def score(self) -> ColumnElement[Any] | None:
        return self.matched.c.score if self.matched is not None else None

    @property
    def sort(self) -> ColumnElement[Any] | None:
        """The sort key before the id; ``None`` when the id alone orders (no text)."""
        query = self.query
        missing = -_BEYOND if query.descending else _BEYOND
        if query.sort is SearchSort.RELEVANCE:
            return self.score
        if query.sort is SearchSort.TIME:
            return func.coalesce(t.coverage.c.t_min, missing)
        if query.sort is SearchSort.SIZE:
            return case(
                (t.did.c.did_type == DIDType.FILE.value, func.coalesce(t.did.c.bytes, missing)),
                else_=missing,
            )
        # Code point order on both engines (and in Elasticsearch's keyword sort).
        return t.did.c.name.collate("C") if self.dialect == "postgresql" else t.did.c.name

    @property
    def descending(self) -> bool:
        """Whether the sort key runs high to low (relevance always does)."""
        return self.query.sort is SearchSort.RELEVANCE or self.query.descending

    @property
    def id_descending(self) -> bool:
        """The id tiebreaker follows the sort's direction; under relevance it ascends."""
        return self.query.sort is not SearchSort.RELEVANCE and self.query.descending

    def statement(self, *columns: Any, scored: bool = True) -> Select[Any]:
        """SELECT columns of every hit (the region still to be decided exactly)."""
        query = self.query
        did_query = DIDQuery(
            scopes=query.scopes,
            sources=query.sources,
            types=query.types,
            filter=query.filter,
            region=query.region,
            time=query.time,
            spectral=query.spectral,
            limit=0,
            viewer=query.viewer,
        )
        statement = base_query(did_query, *columns)
        matched = self.matched if scored else self.unscored
        if matched is not None:
            statement = statement.join(matched, matched.c.did_id == t.did.c.id)
        return statement

    def ordered(self, statement: Select[Any]) -> Select[Any]:
        """The statement in the search's order."""
        keys: list[Any] = []
        sort = self.sort
        if sort is not None:
            keys.append(sort.desc() if self.descending else sort.asc())
        keys.append(t.did.c.id.desc() if self.id_descending else t.did.c.id.asc())
        return statement.order_by(*keys)

    def after(self) -> list[ColumnElement[bool]]:
        """Conditions for lying after the cursor, in the search's order (empty: no cursor)."""
        values = decode_after(self.query)
        if values is None:
            return []
        sort = self.sort
        expected = 1 if sort is None else 2
        if len(values) != expected or not isinstance(values[-1], int):
            msg = "the cursor is not one this service issued"
            raise InvalidQueryError(msg)
        did_id = values[-1]
        beyond = t.did.c.id < did_id if self.id_descending else t.did.c.id > did_id
        if sort is None:
            return [beyond]
        value = values[0]
        ahead = sort < value if self.descending else sort > value
        return [or_(ahead, and_(sort == value, beyond))]

    def cursor_values(self, row: Any) -> list[Any]:
        """What a cursor after this row holds: its sort value (if any) and id."""
        if self.sort is None:
            return [row["id"]]
        return [row["sort_value"], row["id"]]

    def columns(self) -> list[Any]:
        """The columns a hit row carries."""
        sort = self.sort
        score = self.score
        return [
            t.did.c.id,
            t.did.c.scope,
            t.did.c.name,
            (sort if sort is not None else t.did.c.id).label("sort_value"),
            (score if score is not None else literal_column("NULL")).label("score"),
        ]


class RelationalSearch:
    """The :class:`~catalogue.search.SearchBackend` of the relational store."""

    name = "relational"

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def search(self, query: SearchQuery) -> SearchResult:
        """One page of hits for the query, its total and its facet counts."""
        async with self._sessions() as session:
            return await search(session, query)


async def search(session: AsyncSession, query: SearchQuery) -> SearchResult:
    """Answer a search over one session."""
    dialect = session.get_bind().dialect.name
    plan = _Plan(
        query,
        dialect,
        None if query.text.is_empty else _matches(dialect, query.text, scored=True),
        None if query.text.is_empty else _matches(dialect, query.text, scored=False),
    )
    if query.region is not None:
        return await _region_search(session, plan)
    carried = carried_total(query)  # later pages reuse the first page's count
    count: int | None
    if carried is not None:
        count = carried[0] if carried[1] else TOTAL_EXACT_UP_TO + 1
    else:
        count = await session.scalar(
            select(func.count()).select_from(
                plan.statement(t.did.c.id, scored=False).limit(TOTAL_EXACT_UP_TO + 1).subquery()
            )
        )
    statement = plan.ordered(plan.statement(*plan.columns()).where(*plan.after()))
    rows = list((await session.execute(statement.limit(query.limit + 1))).mappings())
    facets = await _facets(session, query, [plan.statement(t.did.c.id, scored=False)])
    return _result(plan, rows, int(count or 0), facets)


async def _region_search(session: AsyncSession, plan: _Plan) -> SearchResult:
    """Every candidate is decided exactly (the total needs them), so the cursor is a column."""
    query = plan.query
    assert query.region is not None  # noqa: S101 - the caller checks
    after = plan.after()
    statement = plan.statement(
        *plan.columns(),
        t.did.c.did_type,
        t.coverage.c.moc,
        t.coverage.c.moc_order,
        t.characterisation.c.s_region,
        case((and_(*after), True), else_=False).label("after") if after else true().label("after"),
    )
    rows: list[Any] = []
    ids: list[int] = []
    for row in (await session.execute(plan.ordered(statement))).mappings():
        coverage = Coverage.from_bytes(row["moc"], row["moc_order"]) if row["moc"] else None
        s_region = row["s_region"] if row["did_type"] == DIDType.FILE else None
        if not matches_region(query.region, coverage, s_region):
            continue
        ids.append(row["id"])
        if row["after"] and len(rows) <= query.limit:
            rows.append(row)
    chunks = [ids[i : i + IN_LIST_LIMIT] for i in range(0, len(ids), IN_LIST_LIMIT)]
    facets = await _facets(session, query, chunks)
    return _result(plan, rows, len(ids), facets)


def _result(
    plan: _Plan, rows: list[Any], count: int, facets: dict[SearchFacet, list[tuple[str, int]]]
) -> SearchResult:
    limit = plan.query.limit
    more = len(rows) > limit
    page = rows[:limit]
    hits = [
        SearchHit(
            DIDKey(r["scope"], r["name"]),
            r["id"],
            float(r["score"]) if r["score"] is not None else None,
        )
        for r in page
    ]
    total = (min(count, TOTAL_EXACT_UP_TO), count <= TOTAL_EXACT_UP_TO)
    carry = total if plan.query.region is None else None  # region totals are decided anyway
    cursor = (
        encode_after(plan.query, plan.cursor_values(page[-1]), carry) if more and page else None
    )
    return SearchResult(
        hits=hits,
        total=total[0],
        total_exact=total[1],
        facets=facets,
        next_cursor=cursor,
    )


# -- facets: counted over the whole hit set, given as one subquery or as id chunks ----------


def _band_statement(ids: Any) -> Select[Any]:
    """How many hits each band holds: bands a DID's wavelength range overlaps (bounds in)."""
    low = t.coverage.c.em_min
    high = func.coalesce(t.coverage.c.em_max, low)
    counts = []
    for band, (start, end) in BAND_RANGES.items():
        overlap: list[ColumnElement[bool]] = [low.is_not(None)]
        if start is not None:
            overlap.append(high >= start)
        if end is not None:
            overlap.append(low <= end)
        counts.append(func.sum(case((and_(*overlap), 1), else_=0)).label(band.value))
    return select(*counts).where(t.coverage.c.did_id.in_(ids))


async def _count(session: AsyncSession, ids: Any) -> int:
    if isinstance(ids, list):
        return len(ids)
    return int(await session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


async def _facets(
    session: AsyncSession, query: SearchQuery, selection: Sequence[Any]
) -> dict[SearchFacet, list[tuple[str, int]]]:
    result: dict[SearchFacet, list[tuple[str, int]]] = {}
    for facet in dict.fromkeys(query.facets):
        counts: Counter[str] = Counter()
        for ids in selection:
            if facet is SearchFacet.SOURCE:
                scopes = Counter[str]()
                for row in await session.execute(count_statement(FacetField.SCOPE, ids)):
                    scopes[str(row.value)] += row.n
                names = await source_names(session, sorted(scopes))
                for scope, n in scopes.items():
                    counts[names[scope]] += n
            elif facet is SearchFacet.BAND:
                row = (await session.execute(_band_statement(ids))).mappings().one()
                counts.update({band: int(n or 0) for band, n in row.items()})
            else:
                for row in await session.execute(count_statement(FacetField(facet.value), ids)):
                    counts[str(row.value)] += row.n
        ordered = sorted(
            ((value, n) for value, n in counts.items() if n > 0), key=lambda i: (-i[1], i[0])
        )
        result[facet] = ordered[: query.facet_limit]
    return result
