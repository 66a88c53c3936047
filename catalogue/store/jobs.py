"""UWS 1.1 jobs of the TAP service: their state, parameters, inline uploads and result.

Kept in the relational store so that jobs survive a restart and every service process sees
the same list. Phase changes are compare-and-set (``allowed_from``), so two processes, or a
worker and an ABORT, never both win: a job aborted while it runs cannot become COMPLETED.
Nothing here knows HTTP; ``bridges/tap/uws.py`` is the protocol.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.authorization import PUBLIC, Viewer
from catalogue.store import tables as t

#: A job's parameters: upper-case names to values; ``UPLOAD`` holds (table name, URI) pairs.
Parameters = dict[str, str | list[tuple[str, str]]]


class Phase(StrEnum):
    """UWS 1.1 §2.1.3 execution phases."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


#: Phases a job can still leave by itself or on request (it has not ended).
ACTIVE_PHASES = frozenset(
    {Phase.PENDING, Phase.QUEUED, Phase.EXECUTING, Phase.HELD, Phase.SUSPENDED}
)
#: Phases that end a job: reaching one sets its end time.
FINAL_PHASES = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED, Phase.ARCHIVED})


@dataclass(frozen=True, slots=True)
class JobResult:
    """One stored result of a job, without its bytes."""

    name: str
    mime_type: str
    size: int


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as stored; ``execution_duration`` is in seconds, 0 meaning unlimited."""

    job_id: str
    run_id: str | None
    owner: str | None
    phase: Phase
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    destruction_at: datetime
    execution_duration: int
    quote: datetime | None
    parameters: Parameters
    service_url: str
    error_type: str | None
    error_message: str | None
    results: tuple[JobResult, ...] = field(default=())
    viewer: Viewer = PUBLIC  # what its owner may see: the job runs with that view


def _parameters(text: str) -> Parameters:
    """Parameters from their JSON; the UPLOAD pairs come back as tuples."""
    parameters: Parameters = json.loads(text)
    uploads = parameters.get("UPLOAD")
    if isinstance(uploads, list):
        parameters["UPLOAD"] = [(name, uri) for name, uri in uploads]
    return parameters


def _record(row: Any, results: tuple[JobResult, ...] = ()) -> JobRecord:
    return JobRecord(
        job_id=row["job_id"],
        run_id=row["run_id"],
        owner=row["owner"],
        phase=Phase(row["phase"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        destruction_at=row["destruction_at"],
        execution_duration=row["execution_duration"],
        quote=row["quote"],
        parameters=_parameters(row["parameters"]),
        service_url=row["service_url"],
        error_type=row["error_type"],
        error_message=row["error_message"],
        results=results,
        viewer=Viewer.from_json(json.loads(row["viewer"]) if row["viewer"] else None),
    )


async def add_job(
    session: AsyncSession,
    *,
    parameters: Parameters,
    uploads: Mapping[str, bytes],
    run_id: str | None,
    owner: str | None,
    service_url: str,
    now: datetime,
    destruction_at: datetime,
    execution_duration: int,
    viewer: Viewer = PUBLIC,
) -> str:
    """Create a PENDING job with its inline uploads; its new id."""
    job_id = secrets.token_hex(8)
    await session.execute(
        insert(t.uws_job).values(
            job_id=job_id,
            run_id=run_id,
            owner=owner,
            phase=Phase.PENDING.value,
            created_at=now,
            destruction_at=destruction_at,
            execution_duration=execution_duration,
            parameters=json.dumps(parameters),
            service_url=service_url,
            viewer=json.dumps(viewer.to_json()),
        )
    )
    await _put_uploads(session, job_id, uploads)
    return job_id


async def _put_uploads(session: AsyncSession, job_id: str, uploads: Mapping[str, bytes]) -> None:
    if not uploads:
        return
    await session.execute(
        delete(t.uws_upload).where(
            t.uws_upload.c.job_id == job_id, t.uws_upload.c.name.in_(sorted(uploads))
        )
    )
    await session.execute(
        insert(t.uws_upload),
        [{"job_id": job_id, "name": name, "content": data} for name, data in uploads.items()],
    )


async def get_job(session: AsyncSession, job_id: str) -> JobRecord | None:
    """One job with the description of its results, or ``None``."""
    row = (
        (await session.execute(select(t.uws_job).where(t.uws_job.c.job_id == job_id)))
        .mappings()
        .first()
    )
    if row is None:
        return None
    r = t.uws_result.c
    found = await session.execute(
        select(r.name, r.mime_type, func.length(r.content).label("size"))
        .where(r.job_id == job_id)
        .order_by(r.name)
    )
    return _record(row, tuple(JobResult(x.name, x.mime_type, x.size) for x in found))


async def list_jobs(
    session: AsyncSession,
    *,
    phases: Collection[Phase] = (),
    after: datetime | None = None,
    last: int | None = None,
    owner: str | None = None,
    by_owner: bool = False,
) -> list[JobRecord]:
    """Jobs newest first, filtered as UWS 1.1 §2.2.1.1 says.

    ``phases``: any of them (ARCHIVED jobs only when asked for by name); ``after``: created
    strictly after that instant; ``last``: only the ``last`` most recently created;
    ``by_owner``: only ``owner``'s (the anonymous ones when ``owner`` is None).
    """
    c = t.uws_job.c
    query = select(t.uws_job).order_by(c.created_at.desc(), c.job_id.desc())
    if by_owner:
        query = query.where(c.owner.is_(None) if owner is None else c.owner == owner)
    if phases:
        query = query.where(c.phase.in_(sorted(p.value for p in phases)))
    else:
        query = query.where(c.phase != Phase.ARCHIVED.value)
    if after is not None:
        query = query.where(c.created_at > after)
    if last is not None:
        query = query.limit(last)
    rows = await session.execute(query)
    return [_record(row) for row in rows.mappings()]


async def update_parameters(
    session: AsyncSession,
    job_id: str,
    parameters: Parameters,
    uploads: Mapping[str, bytes],
    run_id: str | None = None,
) -> bool:
    """Replace the parameters (and the run id, when given) of a PENDING job; whether it was."""
    values: dict[str, Any] = {"parameters": json.dumps(parameters)}
    if run_id is not None:
        values["run_id"] = run_id
    changed = await _update(session, job_id, {Phase.PENDING}, **values)
    if changed:
        await _put_uploads(session, job_id, uploads)
    return changed


async def _update(
    session: AsyncSession, job_id: str, allowed_from: Collection[Phase] | None, **values: Any
) -> bool:
    c = t.uws_job.c
    statement = update(t.uws_job).where(c.job_id == job_id).values(**values)
    if allowed_from is not None:
        statement = statement.where(c.phase.in_(sorted(p.value for p in allowed_from)))
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def change_phase(
    session: AsyncSession,
    job_id: str,
    phase: Phase,
    *,
    allowed_from: Collection[Phase],
    now: datetime,
) -> bool:
    """Move a job to ``phase`` if it is in one of ``allowed_from``; whether it moved.

    Entering EXECUTING sets the start time; entering a final phase sets the end time.
    """
    values: dict[str, Any] = {"phase": phase.value}
    if phase is Phase.EXECUTING:
        values["started_at"] = now
    if phase in FINAL_PHASES:
        values["ended_at"] = now
    return await _update(session, job_id, allowed_from, **values)


async def complete_job(
    session: AsyncSession, job_id: str, content: bytes, mime_type: str, now: datetime
) -> bool:
    """Store the result of an EXECUTING job and mark it COMPLETED; whether it was executing."""
    if not await change_phase(
        session, job_id, Phase.COMPLETED, allowed_from={Phase.EXECUTING}, now=now
    ):
        return False
    await session.execute(delete(t.uws_result).where(t.uws_result.c.job_id == job_id))
    await session.execute(
        insert(t.uws_result).values(
            job_id=job_id, name="result", mime_type=mime_type, content=content
        )
    )
    return True


async def fail_job(
    session: AsyncSession,
    job_id: str,
    message: str,
    now: datetime,
    *,
    error_type: str = "fatal",
    allowed_from: Collection[Phase] = (Phase.EXECUTING,),
) -> bool:
    """Mark a job ERROR with a message for its owner; whether it was in ``allowed_from``."""
    return await _update(
        session,
        job_id,
        allowed_from,
        phase=Phase.ERROR.value,
        ended_at=now,
        error_type=error_type,
        error_message=message,
    )


async def set_execution_duration(
    session: AsyncSession, job_id: str, seconds: int, *, allowed_from: Collection[Phase]
) -> bool:
    """Set the execution limit (seconds, 0 unlimited) of a job in ``allowed_from``."""
    return await _update(session, job_id, allowed_from, execution_duration=seconds)


async def set_destruction(session: AsyncSession, job_id: str, at: datetime) -> bool:
    """Set when the job is destroyed; whether it exists."""
    return await _update(session, job_id, None, destruction_at=at)


async def get_result(
    session: AsyncSession, job_id: str, name: str = "result"
) -> tuple[bytes, str] | None:
    """The bytes and MIME type of a stored result, or ``None``."""
    r = t.uws_result.c
    row = (
        await session.execute(
            select(r.content, r.mime_type).where(r.job_id == job_id, r.name == name)
        )
    ).first()
    return None if row is None else (bytes(row.content), row.mime_type)


async def get_uploads(session: AsyncSession, job_id: str) -> dict[str, bytes]:
    """The inline uploads of a job by part name."""
    u = t.uws_upload.c
    rows = await session.execute(select(u.name, u.content).where(u.job_id == job_id))
    return {row.name: bytes(row.content) for row in rows}


async def delete_job(session: AsyncSession, job_id: str) -> bool:
    """Delete a job with its result and uploads; whether it existed.

    The children are deleted explicitly rather than left to ``ON DELETE CASCADE``, so the
    outcome does not depend on SQLite's foreign-key pragma.
    """
    await session.execute(delete(t.uws_result).where(t.uws_result.c.job_id == job_id))
    await session.execute(delete(t.uws_upload).where(t.uws_upload.c.job_id == job_id))
    result = await session.execute(delete(t.uws_job).where(t.uws_job.c.job_id == job_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_expired(session: AsyncSession, now: datetime) -> list[str]:
    """Ids of the jobs whose destruction time has passed."""
    c = t.uws_job.c
    rows = await session.execute(
        select(c.job_id).where(c.destruction_at <= now).order_by(c.destruction_at)
    )
    return list(rows.scalars())
