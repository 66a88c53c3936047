"""The catalogue's use cases; each public method is one unit of work with its own session."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalogue import harvesting, recording, syncing
from catalogue.authorization import PUBLIC, AccessPolicy, Viewer
from catalogue.bulk_reads import BulkReads
from catalogue.config import Settings
from catalogue.coverage import Coverage, check_order
from catalogue.errors import InvalidInputError
from catalogue.harvest import HarvestInfo, HarvestRun, SourceSpec
from catalogue.harvesting import Harvest
from catalogue.ingest import Candidate, Rejected
from catalogue.models import (
    DID,
    LOCAL_OPERATOR,
    RSE,
    Caller,
    DIDDetail,
    DIDKey,
    DIDType,
    MetaValue,
    Page,
    ReplicaSpec,
    ReplicaState,
    RunSummary,
    check_metadata,
    check_rse,
)
from catalogue.provenance import ActivitySpec, Recorded, check_activity
from catalogue.provenance_reads import ProvenanceReads
from catalogue.query import DIDQuery, FacetField, RegionFilter, SortKey
from catalogue.registration import Registration
from catalogue.rucio import SyncedRSE, SyncRun
from catalogue.store import aggregates, audit, dids, queries, rses, search_docs
from catalogue.store import harvest as harvest_store
from catalogue.store import rucio_runs as rucio_store
from catalogue.store.engine import create_engine, create_sessions, migrate

Progress = Callable[[int], None]


_log = logging.getLogger("lakecat.audit")


def _now() -> datetime:
    return datetime.now(UTC)


def _batches(
    items: Iterable[Candidate | Rejected], size: int
) -> Iterator[list[Candidate | Rejected]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


async def _mark_membership(session: AsyncSession, parent_id: int, member_ids: list[int]) -> None:
    """Mark what an attachment or detachment changes.

    The members' ancestors' names (in their text and everything's below them) and the
    collection's extent (and its ancestors').
    """
    changed = await search_docs.with_descendants(session, member_ids)
    changed |= await search_docs.with_ancestors(session, [parent_id])
    await search_docs.mark_changed(session, changed)


@asynccontextmanager
async def open_catalogue(settings: Settings) -> AsyncIterator[Catalogue]:
    """The configured store, migrated, as a catalogue, for one command's unit of work."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await migrate(engine)
        yield Catalogue(
            create_sessions(engine), moc_order=settings.moc_order, index_cells=settings.index_cells
        )
    finally:
        await engine.dispose()


