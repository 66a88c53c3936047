"""DIDs one at a time: RSEs, collections, attachments, and reading a DID back whole."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.authorization import EVERYTHING, Viewer
from catalogue.coverage import Coverage
from catalogue.errors import AttachmentError, ConflictError, NotFoundError
from catalogue.models import (
    DID,
    DIDDetail,
    DIDKey,
    DIDType,
    MetaValue,
    Replica,
    ReplicaState,
)
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT
from catalogue.store.extents import (
    Contribution,
    contribution_of,
    merge_upward,
    recompute_upward,
)
from catalogue.store.files import ensure_scopes, find_dids
from catalogue.store.rows import (
    coverage_from_row,
    did_from_row,
    extent_from_row,
    meta_rows,
    metadata_from_rows,
)
from catalogue.store.visibility import did_visible

_MEMBER_TYPES = {
    DIDType.DATASET: {DIDType.FILE},
    DIDType.CONTAINER: {DIDType.DATASET, DIDType.CONTAINER},
}


def dataset_problem(key: DIDKey, row: Any) -> str | None:
    """Why files cannot be attached to a dataset (missing is fine: it is created)."""
    if row is None:
        return None
    if row["deleted_at"] is not None:
        return f"dataset {key} was deleted; a DID name is never reused"
    if row["did_type"] != DIDType.DATASET:
        return f"{key} is a {row['did_type']}, not a dataset; files attach to datasets"
    if not row["is_open"]:
        return f"dataset {key} is closed; it takes no new files"
    return None


async def list_scopes(session: AsyncSession) -> list[str]:
    """All scope names."""
    return list((await session.scalars(select(t.scope.c.name).order_by(t.scope.c.name))).all())


async def get_did_row(session: AsyncSession, key: DIDKey, viewer: Viewer = EVERYTHING) -> Any:
    """The ``did`` row of a key ``viewer`` may see, or ``None``.

    Writes name their target in a scope the caller may write, so they look it up as
    :data:`EVERYTHING`; DIDs a write merely refers to (members to attach) are looked up with
    the caller's view, so that a hidden one reads as missing.
    """
    row = await session.execute(
        select(t.did).where(
            t.did.c.scope == key.scope, t.did.c.name == key.name, did_visible(viewer)
        )
    )
    return row.mappings().first()


async def require_did(session: AsyncSession, key: DIDKey, viewer: Viewer = EVERYTHING) -> Any:
    """The ``did`` row of a key ``viewer`` may see; a missing DID is an error."""
    row = await get_did_row(session, key, viewer)
    if row is None:
        raise NotFoundError(f"DID {key} does not exist")
    return row


async def add_collection(
    session: AsyncSession,
    key: DIDKey,
    did_type: DIDType,
    metadata: dict[str, MetaValue],
    now: datetime,
) -> tuple[DID, bool]:
    """Create an open dataset or container; an existing one of the same type is returned as is."""
    existing = (await find_dids(session, [key])).get(key)
    if existing is not None:
        if existing["deleted_at"] is not None:
            raise ConflictError(f"{key} was deleted; a DID name is never reused")
        if existing["did_type"] != did_type:
            raise ConflictError(f"{key} is already registered as a {existing['did_type']}")
        return did_from_row(existing), False
    await ensure_scopes(session, {key.scope}, now)
    did_id = await session.scalar(
        insert(t.did)
        .values(
            scope=key.scope,
            name=key.name,
            did_type=did_type.value,
            is_open=True,
            length=0,
            bytes=0 if did_type is DIDType.DATASET else None,
            created_at=now,
            updated_at=now,
        )
        .returning(t.did.c.id)
    )
    if metadata:
        await session.execute(insert(t.did_meta), meta_rows(int(did_id or 0), metadata))
    return did_from_row(await require_did(session, key)), True


async def ancestors(session: AsyncSession, did_id: int) -> set[int]:
    """Ids of every collection above a DID."""
    up = (
        select(t.attachment.c.parent_id.label("id"))
        .where(t.attachment.c.child_id == did_id)
        .cte("up", recursive=True)
    )
    up = up.union(select(t.attachment.c.parent_id).where(t.attachment.c.child_id == up.c.id))
    return set((await session.scalars(select(up.c.id))).all())


def check_accepts(parent: Any, child_type: DIDType, label: str = "") -> None:
    """Reject content a collection cannot take: wrong type, or the collection is closed."""
    name = f"{parent['scope']}:{parent['name']}"
    parent_type = DIDType(parent["did_type"])
    if parent_type not in _MEMBER_TYPES:
        raise AttachmentError(f"{name} is a FILE; it has no content")
    if not parent["is_open"]:
        raise AttachmentError(f"{name} is closed; it takes no new content")
    if child_type not in _MEMBER_TYPES[parent_type]:
        allowed = " or ".join(sorted(_MEMBER_TYPES[parent_type]))
        raise AttachmentError(f"a {parent_type} holds {allowed} DIDs; {label} is a {child_type}")


async def attach(
    session: AsyncSession,
    parent: Any,
    children: Sequence[Any],
    now: datetime,
    index_cells: int,
) -> int:
    """Attach children rows to a parent row; returns how many were newly attached."""
    above = await ancestors(session, parent["id"]) | {parent["id"]}
    for child in children:
        label = f"{child['scope']}:{child['name']}"
        check_accepts(parent, DIDType(child["did_type"]), label)
        if child["id"] in above:
            raise AttachmentError(f"attaching {label} would make a cycle")
    return await attach_ids(session, parent, [c["id"] for c in children], now, index_cells)


async def attach_ids(
    session: AsyncSession,
    parent: Any,
    child_ids: Sequence[int],
    now: datetime,
    index_cells: int,
    contribution: Contribution | None = None,
) -> int:
    """Attach already-checked children by id; updates length, bytes and the extent upward.

    ``contribution`` is the children's combined extent when the caller already has it.
    """
    stored: set[int] = set()
    for start in range(0, len(child_ids), IN_LIST_LIMIT):
        rows = await session.scalars(
            select(t.attachment.c.child_id).where(
                t.attachment.c.parent_id == parent["id"],
                t.attachment.c.child_id.in_(child_ids[start : start + IN_LIST_LIMIT]),
            )
        )
        stored.update(rows.all())
    new = [i for i in dict.fromkeys(child_ids) if i not in stored]
    if not new:
        return 0
    await session.execute(
        insert(t.attachment),
        [{"parent_id": parent["id"], "child_id": i, "created_at": now} for i in new],
    )
    added_bytes = 0
    if parent["did_type"] == DIDType.DATASET:
        for start in range(0, len(new), IN_LIST_LIMIT):
            added_bytes += int(
                await session.scalar(
                    select(func.coalesce(func.sum(t.did.c.bytes), 0)).where(
                        t.did.c.id.in_(new[start : start + IN_LIST_LIMIT])
                    )
                )
                or 0
            )
    await session.execute(
        update(t.did)
        .where(t.did.c.id == parent["id"])
        .values(
            length=t.did.c.length + len(new),
            updated_at=now,
            bytes=t.did.c.bytes + added_bytes
            if parent["did_type"] == DIDType.DATASET
            else t.did.c.bytes,
        )
    )
    if contribution is None or len(new) != len(set(child_ids)):
        contribution = await contribution_of(session, new)
    await merge_upward(session, parent["id"], contribution, index_cells)
    return len(new)


async def detach(
    session: AsyncSession, parent: Any, children: Sequence[Any], now: datetime, index_cells: int
) -> int:
    """Detach children; the parent's extent is recomputed from its remaining members."""
    ids = [c["id"] for c in children]
    members = t.attachment.c.parent_id == parent["id"], t.attachment.c.child_id.in_(ids)
    attached = set((await session.scalars(select(t.attachment.c.child_id).where(*members))).all())
    result = await session.execute(delete(t.attachment).where(*members))
    removed = int(result.rowcount)  # type: ignore[attr-defined]
    if removed:
        gone = {c["id"]: c["bytes"] or 0 for c in children if c["id"] in attached}
        removed_bytes = sum(gone.values()) if parent["did_type"] == DIDType.DATASET else 0
        await session.execute(
            update(t.did)
            .where(t.did.c.id == parent["id"])
            .values(
                length=t.did.c.length - removed,
                updated_at=now,
                bytes=t.did.c.bytes - removed_bytes
                if parent["did_type"] == DIDType.DATASET
                else t.did.c.bytes,
            )
        )
        await recompute_upward(session, parent["id"], index_cells)
    return removed


