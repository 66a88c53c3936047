"""Keeping collections' extents up to date as members come and go.

An extent is the MOC, the time and wavelength ranges, and the set of categorical ObsCore
values (obscore.SUMMARY_FIELDS) of everything in a collection. Since the extent reveals its
members, the collection's embargo (catalogue/embargo.py) is kept with it.

Attaching is incremental: the new members' union is merged into the collection and, since a
union only grows, the same contribution is merged into every ancestor. Detaching recomputes the
collection from its direct members' stored extents (not from every file below), then its
ancestors the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.coverage import Coverage, union_all
from catalogue.embargo import Embargo, combined
from catalogue.obscore import OBSCORE_FIELDS, SUMMARY_FIELDS, FieldKind
from catalogue.store import search_docs
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT, insert_rows
from catalogue.store.rows import coverage_from_row


@dataclass(frozen=True, slots=True)
class Contribution:
    """What some members add to a collection's extent."""

    coverage: Coverage | None
    t_min: float | None
    t_max: float | None
    em_min: float | None
    em_max: float | None
    values: frozenset[tuple[str, str]] = frozenset()
    embargo: Embargo | None = None

    @property
    def is_empty(self) -> bool:
        """True when it adds nothing."""
        return (
            self.coverage is None
            and not self.values
            and self.embargo is None
            and all(v is None for v in (self.t_min, self.t_max, self.em_min, self.em_max))
        )


