"""The DIDs a Rucio server owns, in SQL (catalogue/rucio.py, catalogue/sync_writes.py).

Like a batch of files (``files.py``), a chunk of DIDs is written with a fixed number of
statements per kind of change; the caller owns the transaction, so a chunk and its run's
counters commit together. Runs and RSEs are in ``rucio_runs.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.models import DIDKey, DIDType, MetaValue
from catalogue.rucio import RucioReplica
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT, in_chunks, insert_rows, insert_with_ids, matches
from catalogue.store.rows import meta_rows


async def synced_rse_ids(session: AsyncSession) -> set[int]:
    """Ids of the RSEs a sync brought (the RSEs whose replicas follow Rucio)."""
    return set((await session.scalars(select(t.rucio_rse.c.rse_id))).all())


@dataclass(frozen=True, slots=True)
class Known:
    """A stored DID as a sync sees it: its row, and Rucio's record of it when Rucio owns it."""

    id: int
    type: DIDType
    deleted: bool
    bytes: int | None
    adler32: str | None
    md5: str | None
    digest: str | None  # None: lakecat's own DID (not synced yet)
    meta_keys: tuple[str, ...]


async def known_dids(session: AsyncSession, keys: Sequence[DIDKey]) -> dict[DIDKey, Known]:
    """The stored DIDs (tombstones included) among the keys, with their sync records."""
    found: dict[DIDKey, Known] = {}
    by_scope: dict[str, list[str]] = {}
    for key in keys:
        by_scope.setdefault(key.scope, []).append(key.name)
    d, r = t.did, t.rucio_did
    for scope, names in by_scope.items():
        for chunk in in_chunks(session, names):
            rows = await session.execute(
                select(
                    d.c.id,
                    d.c.name,
                    d.c.did_type,
                    d.c.deleted_at,
                    d.c.bytes,
                    d.c.adler32,
                    d.c.md5,
                    r.c.digest,
                    r.c.meta_keys,
                )
                .outerjoin(r, r.c.did_id == d.c.id)
                .where(d.c.scope == scope, matches(session, d.c.name, chunk))
            )
            for row in rows:
                found[DIDKey(scope, row.name)] = Known(
                    id=int(row.id),
                    type=DIDType(row.did_type),
                    deleted=row.deleted_at is not None,
                    bytes=row.bytes,
                    adler32=row.adler32,
                    md5=row.md5,
                    digest=row.digest,
                    meta_keys=tuple(json.loads(row.meta_keys)) if row.meta_keys else (),
                )
    return found


async def insert_collections(
    session: AsyncSession,
    rows: Sequence[tuple[DIDKey, DIDType, bool]],
    now: datetime,
) -> list[int]:
    """New datasets and containers (empty; their content is attached later); their ids."""
    return await insert_with_ids(
        session,
        t.did,
        [
            {
                "scope": key.scope,
                "name": key.name,
                "did_type": did_type.value,
                "bytes": 0 if did_type is DIDType.DATASET else None,
                "adler32": None,
                "md5": None,
                "guid": None,
                "is_open": is_open,
                "length": 0,
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
                "withdrawn_at": None,
            }
            for key, did_type, is_open in rows
        ],
    )


async def set_open(
    session: AsyncSession, did_ids: Sequence[int], is_open: bool, now: datetime
) -> None:
    """Open or close collections, as Rucio has them."""
    for start in range(0, len(did_ids), IN_LIST_LIMIT):
        chunk = list(did_ids[start : start + IN_LIST_LIMIT])
        await session.execute(
            update(t.did).where(t.did.c.id.in_(chunk)).values(is_open=is_open, updated_at=now)
        )


async def set_guid(session: AsyncSession, did_id: int, guid: str | None) -> None:
    """A file's GUID, as Rucio has it."""
    await session.execute(update(t.did).where(t.did.c.id == did_id).values(guid=guid))


async def replace_metadata(
    session: AsyncSession,
    changes: Sequence[tuple[int, Sequence[str], Mapping[str, MetaValue]]],
    now: datetime,
) -> None:
    """For each (DID, keys written before, metadata): drop those keys, write the metadata.

    Keys lakecat's own writes added (not among the keys a sync wrote) stay.
    """
    for did_id, old_keys, values in changes:
        stale = set(old_keys) | set(values)
        if stale:
            await session.execute(
                delete(t.did_meta).where(
                    t.did_meta.c.did_id == did_id, t.did_meta.c.key.in_(sorted(stale))
                )
            )
    rows = [row for did_id, _, values in changes for row in meta_rows(did_id, values)]
    await insert_rows(session, t.did_meta, rows)
    ids = [did_id for did_id, _, _ in changes]
    for start in range(0, len(ids), IN_LIST_LIMIT):
        await session.execute(
            update(t.did)
            .where(t.did.c.id.in_(ids[start : start + IN_LIST_LIMIT]))
            .values(updated_at=now)
        )