class Catalogue:
    """Use cases of the catalogue over one relational store."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        moc_order: int = 10,
        index_cells: int = 24,
        batch_size: int = 2000,
        policy: AccessPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        #: Who may write what (catalogue/authorization.py); every write asks it first.
        self.policy = policy or AccessPolicy()
        self.reads = BulkReads(sessions)
        self.provenance = ProvenanceReads(sessions)
        self.moc_order = moc_order
        self._index_cells = index_cells
        self._batch_size = batch_size

    async def _audit(
        self, session: AsyncSession, caller: Caller, action: str, target: object
    ) -> None:
        """Every write says who did it: a row of the audit log, in the write's transaction."""
        _log.info("%s %s %s", caller.subject, action, target)
        await audit.record(session, caller.subject, action, str(target), _now())

    async def audit_log(
        self,
        *,
        caller: Caller,
        subject: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[audit.AuditEvent]:
        """Who changed what and when, newest first; for administrators."""
        self.policy.require_admin(caller, "read the audit log")
        async with self._sessions() as session:
            return await audit.events(session, subject=subject, since=since, limit=limit)

    # -- storage elements and scopes -------------------------------------------------------

    async def add_rse(self, rse: RSE, *, caller: Caller = LOCAL_OPERATOR) -> None:
        """Register a storage element."""
        self.policy.require_admin(caller, "register RSEs")
        check_rse(rse)
        async with self._sessions.begin() as session:
            await rses.add_rse(session, rse, _now())
            await self._audit(session, caller, "registered RSE", rse.name)

    async def require_rse(self, name: str) -> None:
        """Fail with a message saying how to register the RSE when it is missing."""
        async with self._sessions() as session:
            await rses.require_rse(session, name)

    async def list_rses(self) -> list[RSE]:
        """All storage elements."""
        async with self._sessions() as session:
            return await rses.list_rses(session)

    async def list_scopes(self) -> list[str]:
        """All scopes."""
        async with self._sessions() as session:
            return await dids.list_scopes(session)

    # -- collections, the DID graph, metadata and replicas ---------------------------------

    async def add_collection(
        self,
        key: DIDKey,
        did_type: DIDType,
        metadata: dict[str, MetaValue] | None = None,
        *,
        caller: Caller = LOCAL_OPERATOR,
    ) -> DID:
        """Create an open dataset or container (idempotent for the same type)."""
        self.policy.require_write(caller, [key.scope])
        if did_type is DIDType.FILE:
            raise InvalidInputError("files are registered with their checksums, not created empty")
        async with self._sessions.begin() as session:
            if await harvest_store.harvested_scopes(session, {key.scope}):
                raise InvalidInputError(harvest_store.harvested_scope_problem(key.scope))
            did, created = await dids.add_collection(
                session, key, did_type, check_metadata(metadata or {}), _now()
            )
            if created:
                await search_docs.mark_changed(session, [did.id])
                await self._audit(session, caller, f"created {did_type}", key)
        return did

    async def attach(
        self, parent: DIDKey, children: Sequence[DIDKey], *, caller: Caller = LOCAL_OPERATOR
    ) -> int:
        """Attach DIDs to a collection; returns how many were new. Cycles are rejected."""
        self.policy.require_write(caller, [parent.scope])
        async with self._sessions.begin() as session:
            parent_row = await dids.require_did(session, parent)
            view = self.policy.viewer(caller)
            rows = [await dids.require_did(session, c, view) for c in children]
            added = await dids.attach(session, parent_row, rows, _now(), self._index_cells)
            if added:
                await _mark_membership(session, parent_row["id"], [r["id"] for r in rows])
            await self._audit(session, caller, f"attached {added} to", parent)
        return added

    async def detach(
        self, parent: DIDKey, children: Sequence[DIDKey], *, caller: Caller = LOCAL_OPERATOR
    ) -> int:
        """Detach DIDs from a collection; returns how many were attached."""
        self.policy.require_write(caller, [parent.scope])
        async with self._sessions.begin() as session:
            parent_row = await dids.require_did(session, parent)
            view = self.policy.viewer(caller)
            rows = [await dids.require_did(session, c, view) for c in children]
            removed = await dids.detach(session, parent_row, rows, _now(), self._index_cells)
            if removed:
                await _mark_membership(session, parent_row["id"], [r["id"] for r in rows])
            await self._audit(session, caller, f"detached {removed} from", parent)
        return removed

    async def close(self, key: DIDKey, *, caller: Caller = LOCAL_OPERATOR) -> None:
        """Close a collection to new content."""
        self.policy.require_write(caller, [key.scope])
        async with self._sessions.begin() as session:
            row = await dids.require_did(session, key)
            await dids.close(session, row, _now())
            await search_docs.mark_changed(session, [row["id"]])
            await self._audit(session, caller, "closed", key)

    async def delete(self, key: DIDKey, *, caller: Caller = LOCAL_OPERATOR) -> None:
        """Delete a file or an empty collection; its name stays taken for all time."""
        self.policy.require_write(caller, [key.scope])
        async with self._sessions.begin() as session:
            row = await dids.require_did(session, key)
            # Its parents' extents are recomputed up to the top; its document goes.
            changed = await search_docs.with_ancestors(session, [row["id"]])
            await dids.delete_did(session, row, _now(), self._index_cells)
            await search_docs.mark_changed(session, changed)
            await self._audit(session, caller, "deleted", key)

    async def set_metadata(
        self,
        key: DIDKey,
        metadata: dict[str, MetaValue],
        *,
        replace_all: bool = False,
        caller: Caller = LOCAL_OPERATOR,
    ) -> None:
        """Set metadata keys of a DID; others are kept unless ``replace_all``."""
        self.policy.require_write(caller, [key.scope])
        values = check_metadata(metadata)
        async with self._sessions.begin() as session:
            row = await dids.require_did(session, key)
            await dids.set_metadata(session, row["id"], values, _now(), replace_all=replace_all)
            await search_docs.mark_changed(session, [row["id"]])
            await self._audit(session, caller, "set metadata of", key)

    async def add_replicas(
        self, key: DIDKey, replicas: Sequence[ReplicaSpec], *, caller: Caller = LOCAL_OPERATOR
    ) -> int:
        """Add replicas of a file; returns how many were new."""
        self.policy.require_write(caller, [key.scope])
        async with self._sessions.begin() as session:
            row = await dids.require_did(session, key)
            added = await rses.add_replicas(session, row, replicas, _now())
            if added:
                await search_docs.mark_changed(session, [row["id"]])
            await self._audit(session, caller, f"added {added} replicas of", key)
        return added

    async def set_replica_state(
        self, key: DIDKey, rse: str, state: ReplicaState, *, caller: Caller = LOCAL_OPERATOR
    ) -> None:
        """Set the state of a file's replica on an RSE."""
        self.policy.require_write(caller, [key.scope])
        async with self._sessions.begin() as session:
            row = await dids.require_did(session, key)
            await rses.set_replica_state(session, row, rse, state, _now())
            await search_docs.mark_changed(session, [row["id"]])
            await self._audit(session, caller, f"set replica on {rse} to {state} for", key)

    # -- reading ---------------------------------------------------------------------------

    async def get_did(self, key: DIDKey, *, viewer: Viewer = PUBLIC) -> DIDDetail | None:
        """A DID with everything known about it, or ``None`` (missing, or hidden from viewer)."""
        async with self._sessions() as session:
            return await dids.get_detail(session, key, viewer)

    async def get_coverage(self, key: DIDKey, *, viewer: Viewer = PUBLIC) -> Coverage | None:
        """A DID's MOC, or ``None`` when it has no sky coverage."""
        async with self._sessions() as session:
            row = await dids.require_did(session, key, viewer)
            return await dids.get_coverage(session, row["id"])

    async def list_children(
        self, key: DIDKey, *, viewer: Viewer = PUBLIC, recursive: bool = False
    ) -> list[DID]:
        """A collection's content, directly or at any depth."""
        async with self._sessions() as session:
            row = await dids.require_did(session, key, viewer)
            return await dids.relatives(
                session, row["id"], down=True, recursive=recursive, viewer=viewer
            )

    async def list_parents(
        self, key: DIDKey, *, viewer: Viewer = PUBLIC, recursive: bool = False
    ) -> list[DID]:
        """The collections a DID belongs to, directly or at any depth."""
        async with self._sessions() as session:
            row = await dids.require_did(session, key, viewer)
            return await dids.relatives(
                session, row["id"], down=False, recursive=recursive, viewer=viewer
            )

    async def search(self, query: DIDQuery) -> Page[DID]:
        """DIDs matching a query, one page at a time."""
        async with self._sessions() as session:
            return await queries.list_dids(session, query)

    async def region_ids(self, region: RegionFilter, *, viewer: Viewer = PUBLIC) -> list[int]:
        """Store ids of the files ``viewer`` may see whose footprint meets ``region`` exactly.

        The TAP bridge's ADQL geometry on ``s_region`` is decided here, by the same
        index probe and exact tests as :meth:`search`, so both interfaces agree.
        """
        query = DIDQuery(
            types=(DIDType.FILE,), region=region, sort=SortKey.NAME, limit=0, viewer=viewer
        )
        async with self._sessions() as session:
            return sorted([row["id"] async for row in queries.region_rows(session, query)])

    async def facets(
        self, query: DIDQuery, fields: Sequence[FacetField], limit: int = 50
    ) -> dict[FacetField, list[tuple[Any, int]]]:
        """Counts of the query's results by each field's values."""
        async with self._sessions() as session:
            return await aggregates.facet_counts(session, query, fields, limit)

    async def union_coverage(self, query: DIDQuery, max_order: int) -> Coverage:
        """The union MOC of everything the query selects."""
        check_order(max_order)
        async with self._sessions() as session:
            return await aggregates.union_coverage(session, query, max_order)

    async def time_and_spectral_span(
        self, query: DIDQuery
    ) -> tuple[float | None, float | None, float | None, float | None]:
        """Earliest t_min, latest t_max (MJD), shortest em_min, longest em_max (m) selected."""
        async with self._sessions() as session:
            return await aggregates.time_and_spectral_span(session, query)

    # -- registering files -----------------------------------------------------------------

    async def register_files(
        self,
        items: Iterable[Candidate | Rejected],
        *,
        all_or_nothing: bool,
        progress: Progress | None = None,
        track_outcomes: bool = False,
        caller: Caller = LOCAL_OPERATOR,
    ) -> RunSummary:
        """Register files in batches, attaching each to its dataset.

        With ``all_or_nothing`` (manifests) the run is one transaction: any bad record or
        conflict rolls everything back, and after the first problem the rest is only checked,
        so every problem is reported. Otherwise (FITS walks) each batch commits, and refused
        files are skipped and reported (docs/decisions/0003-ingest-atomicity.md).
        """
        rights = self.policy.writer(caller)
        async with self._sessions() as session:
            run = Registration(
                session,
                self.moc_order,
                self._index_cells,
                track_outcomes=track_outcomes,
                may_write=rights.may_write,
            )
            transaction = await session.begin()
            for batch in _batches(items, self._batch_size):
                await run.add_batch(batch, write=not (all_or_nothing and run.summary.failed))
                if progress:
                    progress(len(batch))
                if not all_or_nothing:
                    await transaction.commit()
                    transaction = await session.begin()
            summary = await run.finish()
            if all_or_nothing and summary.failed:
                await transaction.rollback()
                summary.skipped += summary.registered + summary.unchanged
                summary.registered = summary.unchanged = 0
                summary.without_coverage.clear()
            else:
                if summary.registered:
                    await self._audit(session, caller, f"registered files ({summary})", "-")
                await transaction.commit()
        return summary

    # -- provenance ----------------------------------------------------------------------------

    async def record_activity(
        self,
        spec: ActivitySpec,
        new_files: Sequence[Candidate | Rejected] = (),
        *,
        caller: Caller = LOCAL_OPERATOR,
    ) -> Recorded:
        """Record an activity, registering its new output files, in one transaction.

        Any problem (a missing input, a refused file, an output generated before) writes
        nothing; every problem is reported with the input it concerns.
        """
        check_activity(spec)
        rights = self.policy.writer(caller)
        # Lineage of an existing DID is written about it: the caller must be able to write it.
        self.policy.require_write(caller, [output.did.scope for output in spec.generated])
        async with self._sessions() as session:
            run = Registration(
                session,
                self.moc_order,
                self._index_cells,
                track_outcomes=True,
                may_write=rights.may_write,
            )
            transaction = await session.begin()
            result = await recording.record(
                session, spec, list(new_files), run, caller, self.policy.viewer(caller)
            )
            if result.problems:
                await transaction.rollback()
                result.registered = result.unchanged = 0
            else:
                if result.activity is not None:
                    action = f"recorded activity {result.activity.id} ({spec.name})"
                    await self._audit(session, caller, action, "-")
                await transaction.commit()
        return result

    # -- harvesting the VO -------------------------------------------------------------------

    async def start_harvest(
        self, spec: SourceSpec, *, caller: Caller = LOCAL_OPERATOR, resume: bool = True
    ) -> Harvest:
        """A harvest run of the source: its failed last run continued, or a new one."""
        self.policy.require_admin(caller, "harvest")
        return await harvesting.start(
            self._sessions,
            spec,
            caller=caller,
            moc_order=self.moc_order,
            index_cells=self._index_cells,
            resume=resume,
        )

    async def harvest_runs(self, source: str | None = None, limit: int = 20) -> list[HarvestRun]:
        """Recorded harvest runs, newest first, of one source or of all."""
        async with self._sessions() as session:
            return await harvest_store.list_runs(session, source=source, limit=limit)

    async def harvest_sources(self, *, viewer: Viewer = PUBLIC) -> list[tuple[SourceSpec, int]]:
        """Every harvest source with its number of records ``viewer`` may find."""
        async with self._sessions() as session:
            return await harvest_store.list_sources(session, viewer)

    async def harvest_info(self, did_ids: Sequence[int]) -> dict[int, HarvestInfo]:
        """Where each harvested DID among the ids came from (lake DIDs are absent)."""
        async with self._sessions() as session:
            return await harvest_store.harvest_info(session, did_ids)

    # -- following a Rucio server (docs/rucio.md) ------------------------------------------

    async def start_rucio_sync(
        self,
        *,
        url: str,
        account: str,
        scopes: Sequence[str],
        full: bool = False,
        resume: bool = True,
        events: bool = False,
        server_time: datetime | None = None,
        margin: timedelta = syncing.DEFAULT_MARGIN,
        caller: Caller = LOCAL_OPERATOR,
    ) -> syncing.RucioSync:
        """A sync run of a Rucio server's scopes: its failed last run continued, or a new one."""
        return await syncing.start(
            self._sessions,
            url=url,
            account=account,
            scopes=scopes,
            caller=caller,
            moc_order=self.moc_order,
            index_cells=self._index_cells,
            full=full,
            resume=resume,
            events=events,
            server_time=server_time,
            margin=margin,
        )

    async def rucio_sync_runs(self, url: str | None = None, limit: int = 20) -> list[SyncRun]:
        """Recorded Rucio sync runs, newest first, of one server or of all."""
        async with self._sessions() as session:
            return await rucio_store.list_runs(session, url=url, limit=limit)

    async def rucio_rses(self) -> list[SyncedRSE]:
        """The RSEs a Rucio sync brought, with Rucio's protocols and attributes."""
        async with self._sessions() as session:
            return await rucio_store.list_synced_rses(session)
