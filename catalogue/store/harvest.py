"""Harvest sources, runs and records in SQL (catalogue/harvest.py says what they mean).

A chunk of records is written with a fixed number of statements, like a batch of files
(``files.py``): look up the chunk's known remote ids, insert the new DIDs with ``RETURNING``,
rewrite the details of the changed ones, and move every seen record to the current run.
The caller owns the transaction, so a chunk and its run's counters commit together.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, desc, func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from catalogue.authorization import Viewer
from catalogue.coverage import Coverage
from catalogue.errors import InvalidInputError
from catalogue.harvest import (
    LAKE_SOURCE,
    HarvestedRecord,
    HarvestInfo,
    HarvestRun,
    RecordProblem,
    RunCounts,
    RunStatus,
    SourceKind,
    SourceSpec,
)
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT, in_chunks, insert_rows, insert_with_ids, matches
from catalogue.store.files import Details, ensure_scopes, insert_details
from catalogue.store.visibility import discoverable

#: A run keeps its first problems; the count of failures is always exact.
MAX_PROBLEMS = 1000


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    """A harvested record with its final characterisation and coverage."""

    record: HarvestedRecord
    characterisation: dict[str, Any]
    coverage: Coverage | None
    digest: str


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What one chunk did, and the DIDs whose search documents changed."""

    counts: RunCounts
    changed: list[int]


def source_clause(sources: Sequence[str], did: Any = None) -> ColumnElement[bool]:
    """DIDs (of ``did``, or an alias) from any of the named sources.

    ``lake`` names the lake's own scopes.
    """
    scope = (t.did if did is None else did).c.scope
    harvested = select(t.harvest_source.c.name)
    named = [s for s in sources if s != LAKE_SOURCE]
    clauses: list[ColumnElement[bool]] = []
    if LAKE_SOURCE in sources:
        clauses.append(scope.not_in(harvested))
    if named:
        clauses.append(scope.in_(harvested.where(t.harvest_source.c.name.in_(named))))
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


async def source_names(session: AsyncSession, scopes: Sequence[str]) -> dict[str, str]:
    """The source of each scope: the harvest source it belongs to, else ``lake``."""
    found: set[str] = set()
    for start in range(0, len(scopes), IN_LIST_LIMIT):
        chunk = list(scopes[start : start + IN_LIST_LIMIT])
        found.update(
            (
                await session.scalars(
                    select(t.harvest_source.c.name).where(t.harvest_source.c.name.in_(chunk))
                )
            ).all()
        )
    return {s: (s if s in found else LAKE_SOURCE) for s in scopes}


def harvested_scope_problem(scope: str) -> str:
    """Why the lake's own writes may not go into a harvest source's scope."""
    return (
        f"scope {scope!r} holds records harvested by lakecat harvest; "
        "register the lake's own DIDs in another scope"
    )


async def harvested_scopes(session: AsyncSession, scopes: set[str]) -> set[str]:
    """The scopes among these that belong to harvest sources."""
    names = await source_names(session, sorted(scopes))
    return {scope for scope, source in names.items() if source != LAKE_SOURCE}


# -- sources ------------------------------------------------------------------------------


async def ensure_source(session: AsyncSession, spec: SourceSpec, now: datetime) -> int:
    """The source's id, creating it (and its scope) on first use.

    A name means one query for good: harvesting it again with another URL, kind or
    parameters is refused, because withdrawing "what the source no longer has" is only
    meaningful against the same question.
    """
    found = await session.execute(
        select(t.harvest_source).where(t.harvest_source.c.name == spec.name)
    )
    row = found.mappings().first()
    parameters = json.dumps(dict(spec.parameters), sort_keys=True)
    if row is not None:
        if (row["kind"], row["url"], row["parameters"]) != (spec.kind.value, spec.url, parameters):
            msg = (
                f"source {spec.name!r} was harvested as {row['kind']} {row['url']} "
                f"with {row['parameters']}; give --source another name for another query"
            )
            raise InvalidInputError(msg)
        return int(row["id"])
    lake_dids = await session.scalar(
        select(func.count()).select_from(t.did).where(t.did.c.scope == spec.name)
    )
    if lake_dids:
        msg = f"scope {spec.name!r} holds the lake's own DIDs; give the source another name"
        raise InvalidInputError(msg)
    await ensure_scopes(session, {spec.name}, now)
    ids = await insert_with_ids(
        session,
        t.harvest_source,
        [
            {
                "name": spec.name,
                "kind": spec.kind.value,
                "url": spec.url,
                "parameters": parameters,
                "created_at": now,
            }
        ],
    )
    return ids[0]


