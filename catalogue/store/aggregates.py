"""What a search's whole result adds up to: facet counts and the union of its coverage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, String, cast, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.coverage import MAX_ORDER, Coverage, union_all
from catalogue.obscore import SUMMARY_FIELDS
from catalogue.query import DIDQuery, FacetField
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT
from catalogue.store.queries import base_query, region_rows

_MERGE_EVERY = 2000


def _facet_column(field: FacetField) -> ColumnElement[Any]:
    if field is FacetField.SCOPE:
        return t.did.c.scope
    if field is FacetField.TYPE:
        return t.did.c.did_type
    if field is FacetField.RSE:
        return t.rse.c.name
    return t.characterisation.c[field.value]


def _summarised_count(field: FacetField, ids: Any) -> Select[Any]:
    """Own values and collections' member summaries together (obscore.SUMMARY_FIELDS)."""
    own = select(
        t.characterisation.c.did_id.label("did_id"),
        cast(t.characterisation.c[field.value], String).label("value"),
    ).where(t.characterisation.c[field.value].is_not(None))
    summary = select(
        t.collection_value.c.did_id.label("did_id"), t.collection_value.c.v_text.label("value")
    ).where(t.collection_value.c.field == field.value)
    values = union(own, summary).subquery()
    return (
        select(values.c.value, func.count(func.distinct(values.c.did_id)).label("n"))
        .where(values.c.did_id.in_(ids))
        .group_by(values.c.value)
    )


def count_statement(field: FacetField, ids: Any) -> Select[Any]:
    """(value, count) rows of ``field`` over the DIDs that ``ids`` selects.

    The DID facets' SQL and the relational search backend's, so both count collections by
    their members' values.
    """
    if field.value in SUMMARY_FIELDS:
        return _summarised_count(field, ids)
    column = _facet_column(field)
    joined = t.did.outerjoin(t.characterisation, t.characterisation.c.did_id == t.did.c.id)
    if field is FacetField.RSE:
        joined = joined.join(t.replica, t.replica.c.did_id == t.did.c.id).join(
            t.rse, t.rse.c.id == t.replica.c.rse_id
        )
    return (
        select(column.label("value"), func.count(func.distinct(t.did.c.id)).label("n"))
        .select_from(joined)
        .where(t.did.c.id.in_(ids), column.is_not(None))
        .group_by(column)
    )


async def _selection(session: AsyncSession, query: DIDQuery) -> list[Any]:
    """The selected ids as SQL (one subquery) or, for region queries, as id chunks."""
    whole = replace(query, cursor=None)
    if whole.region is None:
        return [base_query(whole, t.did.c.id)]
    ids = [row["id"] async for row in region_rows(session, whole)]
    return [ids[i : i + IN_LIST_LIMIT] for i in range(0, len(ids), IN_LIST_LIMIT)]


async def facet_counts(
    session: AsyncSession, query: DIDQuery, fields: Sequence[FacetField], limit: int = 50
) -> dict[FacetField, list[tuple[Any, int]]]:
    """For each field, its values among the selected DIDs with how many have each, most first."""
    selection = await _selection(session, query)
    result: dict[FacetField, list[tuple[Any, int]]] = {}
    for field in fields:
        counts: Counter[Any] = Counter()
        for ids in selection:
            for row in await session.execute(count_statement(field, ids)):
                counts[row.value] += row.n
        ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        result[field] = ordered[:limit]
    return result


async def time_and_spectral_span(
    session: AsyncSession, query: DIDQuery
) -> tuple[float | None, float | None, float | None, float | None]:
    """(earliest t_min, latest t_max, shortest em_min, longest em_max) of the selected DIDs."""
    cov = t.coverage.c
    row = (
        await session.execute(
            base_query(
                replace(query, cursor=None),
                func.min(cov.t_min),
                func.max(func.coalesce(cov.t_max, cov.t_min)),
                func.min(cov.em_min),
                func.max(func.coalesce(cov.em_max, cov.em_min)),
            )
        )
    ).one()
    return row[0], row[1], row[2], row[3]


async def union_coverage(session: AsyncSession, query: DIDQuery, max_order: int) -> Coverage:
    """The union MOC of every selected DID, at ``max_order`` at most (MOCServer ``get=moc``).

    Ranges are gathered raw and degraded and merged once per few thousand DIDs: per-DID numpy
    calls dominated the time over 10,000 datasets.
    """
    whole = replace(query, cursor=None)
    pending: list[np.ndarray] = []
    merged = Coverage.empty(max_order)

    def add(data: bytes, order: int) -> None:
        nonlocal merged
        pending.append(Coverage.from_bytes(data, order).ranges)
        if len(pending) >= _MERGE_EVERY:
            merged = _merge(merged, pending, max_order)
            pending.clear()

    if whole.region is not None:
        async for row in region_rows(session, whole):
            if row["moc"] is not None:
                add(row["moc"], row["moc_order"])
    else:
        statement = base_query(whole, t.coverage.c.moc, t.coverage.c.moc_order).where(
            t.coverage.c.moc.is_not(None)
        )
        for row in (await session.execute(statement)).mappings():
            add(row["moc"], row["moc_order"])
    return _merge(merged, pending, max_order)


def _merge(merged: Coverage, pending: list[np.ndarray], max_order: int) -> Coverage:
    if not pending:
        return merged
    ranges = np.concatenate([merged.ranges, *pending])
    return union_all([Coverage(ranges, MAX_ORDER).degrade(max_order)])
