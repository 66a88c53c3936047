"""Storage elements and the replicas on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.errors import ConflictError, NotFoundError
from catalogue.models import RSE, DIDKey, DIDType, ReplicaSpec, ReplicaState
from catalogue.store import tables as t
from catalogue.store.files import replica_url


async def add_rse(session: AsyncSession, rse: RSE, now: datetime) -> None:
    """Register an RSE; registering the same one again changes nothing, another is a conflict."""
    stored = {r.name: r for r in await list_rses(session)}.get(rse.name)
    if stored == rse:
        return
    if stored is not None:
        raise ConflictError(f"RSE {rse.name!r} is already registered with other settings")
    await session.execute(
        insert(t.rse).values(
            name=rse.name,
            base_url=rse.base_url,
            qos_class=rse.qos_class,
            deterministic=rse.deterministic,
            read_only=rse.read_only,
            created_at=now,
        )
    )


async def list_rses(session: AsyncSession) -> list[RSE]:
    """All RSEs by name."""
    rows = await session.execute(select(t.rse).order_by(t.rse.c.name))
    return [
        RSE(r["name"], r["base_url"], r["qos_class"], r["deterministic"], r["read_only"])
        for r in rows.mappings()
    ]


async def find_rses(session: AsyncSession, names: set[str]) -> dict[str, tuple[int, str, bool]]:
    """(id, base URL, read-only) of those of the named RSEs that exist."""
    rows = await session.execute(
        select(t.rse.c.name, t.rse.c.id, t.rse.c.base_url, t.rse.c.read_only).where(
            t.rse.c.name.in_(sorted(names))
        )
    )
    return {r.name: (r.id, r.base_url, r.read_only) for r in rows}


def rse_problem(name: str, found: tuple[int, str, bool] | None) -> str | None:
    """Why no replica can be registered on an RSE, or ``None``."""
    if found is None:
        return (
            f"RSE {name!r} is not registered; add it first with `lakecat rse add {name} BASE_URL`"
        )
    if found[2]:
        return f"RSE {name!r} is read-only; no replicas can be added to it"
    return None


async def require_rse(session: AsyncSession, name: str) -> tuple[int, str, bool]:
    """An RSE by name; a missing one is an error saying how to register it."""
    found = (await find_rses(session, {name})).get(name)
    problem = rse_problem(name, found)
    if found is None:
        raise NotFoundError(str(problem))
    return found


async def add_replicas(
    session: AsyncSession, row: Any, replicas: Sequence[ReplicaSpec], now: datetime
) -> int:
    """Add replicas of a file; an identical one is kept, another URL on the same RSE conflicts."""
    key = DIDKey(row["scope"], row["name"])
    if row["did_type"] != DIDType.FILE:
        raise ConflictError(f"{key} is a {row['did_type']}; only files have replicas")
    found = await find_rses(session, {r.rse for r in replicas})
    rows = await session.execute(
        select(t.replica.c.rse_id, t.replica.c.url).where(t.replica.c.did_id == row["id"])
    )
    stored: dict[int, str] = {r.rse_id: r.url for r in rows}
    added = 0
    for replica in replicas:
        problem = rse_problem(replica.rse, found.get(replica.rse))
        if problem:
            raise NotFoundError(problem) if replica.rse not in found else ConflictError(problem)
        rse_id, base_url, _ = found[replica.rse]
        url = replica_url(replica, base_url, key)
        if rse_id in stored:
            if stored[rse_id] != url:
                raise ConflictError(
                    f"{key} already has a replica on {replica.rse} at {stored[rse_id]}"
                )
            continue
        await session.execute(
            insert(t.replica).values(
                did_id=row["id"],
                rse_id=rse_id,
                url=url,
                state=replica.state.value,
                created_at=now,
                updated_at=now,
            )
        )
        stored[rse_id] = url
        added += 1
    return added


async def set_replica_state(
    session: AsyncSession, row: Any, rse_name: str, state: ReplicaState, now: datetime
) -> None:
    """Change the state of a file's replica on an RSE."""
    rse_id, _, _ = await require_rse(session, rse_name)
    result = await session.execute(
        update(t.replica)
        .where(t.replica.c.did_id == row["id"], t.replica.c.rse_id == rse_id)
        .values(state=state.value, updated_at=now)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFoundError(f"{row['scope']}:{row['name']} has no replica on {rse_name}")