async def list_sources(session: AsyncSession, viewer: Viewer) -> list[tuple[SourceSpec, int]]:
    """Every source with the number of its records ``viewer`` may find (not withdrawn)."""
    live = (
        select(t.harvest_record.c.source_id, func.count().label("n"))
        .join(t.did, t.did.c.id == t.harvest_record.c.did_id)
        .where(discoverable(viewer))
        .group_by(t.harvest_record.c.source_id)
        .subquery()
    )
    rows = await session.execute(
        select(t.harvest_source, func.coalesce(live.c.n, 0).label("records"))
        .outerjoin(live, live.c.source_id == t.harvest_source.c.id)
        .order_by(t.harvest_source.c.name)
    )
    return [
        (
            SourceSpec(r.name, SourceKind(r.kind), r.url, json.loads(r.parameters)),
            int(r.records),
        )
        for r in rows
    ]


# -- runs ---------------------------------------------------------------------------------


async def start_run(session: AsyncSession, source_id: int, caller: str, now: datetime) -> int:
    """A new run of the source, RUNNING."""
    ids = await insert_with_ids(
        session,
        t.harvest_run,
        [
            {
                "source_id": source_id,
                "caller": caller,
                "status": RunStatus.RUNNING.value,
                "started_at": now,
                "ended_at": None,
                "added": 0,
                "updated": 0,
                "unchanged": 0,
                "withdrawn": 0,
                "failed": 0,
                "problems": "[]",
                "error": None,
                "resume_after": None,
            }
        ],
    )
    return ids[0]


async def resumable_run(session: AsyncSession, source_id: int) -> HarvestRun | None:
    """The source's latest run, when it failed (or was cut off) and may be continued."""
    runs = await list_runs(session, source_id=source_id, limit=1)
    if runs and runs[0].status in (RunStatus.FAILED, RunStatus.RUNNING):
        return runs[0]
    return None


async def save_run(
    session: AsyncSession,
    run_id: int,
    *,
    status: RunStatus,
    counts: RunCounts,
    problems: Sequence[RecordProblem],
    error: str | None,
    resume_after: str | None,
    ended_at: datetime | None,
) -> None:
    """Write a run's state (in the transaction of the chunk it describes)."""
    await session.execute(
        update(t.harvest_run)
        .where(t.harvest_run.c.id == run_id)
        .values(
            status=status.value,
            added=counts.added,
            updated=counts.updated,
            unchanged=counts.unchanged,
            withdrawn=counts.withdrawn,
            failed=counts.failed,
            problems=json.dumps([[p.where, p.reason] for p in problems[:MAX_PROBLEMS]]),
            error=error,
            resume_after=resume_after,
            ended_at=ended_at,
        )
    )