async def stored_replicas(
    session: AsyncSession, did_ids: Sequence[int]
) -> dict[int, dict[int, tuple[str, str]]]:
    """Each DID's replicas: RSE id -> (URL, state)."""
    found: dict[int, dict[int, tuple[str, str]]] = {}
    for chunk in in_chunks(session, list(did_ids)):
        rows = await session.execute(
            select(
                t.replica.c.did_id, t.replica.c.rse_id, t.replica.c.url, t.replica.c.state
            ).where(matches(session, t.replica.c.did_id, chunk))
        )
        for row in rows:
            found.setdefault(int(row.did_id), {})[int(row.rse_id)] = (row.url, row.state)
    return found


async def mirror_replicas(
    session: AsyncSession,
    did_id: int,
    wanted: Mapping[int, RucioReplica],
    stored: Mapping[int, tuple[str, str]],
    followed: set[int],
    now: datetime,
    *,
    exact: bool = True,
) -> bool:
    """Make a file's replicas on Rucio's RSEs what Rucio says; True when anything changed.

    ``followed`` are the ids of the RSEs Rucio owns: with ``exact``, a replica there that
    Rucio no longer lists goes; replicas on lakecat's own RSEs are never touched.
    """
    changed = False
    for rse_id, replica in wanted.items():
        current = stored.get(rse_id)
        if current == (replica.url, replica.state.value):
            continue
        changed = True
        if current is None:
            await session.execute(
                insert(t.replica).values(
                    did_id=did_id,
                    rse_id=rse_id,
                    url=replica.url,
                    state=replica.state.value,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            await session.execute(
                update(t.replica)
                .where(t.replica.c.did_id == did_id, t.replica.c.rse_id == rse_id)
                .values(url=replica.url, state=replica.state.value, updated_at=now)
            )
    gone = [r for r in stored if r in followed and r not in wanted] if exact else []
    if gone:
        changed = True
        await session.execute(
            delete(t.replica).where(t.replica.c.did_id == did_id, t.replica.c.rse_id.in_(gone))
        )
    return changed


async def save_records(
    session: AsyncSession,
    records: Sequence[tuple[int, str, Sequence[str]]],
    fresh: set[int],
    run_id: int,
    now: datetime,
) -> None:
    """Record (DID id, digest, metadata keys written) of synced DIDs; ``fresh`` are new."""
    new_rows = [
        {
            "did_id": did_id,
            "digest": digest,
            "meta_keys": json.dumps(sorted(keys)),
            "first_run_id": run_id,
            "last_run_id": run_id,
            "synced_at": now,
        }
        for did_id, digest, keys in records
        if did_id in fresh
    ]
    await insert_rows(session, t.rucio_did, new_rows)
    for did_id, digest, keys in records:
        if did_id not in fresh:
            await session.execute(
                update(t.rucio_did)
                .where(t.rucio_did.c.did_id == did_id)
                .values(
                    digest=digest,
                    meta_keys=json.dumps(sorted(keys)),
                    last_run_id=run_id,
                    synced_at=now,
                )
            )


async def forget_digests(session: AsyncSession, did_ids: Sequence[int]) -> None:
    """Make the next full sync rewrite these DIDs (an event changed them)."""
    for start in range(0, len(did_ids), IN_LIST_LIMIT):
        chunk = list(did_ids[start : start + IN_LIST_LIMIT])
        await session.execute(
            update(t.rucio_did).where(t.rucio_did.c.did_id.in_(chunk)).values(digest="")
        )


@dataclass(frozen=True, slots=True)
class ScopeEntry:
    """A live DID of a scope: its id, type, and whether Rucio owns it."""

    id: int
    type: DIDType
    synced: bool


async def scope_entries(session: AsyncSession, scope: str) -> dict[str, ScopeEntry]:
    """Every live DID of a scope by name."""
    rows = await session.execute(
        select(t.did.c.id, t.did.c.name, t.did.c.did_type, t.rucio_did.c.did_id.label("synced"))
        .outerjoin(t.rucio_did, t.rucio_did.c.did_id == t.did.c.id)
        .where(t.did.c.scope == scope, t.did.c.deleted_at.is_(None))
    )
    return {r.name: ScopeEntry(int(r.id), DIDType(r.did_type), r.synced is not None) for r in rows}


async def children(session: AsyncSession, parent_id: int) -> dict[int, DIDKey]:
    """A collection's direct members: id -> key."""
    rows = await session.execute(
        select(t.did.c.id, t.did.c.scope, t.did.c.name)
        .join(t.attachment, t.attachment.c.child_id == t.did.c.id)
        .where(t.attachment.c.parent_id == parent_id)
    )
    return {int(r.id): DIDKey(r.scope, r.name) for r in rows}


async def roots(session: AsyncSession, scope: str) -> list[DIDKey]:
    """The scope's synced DIDs that no collection holds: collections, and files on their own.

    Asking Rucio for the replicas of these covers every file of the scope that is attached
    within it (Rucio expands collections).
    """
    held = select(t.attachment.c.child_id)
    rows = await session.execute(
        select(t.did.c.name)
        .join(t.rucio_did, t.rucio_did.c.did_id == t.did.c.id)
        .where(and_(t.did.c.scope == scope, t.did.c.deleted_at.is_(None), t.did.c.id.not_in(held)))
        .order_by(t.did.c.name)
    )
    return [DIDKey(scope, name) for name in rows.scalars()]