async def close(session: AsyncSession, row: Any, now: datetime) -> None:
    """Close a collection: it accepts no more content, and cannot be reopened (as in Rucio)."""
    if row["did_type"] == DIDType.FILE:
        raise AttachmentError(f"{row['scope']}:{row['name']} is a FILE; only collections close")
    await session.execute(
        update(t.did).where(t.did.c.id == row["id"]).values(is_open=False, updated_at=now)
    )


async def relatives(
    session: AsyncSession, did_id: int, *, down: bool, recursive: bool, viewer: Viewer
) -> list[DID]:
    """Children (``down``) or parents of a DID, directly or at any depth."""
    near, far = (
        (t.attachment.c.parent_id, t.attachment.c.child_id)
        if down
        else (t.attachment.c.child_id, t.attachment.c.parent_id)
    )
    walk = select(far.label("id"), literal(1).label("depth")).where(near == did_id)
    if recursive:
        cte = walk.cte("walk", recursive=True)
        cte = cte.union(select(far, cte.c.depth + 1).where(near == cte.c.id))
        ids = select(cte.c.id).distinct()
    else:
        ids = select(walk.subquery().c.id)
    rows = await session.execute(
        select(t.did)
        .where(t.did.c.id.in_(ids), did_visible(viewer))
        .order_by(t.did.c.scope, t.did.c.name)
    )
    return [did_from_row(r) for r in rows.mappings()]


