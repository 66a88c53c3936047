"""Searching DIDs: filters, region, time and wavelength, sorted and paged by keyset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, and_, case, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.coverage import Coverage
from catalogue.geometry import relate
from catalogue.models import DID, Intersect, Page
from catalogue.query import DIDQuery, RegionFilter, SortKey, decode_cursor, encode_cursor
from catalogue.region import parse_stcs
from catalogue.store import tables as t
from catalogue.store.filter_sql import escape_like, filter_clause
from catalogue.store.harvest import source_clause
from catalogue.store.region_index import candidate_ids
from catalogue.store.rows import did_from_row
from catalogue.store.visibility import did_visible, discoverable

_BEYOND = 1e300  # stands for a missing time or size, so such DIDs sort last either way


def _sort_column(query: DIDQuery) -> ColumnElement[Any]:
    missing = -_BEYOND if query.descending else _BEYOND
    if query.sort is SortKey.TIME:
        return func.coalesce(t.coverage.c.t_min, missing)
    if query.sort is SortKey.SIZE:
        return func.coalesce(t.did.c.bytes, missing)
    return t.did.c[query.sort.value]


def _range_overlap(
    low: Any, high: Any, bounds: tuple[float | None, float | None]
) -> ColumnElement[bool]:
    start, end = bounds
    conditions = [low.is_not(None)]
    if start is not None:
        conditions.append(func.coalesce(high, low) >= start)
    if end is not None:
        conditions.append(low <= end)
    return and_(*conditions)


def _where(query: DIDQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [discoverable(query.viewer)]
    if query.scopes:
        where.append(t.did.c.scope.in_(query.scopes))
    if query.sources:
        where.append(source_clause(query.sources))
    if query.types:
        where.append(t.did.c.did_type.in_([d.value for d in query.types]))
    if query.name:
        where.append(t.did.c.name.like(escape_like(query.name.replace("*", "%")), escape="\\"))
    if query.parent is not None:
        # A hidden collection's visible members would betray that it exists.
        held = t.did.alias("parent")
        parent = select(held.c.id).where(
            held.c.scope == query.parent.scope,
            held.c.name == query.parent.name,
            did_visible(query.viewer, held),
        )
        children = select(t.attachment.c.child_id).where(
            t.attachment.c.parent_id == parent.scalar_subquery()
        )
        where.append(t.did.c.id.in_(children))
    if query.filter is not None:
        where.append(filter_clause(query.filter))
    if query.time is not None:
        where.append(_range_overlap(t.coverage.c.t_min, t.coverage.c.t_max, query.time))
    if query.spectral is not None:
        where.append(_range_overlap(t.coverage.c.em_min, t.coverage.c.em_max, query.spectral))
    if query.region is not None:
        where.append(t.did.c.id.in_(candidate_ids(query.region.coverage)))
    return where


def base_query(query: DIDQuery, *columns: Any) -> Select[Any]:
    """SELECT columns FROM did ⟕ characterisation ⟕ coverage WHERE the query holds."""
    joined = t.did.outerjoin(t.characterisation, t.characterisation.c.did_id == t.did.c.id)
    joined = joined.outerjoin(t.coverage, t.coverage.c.did_id == t.did.c.id)
    return select(*columns).select_from(joined).where(*_where(query))


def _after(query: DIDQuery, sort: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    position = decode_cursor(query)
    if position is None:
        return []
    value, did_id = position
    if query.descending:
        return [or_(sort < value, and_(sort == value, t.did.c.id < did_id))]
    return [or_(sort > value, and_(sort == value, t.did.c.id > did_id))]


def _ordered(query: DIDQuery, statement: Select[Any], sort: ColumnElement[Any]) -> Select[Any]:
    if query.descending:
        return statement.order_by(sort.desc(), t.did.c.id.desc())
    return statement.order_by(sort, t.did.c.id)


def matches_region(
    region: RegionFilter, coverage: Coverage | None, s_region: str | None = None
) -> bool:
    """Decide a candidate: by geometry for a file footprint and a shape, else by MOC."""
    if coverage is None:
        return False
    if not region.coverage.overlaps(coverage):
        return False  # both MOCs contain their shapes, so the shapes cannot meet either
    if region.shape is not None and s_region:
        decided = relate(region.shape, parse_stcs(s_region), region.intersect)
        if decided is not None:
            return decided
    if region.intersect is Intersect.ENCLOSED:
        return region.coverage.contains(coverage)
    if region.intersect is Intersect.COVERS:
        return coverage.contains(region.coverage)
    return region.coverage.overlaps(coverage)


async def region_rows(
    session: AsyncSession, query: DIDQuery, *columns: Any
) -> AsyncIterator[RowMapping]:
    """Rows of the DIDs a region query selects, in sort order, each decided exactly.

    Each row has ``id``, ``sort_value``, ``moc``, ``moc_order`` and ``after`` (whether it
    lies after the query's cursor, compared by the database with its own collation, as
    ORDER BY is), plus the given columns.
    """
    assert query.region is not None  # noqa: S101 - callers check
    sort = _sort_column(query)
    after = _after(query, sort)
    selected = [
        t.did.c.id,
        t.did.c.did_type,
        sort.label("sort_value"),
        t.coverage.c.moc,
        t.coverage.c.moc_order,
        t.characterisation.c.s_region,
        case((and_(*after), True), else_=False).label("after") if after else true().label("after"),
        *columns,
    ]
    statement = _ordered(query, base_query(query, *selected), sort)
    for row in (await session.execute(statement)).mappings():
        coverage = Coverage.from_bytes(row["moc"], row["moc_order"]) if row["moc"] else None
        s_region = row["s_region"] if row["did_type"] == "FILE" else None
        if matches_region(query.region, coverage, s_region):
            yield row


async def _region_page(session: AsyncSession, query: DIDQuery) -> Page[DID]:
    """The total needs every candidate decided, so the cursor is a column, not a WHERE."""
    items: list[Any] = []
    total = 0
    async for row in region_rows(session, query, t.did):
        total += 1
        if row["after"] and len(items) <= query.limit:
            items.append(row)
    return _page(query, items, total)


def _page(query: DIDQuery, rows: list[Any], total: int) -> Page[DID]:
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursors = [encode_cursor(query, r["sort_value"], r["id"]) for r in rows]
    return Page(
        items=[did_from_row(r) for r in rows],
        total=total,
        next_cursor=cursors[-1] if more and cursors else None,
        cursors=cursors,
    )


async def list_dids(session: AsyncSession, query: DIDQuery) -> Page[DID]:
    """One page of the DIDs a query selects, its exact total, and the next page's cursor."""
    if query.region is not None:
        return await _region_page(session, query)
    sort = _sort_column(query)
    total = await session.scalar(
        select(func.count()).select_from(base_query(query, t.did.c.id).subquery())
    )
    statement = _ordered(query, base_query(query, t.did, sort.label("sort_value")), sort)
    statement = statement.where(*_after(query, sort)).limit(query.limit + 1)
    rows = list((await session.execute(statement)).mappings())
    return _page(query, rows, int(total or 0))
