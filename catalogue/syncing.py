"""One Rucio sync run: RSEs, chunks of DIDs, attachments and removals, each step one transaction.

A run that stops midway — Rucio refuses a token, times out, answers an error — leaves every
committed step whole and the run FAILED with its checkpoint; the next sync of the same server
and scopes continues that run from there (docs/rucio.md). Every step is idempotent: a DID
whose digest is unchanged is not rewritten, an attachment already there is not added again.
The DID writes are in :mod:`catalogue.sync_writes`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalogue import sync_writes
from catalogue.models import Caller, DIDKey
from catalogue.rucio import (
    RucioDID,
    RucioReplica,
    RucioRSE,
    SyncCounts,
    SyncMode,
    SyncProblem,
    SyncRun,
    SyncStatus,
)
from catalogue.store import rses as rse_store
from catalogue.store import rucio as store
from catalogue.store import rucio_runs as runs
from catalogue.store import search_docs
from catalogue.store.files import ensure_scopes

_log = logging.getLogger("lakecat.audit")
#: How far before the last run's start an incremental run reads again.
DEFAULT_MARGIN = timedelta(seconds=60)


def _now() -> datetime:
    return datetime.now(UTC)


class RucioSync:
    """A run in progress; create it with :meth:`catalogue.service.Catalogue.start_rucio_sync`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        run: SyncRun,
        *,
        caller: Caller,
        moc_order: int,
        index_cells: int,
    ) -> None:
        self._sessions = sessions
        self.run_id = run.id
        self.url = run.url
        self.mode = run.mode
        #: An incremental run's lower bound on Rucio's creation and update times.
        self.since = run.since
        self.counts = run.counts
        self.problems = list(run.problems)
        #: Per scope, where a previous attempt of this run stopped: {"phase", "after"}.
        self.checkpoint: dict[str, Any] = dict(run.checkpoint)
        self._caller = caller
        self._writes = sync_writes.Writes(moc_order=moc_order, index_cells=index_cells)

    # -- steps --------------------------------------------------------------------------------

    async def add_rses(self, found: Sequence[RucioRSE]) -> SyncCounts:
        """Register or update Rucio's RSEs; one lakecat set up otherwise is a conflict.

        RSEs are not counted among the DIDs; only their conflicts are.
        """
        step = SyncCounts()
        problems: list[SyncProblem] = []
        now = _now()
        async with self._sessions.begin() as session:
            followed = await store.synced_rse_ids(session)
            stored = {r.name: r for r in await rse_store.list_rses(session)}
            for item in found:
                rse = item.rse
                if rse.name not in stored:
                    await rse_store.add_rse(session, rse, now)
                ids = await rse_store.find_rses(session, {rse.name})
                rse_id = ids[rse.name][0]
                if rse.name in stored and stored[rse.name] != rse:
                    if rse_id in followed:
                        await runs.update_rse(session, rse_id, rse)
                    else:
                        problems.append(_rse_conflict(stored[rse.name], rse))
                        step.conflicts += 1
                await runs.save_rucio_rse(session, rse_id, item, now)
            await self._commit(session, step, problems)
        return step

    async def add_scopes(self, scopes: Sequence[str]) -> None:
        """Create the scopes lakecat does not have yet."""
        async with self._sessions.begin() as session:
            await ensure_scopes(session, set(scopes), _now())

    async def add_dids(
        self,
        items: Sequence[RucioDID | SyncProblem],
        *,
        scope: str | None = None,
        phase: str = "dids",
        after: str | None = None,
    ) -> SyncCounts:
        """Write one chunk of DIDs in one transaction; what cannot be taken is reported.

        ``after`` (with ``scope`` and ``phase``) is the checkpoint a failed run resumes from.
        """
        now = _now()
        async with self._sessions.begin() as session:
            result = await self._writes.write(session, items, self.run_id, now)
            await search_docs.mark_changed(session, result.changed)
            if scope is not None and after is not None:
                self.checkpoint[scope] = {"phase": phase, "after": after}
            await self._commit(session, result.counts, result.problems)
        return result.counts

    async def set_contents(
        self, contents: Mapping[DIDKey, Sequence[DIDKey]], *, exact: bool
    ) -> SyncCounts:
        """Attach each collection's members; with ``exact`` also detach what Rucio has not."""
        async with self._sessions.begin() as session:
            result = await self._writes.contents(session, contents, exact=exact, now=_now())
            await search_docs.mark_changed(session, result.changed)
            await self._commit(session, result.counts, result.problems)
        return result.counts

    async def update_replicas(
        self, updates: Sequence[tuple[DIDKey, Sequence[RucioReplica]]]
    ) -> SyncCounts:
        """Apply replica changes (Rucio's ``updated_after``): each listed replica as given."""
        async with self._sessions.begin() as session:
            result = await self._writes.replicas(session, updates, _now())
            await search_docs.mark_changed(session, result.changed)
            await self._commit(session, result.counts, result.problems)
        return result.counts

    async def remove_missing(self, scope: str, alive: set[str]) -> SyncCounts:
        """Delete the scope's Rucio DIDs Rucio no longer has; report lakecat's own DIDs there."""
        async with self._sessions.begin() as session:
            result = await self._writes.remove_missing(session, scope, alive, _now())
            await search_docs.mark_changed(session, result.changed)
            await self._commit(session, result.counts, result.problems)
        return result.counts

    async def apply_event(self, event: sync_writes.Event) -> SyncCounts:
        """Apply one of Rucio's messages (hermes): attach, detach, close, open, erase."""
        async with self._sessions.begin() as session:
            result = await self._writes.event(session, event, _now())
            await search_docs.mark_changed(session, result.changed)
            await self._commit(session, result.counts, result.problems)
        return result.counts

    async def mark_done(self, scope: str, phase: str) -> None:
        """Record that a scope's phase is complete."""
        self.checkpoint[scope] = {"phase": phase, "after": None}
        async with self._sessions.begin() as session:
            await self._commit(session, SyncCounts(), [])

    # -- reading what the run needs -------------------------------------------------------

    async def roots(self, scope: str) -> list[DIDKey]:
        """The scope's synced collections no collection holds, and its files on their own."""
        async with self._sessions() as session:
            return await store.roots(session, scope)

    async def report(self, problems: Sequence[SyncProblem]) -> None:
        """Record problems found while reading Rucio (a DID it answered badly)."""
        step = SyncCounts(failed=sum(not p.conflict for p in problems))
        step.conflicts = len(problems) - step.failed
        async with self._sessions.begin() as session:
            await self._commit(session, step, problems)

    # -- ending ---------------------------------------------------------------------------

    async def finish(self) -> SyncRun:
        """End the run as succeeded."""
        async with self._sessions.begin() as session:
            await self._save(session, SyncStatus.SUCCEEDED, None, _now())
        _log.info("%s synced from Rucio %s (%s)", self._caller.subject, self.url, self.counts)
        return await self.record()

    async def fail(self, error: str) -> SyncRun:
        """End the run on an error; what was committed stays, and the next sync resumes."""
        async with self._sessions.begin() as session:
            await self._save(session, SyncStatus.FAILED, error, _now())
        _log.info("%s sync from Rucio %s failed: %s", self._caller.subject, self.url, error)
        return await self.record()

    async def record(self) -> SyncRun:
        """The run as stored."""
        async with self._sessions() as session:
            return (await runs.list_runs(session, run_id=self.run_id, limit=1))[0]

    async def _commit(
        self, session: AsyncSession, step: SyncCounts, problems: Sequence[SyncProblem]
    ) -> None:
        self.counts.add(step)
        self.problems.extend(problems)
        await self._save(session, SyncStatus.RUNNING, None, None)

    async def _save(
        self, session: AsyncSession, status: SyncStatus, error: str | None, ended: datetime | None
    ) -> None:
        await runs.save_run(
            session,
            self.run_id,
            status=status,
            counts=self.counts,
            problems=self.problems,
            error=error,
            checkpoint=self.checkpoint,
            ended_at=ended,
        )