def summary_values(characterisation: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    """The (field, value) pairs a file adds to its collections' summaries."""
    return frozenset(
        (name, str(characterisation[name]))
        for name in SUMMARY_FIELDS
        if characterisation.get(name) is not None
    )


def _lowest(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _highest(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def combine(parts: Sequence[Contribution]) -> Contribution:
    """The union of several contributions."""
    coverages = [p.coverage for p in parts if p.coverage is not None]
    return Contribution(
        coverage=union_all(coverages) if coverages else None,
        t_min=_lowest(p.t_min for p in parts),
        t_max=_highest(p.t_max for p in parts),
        em_min=_lowest(p.em_min for p in parts),
        em_max=_highest(p.em_max for p in parts),
        values=frozenset().union(*(p.values for p in parts)),
        embargo=combined((p.embargo for p in parts), datetime.now(UTC)),
    )


async def _values_of(session: AsyncSession, ids: list[int]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    summary = await session.execute(
        select(t.collection_value.c.field, t.collection_value.c.v_text).where(
            t.collection_value.c.did_id.in_(ids)
        )
    )
    found.update((r.field, r.v_text) for r in summary)
    columns = [t.characterisation.c[name] for name in SUMMARY_FIELDS]
    own = await session.execute(select(*columns).where(t.characterisation.c.did_id.in_(ids)))
    for row in own.mappings():
        found.update(summary_values(dict(row)))
    return found


async def contribution_of(session: AsyncSession, did_ids: Sequence[int]) -> Contribution:
    """The combined extent of some DIDs, from their stored coverage and ObsCore values."""
    parts: list[Contribution] = []
    values: set[tuple[str, str]] = set()
    for start in range(0, len(did_ids), IN_LIST_LIMIT):
        chunk = list(did_ids[start : start + IN_LIST_LIMIT])
        rows = await session.execute(select(t.coverage).where(t.coverage.c.did_id.in_(chunk)))
        parts.extend(
            Contribution(coverage_from_row(r), r["t_min"], r["t_max"], r["em_min"], r["em_max"])
            for r in rows.mappings()
        )
        values |= await _values_of(session, chunk)
        parts.extend(await _embargoes_of(session, chunk))
    parts.append(Contribution(None, None, None, None, None, frozenset(values)))
    return combine(parts)


async def _embargoes_of(session: AsyncSession, ids: list[int]) -> list[Contribution]:
    rows = await session.execute(
        select(t.did.c.embargo_until, t.did.c.embargo_scope).where(
            t.did.c.id.in_(ids), t.did.c.embargo_until.is_not(None)
        )
    )
    held = [Embargo(r.embargo_until, r.embargo_scope) for r in rows]
    return [Contribution(None, None, None, None, None, embargo=e) for e in held]


async def _store(
    session: AsyncSession, did_id: int, extent: Contribution, index_cells: int
) -> None:
    cov = extent.coverage
    values = {
        "moc": cov.to_bytes() if cov is not None else None,
        "moc_order": cov.order if cov is not None else None,
        "sky_fraction": cov.sky_fraction if cov is not None else None,
        "t_min": extent.t_min,
        "t_max": extent.t_max,
        "em_min": extent.em_min,
        "em_max": extent.em_max,
    }
    updated = await session.execute(
        update(t.coverage).where(t.coverage.c.did_id == did_id).values(**values)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        await session.execute(insert(t.coverage).values(did_id=did_id, **values))
    await _store_values(session, did_id, extent.values)
    await _store_embargo(session, did_id, extent.embargo)
    await session.execute(delete(t.coverage_cell).where(t.coverage_cell.c.did_id == did_id))
    if cov is not None and not cov.is_empty:
        cells = [
            {"did_id": did_id, "lo": int(lo), "hi": int(hi)}
            for lo, hi in cov.index_cells(index_cells).tolist()
        ]
        await insert_rows(session, t.coverage_cell, cells)


async def _store_embargo(session: AsyncSession, did_id: int, held: Embargo | None) -> None:
    """Store the collection's embargo.

    When the embargo starts or stops hiding the collection, everything below is marked for
    search, whose text names (or must stop naming) it.
    """
    was_hidden = await session.scalar(
        select(t.did.c.embargo_until.is_not(None)).where(t.did.c.id == did_id)
    )
    await session.execute(
        update(t.did)
        .where(t.did.c.id == did_id)
        .values(
            embargo_until=held.until if held else None, embargo_scope=held.scope if held else None
        )
    )
    if bool(was_hidden) != (held is not None):
        below = await search_docs.with_descendants(session, [did_id])
        await search_docs.mark_changed(session, below)


async def _store_values(
    session: AsyncSession, did_id: int, values: frozenset[tuple[str, str]]
) -> None:
    await session.execute(delete(t.collection_value).where(t.collection_value.c.did_id == did_id))
    numeric = {f.name for f in OBSCORE_FIELDS if f.kind in (FieldKind.INTEGER, FieldKind.FLOAT)}
    rows = [
        {
            "did_id": did_id,
            "field": field,
            "v_text": text,
            "v_num": float(text) if field in numeric else None,
        }
        for field, text in sorted(values)
    ]
    if rows:
        await session.execute(insert(t.collection_value), rows)


async def parents_of(session: AsyncSession, did_id: int) -> list[int]:
    """Direct parents' ids."""
    rows = await session.scalars(
        select(t.attachment.c.parent_id).where(t.attachment.c.child_id == did_id)
    )
    return list(rows.all())


async def merge_upward(
    session: AsyncSession, collection_id: int, added: Contribution, index_cells: int
) -> None:
    """Merge members' contribution into a collection and all its ancestors."""
    if added.is_empty:
        return
    pending, seen = [collection_id], set[int]()
    while pending:
        did_id = pending.pop()
        if did_id in seen:
            continue
        seen.add(did_id)
        current = await contribution_of(session, [did_id])
        await _store(session, did_id, combine([current, added]), index_cells)
        pending.extend(await parents_of(session, did_id))


async def recompute_upward(session: AsyncSession, collection_id: int, index_cells: int) -> None:
    """Recompute a collection from its direct members, then its ancestors, level by level."""
    level = [collection_id]
    while level:
        following: list[int] = []
        for did_id in dict.fromkeys(level):
            members = await session.scalars(
                select(t.attachment.c.child_id).where(t.attachment.c.parent_id == did_id)
            )
            await _store(
                session, did_id, await contribution_of(session, list(members.all())), index_cells
            )
            following.extend(await parents_of(session, did_id))
        level = following
