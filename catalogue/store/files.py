"""Bulk registration of files: the fast path of both ingest commands.

One call handles a batch (thousands of files) with a fixed number of statements: look up the
batch's existing DIDs, insert the new ones with ``RETURNING``, then their characterisation,
coverage, index cells, replicas and metadata with executemany. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue import embargo
from catalogue.coverage import Coverage, point_cells
from catalogue.models import DIDKey, DIDType, FileSpec, MetaValue, ReplicaSpec
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT, insert_rows, insert_with_ids
from catalogue.store.rows import meta_rows


class Outcome(StrEnum):
    """What happened to one file of a batch."""

    REGISTERED = "registered"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class PreparedFile:
    """A validated file with its typed characterisation and computed coverage."""

    spec: FileSpec
    characterisation: dict[str, Any]
    coverage: Coverage | None
    cells: np.ndarray | None = None


async def ensure_scopes(session: AsyncSession, scopes: set[str], now: datetime) -> None:
    """Create the scopes that do not exist yet."""
    existing = set(
        (
            await session.scalars(select(t.scope.c.name).where(t.scope.c.name.in_(sorted(scopes))))
        ).all()
    )
    missing = [{"name": s, "created_at": now} for s in sorted(scopes - existing)]
    if missing:
        await session.execute(insert(t.scope), missing)


async def find_dids(session: AsyncSession, keys: Sequence[DIDKey]) -> dict[DIDKey, Any]:
    """Existing ``did`` rows (deleted ones included) for the given keys."""
    found: dict[DIDKey, Any] = {}
    by_scope: dict[str, list[str]] = {}
    for key in keys:
        by_scope.setdefault(key.scope, []).append(key.name)
    for scope, names in by_scope.items():
        for start in range(0, len(names), IN_LIST_LIMIT):
            chunk = names[start : start + IN_LIST_LIMIT]
            rows = await session.execute(
                select(t.did).where(t.did.c.scope == scope, t.did.c.name.in_(chunk))
            )
            for row in rows.mappings():
                found[DIDKey(row["scope"], row["name"])] = row
    return found


def _conflict(spec: FileSpec, row: Any) -> str | None:
    if row["deleted_at"] is not None:
        return f"{spec.key} was deleted; a DID name is never reused"
    if row["did_type"] != DIDType.FILE:
        return f"{spec.key} is already registered as a {row['did_type']}"
    stored = {"bytes": row["bytes"], "adler32": row["adler32"], "md5": row["md5"]}
    return _differs(spec, stored, "already registered")


def _differs(spec: FileSpec, stored: Any, where: str) -> str | None:
    """Which of size and checksums differ from what is stored (or named before)."""

    def value(name: str) -> Any:
        return stored[name] if isinstance(stored, dict) else getattr(stored, name)

    differing = [
        name
        for name in ("bytes", "adler32", "md5")
        if getattr(spec, name) is not None
        and value(name) is not None
        and value(name) != getattr(spec, name)
    ]
    if not differing:
        return None
    details = ", ".join(f"{n} {value(n)} -> {getattr(spec, n)}" for n in differing)
    return f"{spec.key} is {where} with different {details}"


def replica_url(replica: ReplicaSpec, base_url: str, key: DIDKey) -> str:
    """A replica's URL: given, or the RSE's base URL joined with the path (or scope/name)."""
    if replica.url:
        return replica.url
    path = replica.path if replica.path is not None else f"{key.scope}/{key.name}"
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def _replica_rows(
    did_id: int, spec: FileSpec, rses: dict[str, tuple[int, str]], now: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "did_id": did_id,
            "rse_id": rses[r.rse][0],
            "url": replica_url(r, rses[r.rse][1], spec.key),
            "state": r.state.value,
            "created_at": now,
            "updated_at": now,
        }
        for r in spec.replicas
    ]


def _coverage_row(details: Details) -> dict[str, Any] | None:
    char, cov = details.characterisation, details.coverage
    extent = {k: char.get(k) for k in ("t_min", "t_max", "em_min", "em_max")}
    if cov is None and all(v is None for v in extent.values()):
        return None
    return {
        "did_id": details.did_id,
        "moc": cov.to_bytes() if cov is not None else None,
        "moc_order": cov.order if cov is not None else None,
        "sky_fraction": cov.sky_fraction if cov is not None else None,
        **extent,
    }


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one file of a batch: its outcome, its DID id, and why if refused."""

    outcome: Outcome
    did_id: int | None = None
    message: str = ""