def _rse_conflict(stored: Any, rse: Any) -> SyncProblem:
    differing = [
        f"{name} {getattr(stored, name)!r} (Rucio {getattr(rse, name)!r})"
        for name in ("base_url", "qos_class", "deterministic", "read_only")
        if getattr(stored, name) != getattr(rse, name)
    ]
    return SyncProblem(
        f"RSE {rse.name}",
        "registered in lakecat with other settings: " + ", ".join(differing) + "; kept",
        conflict=True,
    )


def _since(last: SyncRun | None, margin: timedelta) -> datetime | None:
    if last is None:
        return None
    return (last.server_time or last.started_at) - margin


async def start(
    sessions: async_sessionmaker[AsyncSession],
    *,
    url: str,
    account: str,
    scopes: Sequence[str],
    caller: Caller,
    moc_order: int,
    index_cells: int,
    full: bool = False,
    resume: bool = True,
    events: bool = False,
    server_time: datetime | None = None,
    margin: timedelta = DEFAULT_MARGIN,
) -> RucioSync:
    """A run: the failed one before it continued, or a new one (incremental when it can be).

    A new run is incremental when the same server and scopes had a successful run: its
    ``since`` is that run's ``server_time`` (Rucio's clock, so lakecat's does not matter) less
    ``margin`` (a DID whose transaction was still open when that run listed is seen now);
    full otherwise or when ``full``. ``events`` starts the run record of a listener
    (``lakecat rucio listen``), which never resumes nor sets ``since``.
    """
    now = _now()
    async with sessions.begin() as session:
        previous = None if events or not resume else await runs.latest_run(session, url, scopes)
        if previous is not None and previous.status in (SyncStatus.FAILED, SyncStatus.RUNNING):
            if full and previous.mode is not SyncMode.FULL:
                previous = None
        else:
            previous = None
        if previous is None:
            last = (
                None
                if events
                else await runs.latest_run(session, url, scopes, status=SyncStatus.SUCCEEDED)
            )
            mode = SyncMode.FULL if (full or last is None) else SyncMode.INCREMENTAL
            run_id = await runs.start_run(
                session,
                url=url,
                account=account,
                scopes=scopes,
                mode=SyncMode.EVENTS if events else mode,
                caller=caller.subject,
                since=_since(last, margin) if not full else None,
                server_time=server_time,
                now=now,
            )
        else:
            run_id = previous.id
            await runs.save_run(
                session,
                run_id,
                status=SyncStatus.RUNNING,
                counts=previous.counts,
                problems=previous.problems,
                error=None,
                checkpoint=previous.checkpoint,
                ended_at=None,
            )
        run = (await runs.list_runs(session, run_id=run_id, limit=1))[0]
    return RucioSync(sessions, run, caller=caller, moc_order=moc_order, index_cells=index_cells)
