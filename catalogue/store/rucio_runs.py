"""Rucio sync runs and the RSEs a sync brought, in SQL (catalogue/rucio.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, desc, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.models import RSE
from catalogue.rucio import (
    RucioRSE,
    SyncCounts,
    SyncedRSE,
    SyncMode,
    SyncProblem,
    SyncRun,
    SyncStatus,
)
from catalogue.store import tables as t
from catalogue.store.bulk import insert_with_ids

#: A run keeps its first problems; the counts are always exact.
MAX_PROBLEMS = 1000
_COUNTS = (
    "added",
    "updated",
    "unchanged",
    "deleted",
    "attached",
    "detached",
    "conflicts",
    "failed",
)


# -- runs ---------------------------------------------------------------------------------


async def start_run(
    session: AsyncSession,
    *,
    url: str,
    account: str,
    scopes: Sequence[str],
    mode: SyncMode,
    caller: str,
    since: datetime | None,
    server_time: datetime | None,
    now: datetime,
) -> int:
    """A new RUNNING run."""
    row: dict[str, Any] = {
        "url": url,
        "account": account,
        "scopes": json.dumps(sorted(scopes)),
        "mode": mode.value,
        "caller": caller,
        "status": SyncStatus.RUNNING.value,
        "started_at": now,
        "ended_at": None,
        "since": since,
        "server_time": server_time,
        "problems": "[]",
        "error": None,
        "checkpoint": "{}",
        **dict.fromkeys(_COUNTS, 0),
    }
    return (await insert_with_ids(session, t.rucio_sync_run, [row]))[0]


async def save_run(
    session: AsyncSession,
    run_id: int,
    *,
    status: SyncStatus,
    counts: SyncCounts,
    problems: Sequence[SyncProblem],
    error: str | None,
    checkpoint: Mapping[str, Any],
    ended_at: datetime | None,
) -> None:
    """Write a run's state (in the transaction of the step it describes)."""
    await session.execute(
        update(t.rucio_sync_run)
        .where(t.rucio_sync_run.c.id == run_id)
        .values(
            status=status.value,
            **{name: getattr(counts, name) for name in _COUNTS},
            problems=json.dumps([[p.where, p.reason, p.conflict] for p in problems[:MAX_PROBLEMS]]),
            error=error,
            checkpoint=json.dumps(checkpoint, sort_keys=True),
            ended_at=ended_at,
        )
    )


def _run(row: RowMapping) -> SyncRun:
    return SyncRun(
        id=int(row["id"]),
        url=row["url"],
        account=row["account"],
        scopes=json.loads(row["scopes"]),
        mode=SyncMode(row["mode"]),
        caller=row["caller"],
        status=SyncStatus(row["status"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        since=row["since"],
        server_time=row["server_time"],
        counts=SyncCounts(*(int(row[name]) for name in _COUNTS)),
        problems=[SyncProblem(w, r, bool(c)) for w, r, c in json.loads(row["problems"])],
        error=row["error"],
        checkpoint=json.loads(row["checkpoint"]),
    )


async def list_runs(
    session: AsyncSession,
    *,
    url: str | None = None,
    scopes: Sequence[str] | None = None,
    run_id: int | None = None,
    limit: int = 20,
) -> list[SyncRun]:
    """Runs, newest first: of one server (and set of scopes), or all."""
    run = t.rucio_sync_run
    query = select(run).order_by(desc(run.c.started_at), desc(run.c.id)).limit(limit)
    if url is not None:
        query = query.where(run.c.url == url)
    if scopes is not None:
        query = query.where(run.c.scopes == json.dumps(sorted(scopes)))
    if run_id is not None:
        query = query.where(run.c.id == run_id)
    return [_run(r) for r in (await session.execute(query)).mappings()]


async def latest_run(
    session: AsyncSession, url: str, scopes: Sequence[str], *, status: SyncStatus | None = None
) -> SyncRun | None:
    """The latest full or incremental run of a server and set of scopes (with a status)."""
    run = t.rucio_sync_run
    query = (
        select(run)
        .where(
            run.c.url == url,
            run.c.scopes == json.dumps(sorted(scopes)),
            run.c.mode.in_([SyncMode.FULL.value, SyncMode.INCREMENTAL.value]),
        )
        .order_by(desc(run.c.started_at), desc(run.c.id))
        .limit(1)
    )
    if status is not None:
        query = query.where(run.c.status == status.value)
    row = (await session.execute(query)).mappings().first()
    return _run(row) if row is not None else None


# -- RSEs ---------------------------------------------------------------------------------


async def update_rse(session: AsyncSession, rse_id: int, rse: RSE) -> None:
    """Follow Rucio's settings of an RSE it owns."""
    await session.execute(
        update(t.rse)
        .where(t.rse.c.id == rse_id)
        .values(
            base_url=rse.base_url,
            qos_class=rse.qos_class,
            deterministic=rse.deterministic,
            read_only=rse.read_only,
        )
    )


async def save_rucio_rse(
    session: AsyncSession, rse_id: int, rucio: RucioRSE, now: datetime
) -> None:
    """Keep Rucio's protocols and attributes of an RSE."""
    values = {
        "rucio_id": rucio.rucio_id,
        "rse_type": rucio.rse_type,
        "protocols": json.dumps(list(rucio.protocols), sort_keys=True),
        "attributes": json.dumps(dict(rucio.attributes), sort_keys=True),
        "synced_at": now,
    }
    await session.execute(delete(t.rucio_rse).where(t.rucio_rse.c.rse_id == rse_id))
    await session.execute(insert(t.rucio_rse).values(rse_id=rse_id, **values))


async def list_synced_rses(session: AsyncSession) -> list[SyncedRSE]:
    """The RSEs a sync brought, by name."""
    rows = await session.execute(
        select(t.rse, t.rucio_rse)
        .join(t.rucio_rse, t.rucio_rse.c.rse_id == t.rse.c.id)
        .order_by(t.rse.c.name)
    )
    return [
        SyncedRSE(
            rse=RSE(r["name"], r["base_url"], r["qos_class"], r["deterministic"], r["read_only"]),
            rucio_id=r["rucio_id"],
            rse_type=r["rse_type"],
            protocols=json.loads(r["protocols"]),
            attributes=json.loads(r["attributes"]),
            synced_at=r["synced_at"],
        )
        for r in rows.mappings()
    ]