def _classify(
    batch: Sequence[PreparedFile], existing: dict[DIDKey, Any]
) -> tuple[list[FileOutcome | None], list[int]]:
    """Outcomes of files already stored or named earlier in the batch; indexes of new ones."""
    outcomes: list[FileOutcome | None] = []
    first: dict[DIDKey, int] = {}
    fresh: list[int] = []
    for index, item in enumerate(batch):
        key = item.spec.key
        if key in first:
            problem = _differs(item.spec, batch[first[key]].spec, "named earlier in the batch")
            outcomes.append(FileOutcome(Outcome.CONFLICT, None, problem) if problem else None)
            continue
        first[key] = index
        row = existing.get(key)
        if row is None:
            fresh.append(index)
            outcomes.append(None)
            continue
        problem = _conflict(item.spec, row)
        if problem:
            outcomes.append(FileOutcome(Outcome.CONFLICT, None, problem))
        else:
            outcomes.append(FileOutcome(Outcome.UNCHANGED, row["id"]))
    return outcomes, fresh


async def add_files(
    session: AsyncSession,
    batch: Sequence[PreparedFile],
    rses: dict[str, tuple[int, str]],
    now: datetime,
    index_cells: int,
    *,
    write: bool = True,
) -> list[FileOutcome]:
    """Register a batch of files; one outcome per file, in the batch's order.

    ``rses`` maps RSE names to (id, base URL). A file that contradicts its stored registration
    (checksum, size, type, deleted name), or an earlier line of the batch naming the same DID,
    is a conflict and is not written. An identical file is unchanged, but replicas it lists
    that are not stored yet are added. With ``write=False`` only conflicts are looked for.
    """
    existing = await find_dids(session, [item.spec.key for item in batch])
    outcomes, fresh = _classify(batch, existing)
    if write and fresh:
        await ensure_scopes(session, {batch[i].spec.key.scope for i in fresh}, now)
        new_ids = await _insert_dids(session, [batch[i] for i in fresh], now)
        details = [file_details(d, batch[i]) for d, i in zip(new_ids, fresh, strict=True)]
        await insert_details(session, details, index_cells)
        for did_id, index in zip(new_ids, fresh, strict=True):
            outcomes[index] = FileOutcome(Outcome.REGISTERED, did_id)
    ids = {batch[i].spec.key: o.did_id for i, o in enumerate(outcomes) if o and o.did_id}
    final = [
        o
        if o is not None
        else FileOutcome(
            Outcome.UNCHANGED if batch[i].spec.key in ids else Outcome.REGISTERED,
            ids.get(batch[i].spec.key),
        )
        for i, o in enumerate(outcomes)
    ]
    if write:
        await _add_replicas(session, batch, final, rses, now)
    return final


async def _add_replicas(
    session: AsyncSession,
    batch: Sequence[PreparedFile],
    outcomes: list[FileOutcome],
    rses: dict[str, tuple[int, str]],
    now: datetime,
) -> None:
    wanted: dict[tuple[int, int], dict[str, Any]] = {}
    for item, outcome in zip(batch, outcomes, strict=True):
        if outcome.did_id is None or outcome.outcome is Outcome.CONFLICT:
            continue
        for row in _replica_rows(outcome.did_id, item.spec, rses, now):
            wanted.setdefault((row["did_id"], row["rse_id"]), row)
    ids = sorted({did_id for did_id, _ in wanted})
    for start in range(0, len(ids), IN_LIST_LIMIT):
        stored = await session.execute(
            select(t.replica.c.did_id, t.replica.c.rse_id).where(
                t.replica.c.did_id.in_(ids[start : start + IN_LIST_LIMIT])
            )
        )
        for pair in stored:
            wanted.pop((pair.did_id, pair.rse_id), None)
    if wanted:
        await insert_rows(session, t.replica, list(wanted.values()))