def _run(row: RowMapping) -> HarvestRun:
    return HarvestRun(
        id=int(row["id"]),
        source=row["name"],
        kind=SourceKind(row["kind"]),
        url=row["url"],
        parameters=json.loads(row["parameters"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        status=RunStatus(row["status"]),
        counts=RunCounts(
            row["added"], row["updated"], row["unchanged"], row["withdrawn"], row["failed"]
        ),
        problems=[RecordProblem(w, r) for w, r in json.loads(row["problems"])],
        error=row["error"],
        resume_after=row["resume_after"],
    )


async def list_runs(
    session: AsyncSession,
    *,
    source: str | None = None,
    source_id: int | None = None,
    run_id: int | None = None,
    limit: int = 20,
) -> list[HarvestRun]:
    """Runs, newest first, of one source or of all (or the one ``run_id``)."""
    run, src = t.harvest_run, t.harvest_source
    query = (
        select(
            run,
            src.c.name,
            src.c.kind,
            src.c.url,
            src.c.parameters,
        )
        .join(src, src.c.id == run.c.source_id)
        .order_by(desc(run.c.started_at), desc(run.c.id))
        .limit(limit)
    )
    if source is not None:
        query = query.where(src.c.name == source)
    if source_id is not None:
        query = query.where(run.c.source_id == source_id)
    if run_id is not None:
        query = query.where(run.c.id == run_id)
    return [_run(r) for r in (await session.execute(query)).mappings()]


# -- records ------------------------------------------------------------------------------


async def _known(
    session: AsyncSession, source_id: int, remote_ids: Sequence[str]
) -> dict[str, RowMapping]:
    found: dict[str, RowMapping] = {}
    rec = t.harvest_record
    for chunk in in_chunks(session, remote_ids):
        rows = await session.execute(
            select(rec.c.remote_id, rec.c.did_id, rec.c.digest, t.did.c.withdrawn_at)
            .join(t.did, t.did.c.id == rec.c.did_id)
            .where(rec.c.source_id == source_id, matches(session, rec.c.remote_id, chunk))
        )
        found.update({r["remote_id"]: r for r in rows.mappings()})
    return found


def _did_row(scope: str, item: PreparedRecord, now: datetime) -> dict[str, Any]:
    return {
        "scope": scope,
        "name": item.record.name,
        "did_type": item.record.did_type.value,
        "bytes": item.record.bytes,
        "adler32": None,
        "md5": None,
        "guid": None,
        "is_open": None,
        "length": None,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
        "withdrawn_at": None,
    }


def _details(did_id: int, item: PreparedRecord) -> Details:
    return Details(did_id, item.characterisation, item.coverage, item.record.metadata)


async def write_records(
    session: AsyncSession,
    *,
    source_id: int,
    scope: str,
    run_id: int,
    batch: Sequence[PreparedRecord],
    now: datetime,
    index_cells: int,
) -> ChunkResult:
    """Add new records, rewrite changed ones, confirm unchanged ones; all seen by ``run_id``."""
    counts = RunCounts()
    known = await _known(session, source_id, [p.record.remote_id for p in batch])
    fresh = [p for p in batch if p.record.remote_id not in known]
    changed = [
        p
        for p in batch
        if (row := known.get(p.record.remote_id)) is not None
        and (row["digest"] != p.digest or row["withdrawn_at"] is not None)
    ]
    counts.added, counts.updated = len(fresh), len(changed)
    counts.unchanged = len(batch) - len(fresh) - len(changed)
    new_ids = await insert_with_ids(session, t.did, [_did_row(scope, p, now) for p in fresh])
    changed_ids = [int(known[p.record.remote_id]["did_id"]) for p in changed]
    await _clear_details(session, changed_ids)
    for did_id, item in zip(changed_ids, changed, strict=True):
        await session.execute(
            update(t.did)
            .where(t.did.c.id == did_id)
            .values(
                did_type=item.record.did_type.value,
                bytes=item.record.bytes,
                updated_at=now,
                withdrawn_at=None,
            )
        )
    await insert_details(
        session,
        [_details(i, p) for i, p in zip([*new_ids, *changed_ids], [*fresh, *changed], strict=True)],
        index_cells,
        replacing=True,
    )
    await insert_rows(
        session,
        t.harvest_record,
        [
            {
                "did_id": did_id,
                "source_id": source_id,
                "remote_id": item.record.remote_id,
                "digest": item.digest,
                "first_run_id": run_id,
                "last_run_id": run_id,
                "first_harvested": now,
                "last_harvested": now,
            }
            for did_id, item in zip(new_ids, fresh, strict=True)
        ],
    )
    seen = [int(row["did_id"]) for row in known.values()]
    digests = {int(known[p.record.remote_id]["did_id"]): p.digest for p in changed}
    for start in range(0, len(seen), IN_LIST_LIMIT):
        chunk = seen[start : start + IN_LIST_LIMIT]
        await session.execute(
            update(t.harvest_record)
            .where(t.harvest_record.c.did_id.in_(chunk))
            .values(last_run_id=run_id, last_harvested=now)
        )
    for did_id, digest in digests.items():
        await session.execute(
            update(t.harvest_record)
            .where(t.harvest_record.c.did_id == did_id)
            .values(digest=digest)
        )
    return ChunkResult(counts, [*new_ids, *changed_ids])


async def _clear_details(session: AsyncSession, did_ids: Sequence[int]) -> None:
    for start in range(0, len(did_ids), IN_LIST_LIMIT):
        chunk = list(did_ids[start : start + IN_LIST_LIMIT])
        for table in (t.characterisation, t.coverage, t.coverage_cell, t.did_meta):
            await session.execute(delete(table).where(table.c.did_id.in_(chunk)))


async def withdraw_unseen(
    session: AsyncSession, source_id: int, run_id: int, now: datetime
) -> list[int]:
    """Withdraw the source's live records that ``run_id`` did not see; their ids."""
    rec = t.harvest_record
    ids = list(
        (
            await session.scalars(
                select(rec.c.did_id)
                .join(t.did, t.did.c.id == rec.c.did_id)
                .where(
                    rec.c.source_id == source_id,
                    rec.c.last_run_id != run_id,
                    t.did.c.withdrawn_at.is_(None),
                )
            )
        ).all()
    )
    for start in range(0, len(ids), IN_LIST_LIMIT):
        chunk = ids[start : start + IN_LIST_LIMIT]
        await session.execute(
            update(t.did).where(t.did.c.id.in_(chunk)).values(withdrawn_at=now, updated_at=now)
        )
    return ids


async def harvest_info(session: AsyncSession, did_ids: Sequence[int]) -> dict[int, HarvestInfo]:
    """Where each harvested DID among the ids came from; lake DIDs are absent."""
    rec, src = t.harvest_record, t.harvest_source
    found: dict[int, HarvestInfo] = {}
    for start in range(0, len(did_ids), IN_LIST_LIMIT):
        chunk = list(did_ids[start : start + IN_LIST_LIMIT])
        rows = await session.execute(
            select(
                rec.c.did_id,
                rec.c.remote_id,
                rec.c.first_harvested,
                rec.c.last_harvested,
                src.c.name,
                src.c.kind,
                src.c.url,
                t.did.c.withdrawn_at,
            )
            .join(src, src.c.id == rec.c.source_id)
            .join(t.did, t.did.c.id == rec.c.did_id)
            .where(rec.c.did_id.in_(chunk))
        )
        for r in rows:
            found[int(r.did_id)] = HarvestInfo(
                source=r.name,
                kind=SourceKind(r.kind),
                url=r.url,
                remote_id=r.remote_id,
                first_harvested=r.first_harvested,
                last_harvested=r.last_harvested,
                withdrawn_at=r.withdrawn_at,
            )
    return found