async def get_detail(session: AsyncSession, key: DIDKey, viewer: Viewer) -> DIDDetail | None:
    """A DID with its characterisation, metadata, replicas and extent; ``None`` if hidden."""
    row = await get_did_row(session, key, viewer)
    if row is None:
        return None
    did_id = row["id"]
    char = (
        (
            await session.execute(
                select(t.characterisation).where(t.characterisation.c.did_id == did_id)
            )
        )
        .mappings()
        .first()
    )
    meta = (
        (
            await session.execute(
                select(t.did_meta).where(t.did_meta.c.did_id == did_id).order_by(t.did_meta.c.key)
            )
        )
        .mappings()
        .all()
    )
    replicas = (
        await session.execute(
            select(t.rse.c.name, t.replica.c.url, t.replica.c.state, t.replica.c.updated_at)
            .join(t.rse, t.rse.c.id == t.replica.c.rse_id)
            .where(t.replica.c.did_id == did_id)
            .order_by(t.rse.c.name)
        )
    ).all()
    extent = (
        (await session.execute(select(t.coverage).where(t.coverage.c.did_id == did_id)))
        .mappings()
        .first()
    )
    return DIDDetail(
        did=did_from_row(row),
        characterisation={
            k: v
            for k, v in (char or {}).items()
            if k not in t.CHARACTERISATION_INTERNAL and v is not None
        },
        metadata=metadata_from_rows(list(meta)),
        replicas=[Replica(r.name, r.url, ReplicaState(r.state), r.updated_at) for r in replicas],
        extent=extent_from_row(extent) if extent else None,
    )


async def set_metadata(
    session: AsyncSession,
    did_id: int,
    metadata: dict[str, MetaValue],
    now: datetime,
    *,
    replace_all: bool = False,
) -> None:
    """Set metadata keys of a DID; with ``replace_all`` the keys not given are removed."""
    stale = t.did_meta.c.did_id == did_id
    if not replace_all:
        stale = stale & t.did_meta.c.key.in_(metadata)
    await session.execute(delete(t.did_meta).where(stale))
    rows = meta_rows(did_id, metadata)
    if rows:
        await session.execute(insert(t.did_meta), rows)
    await session.execute(update(t.did).where(t.did.c.id == did_id).values(updated_at=now))


async def get_coverage(session: AsyncSession, did_id: int) -> Coverage | None:
    """The stored MOC of a DID."""
    row = (
        (
            await session.execute(
                select(t.coverage.c.moc, t.coverage.c.moc_order).where(
                    t.coverage.c.did_id == did_id
                )
            )
        )
        .mappings()
        .first()
    )
    return coverage_from_row(row) if row else None


async def delete_did(session: AsyncSession, row: Any, now: datetime, index_cells: int) -> None:
    """Delete a file or an empty collection, keeping a tombstone so its name is never reused.

    It is detached from its parents (their extents are recomputed), its replicas and index
    cells go; its row stays with ``deleted_at`` set and every search skips it.
    """
    key = DIDKey(row["scope"], row["name"])
    if row["did_type"] != DIDType.FILE:
        members = await session.scalar(
            select(func.count()).where(t.attachment.c.parent_id == row["id"])
        )
        if members:
            raise AttachmentError(f"{key} still holds {members} DIDs; detach them first")
    parent_rows = (
        (
            await session.execute(
                select(t.did).where(
                    t.did.c.id.in_(
                        select(t.attachment.c.parent_id).where(t.attachment.c.child_id == row["id"])
                    )
                )
            )
        )
        .mappings()
        .all()
    )
    for parent in parent_rows:
        await detach(session, parent, [row], now, index_cells)
    for table in (t.replica, t.coverage_cell):
        await session.execute(delete(table).where(table.c.did_id == row["id"]))
    await session.execute(
        update(t.did).where(t.did.c.id == row["id"]).values(deleted_at=now, updated_at=now)
    )
