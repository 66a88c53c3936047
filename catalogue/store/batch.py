"""Reading many DIDs' parts at once, for the API's per-request loaders (no N+1 queries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.authorization import Viewer
from catalogue.coverage import Coverage
from catalogue.models import DID, DIDKey, Extent, MetaValue, Replica, ReplicaState
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT
from catalogue.store.rows import (
    coverage_from_row,
    did_from_row,
    extent_from_row,
    metadata_from_rows,
)
from catalogue.store.visibility import did_visible


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + IN_LIST_LIMIT] for i in range(0, len(unique), IN_LIST_LIMIT)]


async def dids_by_id(session: AsyncSession, ids: Sequence[int], viewer: Viewer) -> dict[int, DID]:
    """DIDs ``viewer`` may see, by id."""
    found: dict[int, DID] = {}
    for chunk in _chunks(ids):
        rows = await session.execute(
            select(t.did).where(t.did.c.id.in_(chunk), did_visible(viewer))
        )
        found.update({r["id"]: did_from_row(r) for r in rows.mappings()})
    return found


async def dids_by_key(
    session: AsyncSession, keys: Sequence[DIDKey], viewer: Viewer
) -> dict[DIDKey, DID]:
    """DIDs ``viewer`` may see, by ``scope:name``."""
    found: dict[DIDKey, DID] = {}
    by_scope: dict[str, list[str]] = {}
    for key in keys:
        by_scope.setdefault(key.scope, []).append(key.name)
    for scope, names in by_scope.items():
        for start in range(0, len(names), IN_LIST_LIMIT):
            rows = await session.execute(
                select(t.did).where(
                    t.did.c.scope == scope,
                    t.did.c.name.in_(names[start : start + IN_LIST_LIMIT]),
                    did_visible(viewer),
                )
            )
            found.update({DIDKey(scope, r["name"]): did_from_row(r) for r in rows.mappings()})
    return found


async def replicas_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[Replica]]:
    """Each DID's replicas, by RSE name."""
    found: dict[int, list[Replica]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        rows = await session.execute(
            select(
                t.replica.c.did_id,
                t.rse.c.name,
                t.replica.c.url,
                t.replica.c.state,
                t.replica.c.updated_at,
            )
            .join(t.rse, t.rse.c.id == t.replica.c.rse_id)
            .where(t.replica.c.did_id.in_(chunk))
            .order_by(t.replica.c.did_id, t.rse.c.name)
        )
        for r in rows:
            found[r.did_id].append(Replica(r.name, r.url, ReplicaState(r.state), r.updated_at))
    return found


async def parents_of(
    session: AsyncSession, ids: Sequence[int], viewer: Viewer
) -> dict[int, list[DID]]:
    """Each DID's direct parents that ``viewer`` may see."""
    found: dict[int, list[DID]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        rows = await session.execute(
            select(t.attachment.c.child_id.label("child"), t.did)
            .join(t.did, t.did.c.id == t.attachment.c.parent_id)
            .where(t.attachment.c.child_id.in_(chunk), did_visible(viewer))
            .order_by(t.did.c.scope, t.did.c.name)
        )
        for r in rows.mappings():
            found[r["child"]].append(did_from_row(r))
    return found


async def metadata_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, MetaValue]]:
    """Each DID's metadata."""
    rows_by_id: dict[int, list[Any]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        rows = await session.execute(
            select(t.did_meta)
            .where(t.did_meta.c.did_id.in_(chunk))
            .order_by(t.did_meta.c.did_id, t.did_meta.c.key, t.did_meta.c.position)
        )
        for r in rows.mappings():
            rows_by_id[r["did_id"]].append(r)
    return {i: metadata_from_rows(rows) for i, rows in rows_by_id.items()}


async def characterisation_of(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """Each DID's ObsCore characterisation (present fields only)."""
    found: dict[int, dict[str, Any]] = {i: {} for i in ids}
    for chunk in _chunks(ids):
        rows = await session.execute(
            select(t.characterisation).where(t.characterisation.c.did_id.in_(chunk))
        )
        for r in rows.mappings():
            found[r["did_id"]] = {
                k: v for k, v in r.items() if k not in t.CHARACTERISATION_INTERNAL and v is not None
            }
    return found


async def extents_of(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, tuple[Extent, Coverage | None] | None]:
    """Each DID's extent and MOC."""
    found: dict[int, tuple[Extent, Coverage | None] | None] = dict.fromkeys(ids)
    for chunk in _chunks(ids):
        rows = await session.execute(select(t.coverage).where(t.coverage.c.did_id.in_(chunk)))
        for r in rows.mappings():
            found[r["did_id"]] = (extent_from_row(r), coverage_from_row(r))
    return found