async def _insert_dids(
    session: AsyncSession, fresh: list[PreparedFile], now: datetime
) -> list[int]:
    rows = [
        {
            "scope": i.spec.key.scope,
            "name": i.spec.key.name,
            "did_type": DIDType.FILE.value,
            "bytes": i.spec.bytes,
            "adler32": i.spec.adler32,
            "md5": i.spec.md5,
            "guid": i.spec.guid,
            "is_open": None,
            "length": None,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
        }
        for i in fresh
    ]
    return await insert_with_ids(session, t.did, rows)


async def _store_embargoes(
    session: AsyncSession, batch: Sequence[Details], *, replacing: bool
) -> None:
    if replacing:
        ids = [d.did_id for d in batch]
        for start in range(0, len(ids), IN_LIST_LIMIT):
            await session.execute(
                update(t.did)
                .where(t.did.c.id.in_(ids[start : start + IN_LIST_LIMIT]))
                .values(embargo_until=None, embargo_scope=None)
            )
    embargoed = [
        {"b_id": d.did_id, "b_until": until}
        for d in batch
        if (until := embargo.release_of(d.characterisation)) is not None
    ]
    if embargoed:
        await session.execute(
            update(t.did)
            .where(t.did.c.id == bindparam("b_id"))
            .values(embargo_until=bindparam("b_until"), embargo_scope=t.did.c.scope),
            embargoed,
        )


def _add_point_cells(rows: list[dict[str, Any]]) -> None:
    """Set ``s_hpx`` of the rows that have a position, in one vectorised call."""
    placed = [r for r in rows if r["s_ra"] is not None and r["s_dec"] is not None]
    cells = point_cells([r["s_ra"] for r in placed], [r["s_dec"] for r in placed])
    for row, cell in zip(placed, cells.tolist(), strict=True):
        row["s_hpx"] = cell


@dataclass(frozen=True, slots=True)
class Details:
    """What a DID carries beside its ``did`` row: written by :func:`insert_details`."""

    did_id: int
    characterisation: Mapping[str, Any]
    coverage: Coverage | None
    metadata: Mapping[str, MetaValue]
    cells: np.ndarray | None = None  # the coverage's index cells, when already computed


def file_details(did_id: int, item: PreparedFile) -> Details:
    """The details of a prepared file."""
    return Details(did_id, item.characterisation, item.coverage, item.spec.metadata, item.cells)


async def insert_details(
    session: AsyncSession, batch: Sequence[Details], index_cells: int, *, replacing: bool = False
) -> None:
    """Characterisation, coverage, index cells and metadata of new DIDs, with executemany.

    Each DID's embargo (catalogue/embargo.py) follows from its characterisation; with
    ``replacing`` (details rewritten after a delete) a lifted embargo is cleared first.
    """
    await _store_embargoes(session, batch, replacing=replacing)
    empty = {f.name: None for f in t.characterisation.c if f.name != "did_id"}
    char_rows = [
        {**empty, "did_id": d.did_id, **d.characterisation} for d in batch if d.characterisation
    ]
    _add_point_cells(char_rows)
    coverage_rows = [row for d in batch if (row := _coverage_row(d))]
    cell_rows = [
        {"did_id": d.did_id, "lo": int(lo), "hi": int(hi)}
        for d in batch
        if d.coverage is not None
        for lo, hi in (
            d.cells if d.cells is not None else d.coverage.index_cells(index_cells)
        ).tolist()
    ]
    meta = [row for d in batch for row in meta_rows(d.did_id, d.metadata)]
    for table, rows in (
        (t.characterisation, char_rows),
        (t.coverage, coverage_rows),
        (t.coverage_cell, cell_rows),
        (t.did_meta, meta),
    ):
        if rows:
            await insert_rows(session, table, rows)
