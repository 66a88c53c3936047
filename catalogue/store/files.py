"""Bulk registration of files: the fast path of both ingest commands.

One call handles a batch (thousands of files) with a fixed number of statements: look up the
batch's existing DIDs, insert the new ones with ``RETURNING``, then their characterisation,
coverage, index cells, replicas and metadata with executemany. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.coverage import Coverage
from catalogue.models import DIDKey, DIDType, FileSpec, ReplicaSpec
from catalogue.store import tables as t
from catalogue.store.rows import meta_rows

_LOOKUP_CHUNK = 900  # below SQLite's default limit of bound parameters per statement


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


@dataclass(slots=True)
class BatchResult:
    """Per-file outcomes of a batch, and the ids to attach to a collection."""

    outcomes: list[tuple[Outcome, DIDKey, str]] = field(default_factory=list)
    did_ids: list[int] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)


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
        for start in range(0, len(names), _LOOKUP_CHUNK):
            chunk = names[start : start + _LOOKUP_CHUNK]
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
    differing = [
        name
        for name, new in (("bytes", spec.bytes), ("adler32", spec.adler32), ("md5", spec.md5))
        if new is not None and row[name] is not None and row[name] != new
    ]
    if differing:
        details = ", ".join(f"{n} {row[n]} -> {getattr(spec, n)}" for n in differing)
        return f"{spec.key} is already registered with different {details}"
    return None


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


def _coverage_row(did_id: int, item: PreparedFile) -> dict[str, Any] | None:
    char, cov = item.characterisation, item.coverage
    extent = {k: char.get(k) for k in ("t_min", "t_max", "em_min", "em_max")}
    if cov is None and all(v is None for v in extent.values()):
        return None
    return {
        "did_id": did_id,
        "moc": cov.to_bytes() if cov is not None else None,
        "moc_order": cov.order if cov is not None else None,
        "sky_fraction": cov.sky_fraction if cov is not None else None,
        **extent,
    }


async def _missing_replicas(
    session: AsyncSession,
    pairs: list[tuple[int, PreparedFile]],
    rses: dict[str, tuple[int, str]],
    now: datetime,
) -> list[dict[str, Any]]:
    ids = [did_id for did_id, _ in pairs]
    stored: set[tuple[int, int]] = set()
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        rows = await session.execute(
            select(t.replica.c.did_id, t.replica.c.rse_id).where(
                t.replica.c.did_id.in_(ids[start : start + _LOOKUP_CHUNK])
            )
        )
        stored.update((r.did_id, r.rse_id) for r in rows)
    return [
        row
        for did_id, item in pairs
        for row in _replica_rows(did_id, item.spec, rses, now)
        if (did_id, row["rse_id"]) not in stored
    ]


async def add_files(
    session: AsyncSession,
    batch: Sequence[PreparedFile],
    rses: dict[str, tuple[int, str]],
    now: datetime,
    index_cells: int,
) -> BatchResult:
    """Register a batch of files; existing identical files are left as they are.

    ``rses`` maps RSE names to (id, base URL). A file that contradicts its stored registration
    (checksum, size, type, deleted name) is reported as a conflict and not written. A file the
    batch names again is checked against its first registration, in a second pass.
    """
    result = BatchResult()
    await ensure_scopes(session, {item.spec.key.scope for item in batch}, now)
    existing = await find_dids(session, [item.spec.key for item in batch])
    fresh: list[PreparedFile] = []
    known: list[tuple[int, PreparedFile]] = []
    seen: set[DIDKey] = set()
    repeats: list[PreparedFile] = []
    for item in batch:
        if item.spec.key in seen:
            repeats.append(item)
            continue
        seen.add(item.spec.key)
        row = existing.get(item.spec.key)
        if row is None:
            fresh.append(item)
            continue
        problem = _conflict(item.spec, row)
        if problem:
            result.outcomes.append((Outcome.CONFLICT, item.spec.key, problem))
        else:
            result.outcomes.append((Outcome.UNCHANGED, item.spec.key, ""))
            result.did_ids.append(row["id"])
            known.append((row["id"], item))
    replica_rows = await _missing_replicas(session, known, rses, now) if known else []
    if fresh:
        new_ids = await _insert_dids(session, fresh, now)
        result.new_ids = new_ids
        result.did_ids.extend(new_ids)
        result.outcomes.extend((Outcome.REGISTERED, i.spec.key, "") for i in fresh)
        await _insert_details(session, list(zip(new_ids, fresh, strict=True)), index_cells)
        replica_rows += [
            row
            for did_id, item in zip(new_ids, fresh, strict=True)
            for row in _replica_rows(did_id, item.spec, rses, now)
        ]
    if replica_rows:
        await session.execute(insert(t.replica), replica_rows)
    if repeats:
        again = await add_files(session, repeats, rses, now, index_cells)
        result.outcomes.extend(again.outcomes)
        result.did_ids.extend(again.did_ids)
    return result


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
    statement = insert(t.did).returning(t.did.c.id, sort_by_parameter_order=True)
    return list((await session.scalars(statement, rows)).all())


async def _insert_details(
    session: AsyncSession, pairs: list[tuple[int, PreparedFile]], index_cells: int
) -> None:
    empty = {f.name: None for f in t.characterisation.c if f.name != "did_id"}
    char_rows = [
        {**empty, "did_id": did_id, **item.characterisation}
        for did_id, item in pairs
        if item.characterisation
    ]
    coverage_rows = [row for did_id, item in pairs if (row := _coverage_row(did_id, item))]
    cell_rows = [
        {"did_id": did_id, "lo": int(lo), "hi": int(hi)}
        for did_id, item in pairs
        if item.coverage is not None
        for lo, hi in (
            item.cells if item.cells is not None else item.coverage.index_cells(index_cells)
        ).tolist()
    ]
    meta = [row for did_id, item in pairs for row in meta_rows(did_id, item.spec.metadata)]
    for table, rows in (
        (t.characterisation, char_rows),
        (t.coverage, coverage_rows),
        (t.coverage_cell, cell_rows),
        (t.did_meta, meta),
    ):
        if rows:
            await session.execute(insert(table), rows)
