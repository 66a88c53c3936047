"""One harvest run: records arrive in chunks, each chunk commits with the run's counters.

A run that stops midway — the remote times out, answers an error, sends a broken table —
leaves every committed chunk whole and the run FAILED with its error and the last remote
key it committed; the next harvest of the same source continues that run from there
(docs/harvest.md). Only a run that read its source to the end withdraws the records it did
not see.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalogue.errors import InvalidInputError
from catalogue.harvest import (
    HarvestedRecord,
    HarvestRun,
    RecordProblem,
    RunCounts,
    RunStatus,
    SourceSpec,
)
from catalogue.ingest import footprints
from catalogue.models import Caller
from catalogue.obscore import validate_enumerations
from catalogue.store import audit, search_docs
from catalogue.store import harvest as store

_log = logging.getLogger("lakecat.audit")


def _now() -> datetime:
    return datetime.now(UTC)


def prepare_records(
    records: Sequence[HarvestedRecord], order: int
) -> list[store.PreparedRecord | RecordProblem]:
    """Check each record and give it a coverage: its own MOC, else its ``s_region``'s.

    ``s_region`` is kept in the catalogue's STC-S spelling, as for lake files, so that
    the same footprint reads the same whichever service published it.
    """
    texts = [r.characterisation.get("s_region") if r.coverage is None else None for r in records]
    out: list[store.PreparedRecord | RecordProblem] = []
    for record, found in zip(records, footprints(texts, order), strict=True):
        where = record.remote_id
        if isinstance(found, InvalidInputError):
            out.append(RecordProblem(where, f"s_region: {found}"))
            continue
        try:
            validate_enumerations(dict(record.characterisation))
            record.name  # noqa: B018 - the name must be a valid DID name
        except InvalidInputError as exc:
            out.append(RecordProblem(where, str(exc)))
            continue
        region, coverage = found
        characterisation = dict(record.characterisation)
        if region is not None:
            characterisation["s_region"] = region.to_stcs()
        coverage = record.coverage if record.coverage is not None else coverage
        out.append(store.PreparedRecord(record, characterisation, coverage, record.digest()))
    return out


class Harvest:
    """A run in progress; create it with :meth:`catalogue.service.Catalogue.start_harvest`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        spec: SourceSpec,
        *,
        source_id: int,
        run: HarvestRun,
        caller: Caller,
        moc_order: int,
        index_cells: int,
    ) -> None:
        self._sessions = sessions
        self.spec = spec
        self._source_id = source_id
        self.run_id = run.id
        self.counts = run.counts
        self.problems = list(run.problems)
        #: The last remote key a previous attempt of this run committed, to continue after.
        self.resume_after = run.resume_after
        self._caller = caller
        self._moc_order = moc_order
        self._index_cells = index_cells

    async def add(
        self,
        records: Sequence[HarvestedRecord | RecordProblem],
        *,
        resume_after: str | None = None,
    ) -> RunCounts:
        """Write one chunk in one transaction; refused records are counted and reported.

        Records named twice in a chunk (a remote with duplicate identifiers) keep the first.
        """
        chunk = RunCounts()
        problems = [r for r in records if isinstance(r, RecordProblem)]
        unique: dict[str, HarvestedRecord] = {}
        for record in records:
            if isinstance(record, HarvestedRecord):
                if record.remote_id in unique:
                    problems.append(
                        RecordProblem(record.remote_id, "named twice by the source; first kept")
                    )
                else:
                    unique[record.remote_id] = record
        prepared: list[store.PreparedRecord] = []
        for item in prepare_records(list(unique.values()), self._moc_order):
            if isinstance(item, RecordProblem):
                problems.append(item)
            else:
                prepared.append(item)
        now = _now()
        async with self._sessions() as session, session.begin():
            result = await store.write_records(
                session,
                source_id=self._source_id,
                scope=self.spec.name,
                run_id=self.run_id,
                batch=prepared,
                now=now,
                index_cells=self._index_cells,
            )
            await search_docs.mark_changed(session, result.changed)
            chunk = result.counts
            chunk.failed = len(problems)
            self.counts.add(chunk)
            self.problems.extend(problems)
            if resume_after is not None:
                self.resume_after = resume_after
            await self._save(session, RunStatus.RUNNING, None, None)
        return chunk

    async def finish(self, *, complete: bool) -> HarvestRun:
        """End the run; a ``complete`` one withdraws the records its source no longer has."""
        now = _now()
        async with self._sessions() as session, session.begin():
            if complete:
                gone = await store.withdraw_unseen(session, self._source_id, self.run_id, now)
                await search_docs.mark_changed(session, gone)
                self.counts.withdrawn += len(gone)
            status = RunStatus.SUCCEEDED if complete else RunStatus.INCOMPLETE
            await self._save(session, status, None, now)
            action = f"harvest run {self.run_id} of {self.spec.name} {status.value} ({self.counts})"
            await audit.record(session, self._caller.subject, action, self.spec.url, now)
        _log.info("%s harvested %s (%s)", self._caller.subject, self.spec.name, self.counts)
        return await self.record()

    async def fail(self, error: str) -> HarvestRun:
        """End the run on an error; what was committed stays, and the next run resumes."""
        async with self._sessions() as session, session.begin():
            await self._save(session, RunStatus.FAILED, error, _now())
        _log.info("%s harvest of %s failed: %s", self._caller.subject, self.spec.name, error)
        return await self.record()

    async def record(self) -> HarvestRun:
        """The run as stored."""
        async with self._sessions() as session:
            return (await store.list_runs(session, run_id=self.run_id, limit=1))[0]

    async def _save(
        self,
        session: AsyncSession,
        status: RunStatus,
        error: str | None,
        ended_at: datetime | None,
    ) -> None:
        await store.save_run(
            session,
            self.run_id,
            status=status,
            counts=self.counts,
            problems=self.problems,
            error=error,
            resume_after=self.resume_after,
            ended_at=ended_at,
        )


async def start(
    sessions: async_sessionmaker[AsyncSession],
    spec: SourceSpec,
    *,
    caller: Caller,
    moc_order: int,
    index_cells: int,
    resume: bool = True,
) -> Harvest:
    """A run of the source: the failed one before it, continued, or a new one."""
    now = _now()
    async with sessions() as session, session.begin():
        source_id = await store.ensure_source(session, spec, now)
        previous = await store.resumable_run(session, source_id) if resume else None
        if previous is None:
            run_id = await store.start_run(session, source_id, caller.subject, now)
        else:
            run_id = previous.id
            await store.save_run(
                session,
                run_id,
                status=RunStatus.RUNNING,
                counts=previous.counts,
                problems=previous.problems,
                error=None,
                resume_after=previous.resume_after,
                ended_at=None,
            )
        (run,) = await store.list_runs(session, run_id=run_id, limit=1)
    return Harvest(
        sessions,
        spec,
        source_id=source_id,
        run=run,
        caller=caller,
        moc_order=moc_order,
        index_cells=index_cells,
    )
