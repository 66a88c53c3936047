"""The catalogue's use cases; each public method is one unit of work with its own session."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalogue.coverage import Coverage
from catalogue.errors import ConflictError, InvalidInputError, NotFoundError
from catalogue.ingest import Candidate, Rejected, prepare
from catalogue.models import (
    DID,
    RSE,
    DIDDetail,
    DIDKey,
    DIDType,
    MetaValue,
    Page,
    RunSummary,
    check_metadata,
    check_rse,
)
from catalogue.query import DIDQuery
from catalogue.store import dids, files, queries
from catalogue.store.extents import Contribution, combine

Progress = Callable[[int], None]


def _now() -> datetime:
    return datetime.now(UTC)


def _batches(
    items: Iterable[Candidate | Rejected], size: int
) -> Iterator[list[Candidate | Rejected]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class Catalogue:
    """Use cases of the catalogue over one relational store."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        moc_order: int = 10,
        index_cells: int = 24,
        batch_size: int = 2000,
    ) -> None:
        self._sessions = sessions
        self.moc_order = moc_order
        self._index_cells = index_cells
        self._batch_size = batch_size

    # -- storage elements and scopes -------------------------------------------------------

    async def add_rse(self, rse: RSE) -> None:
        """Register a storage element."""
        check_rse(rse)
        async with self._sessions.begin() as session:
            await dids.add_rse(session, rse, _now())

    async def require_rse(self, name: str) -> None:
        """Fail with a message saying how to register the RSE when it is missing."""
        async with self._sessions() as session:
            await dids.rse_lookup(session, {name})

    async def list_rses(self) -> list[RSE]:
        """All storage elements."""
        async with self._sessions() as session:
            return await dids.list_rses(session)

    async def list_scopes(self) -> list[str]:
        """All scopes."""
        async with self._sessions() as session:
            return await dids.list_scopes(session)

    # -- collections and the DID graph -----------------------------------------------------

    async def add_collection(
        self, key: DIDKey, did_type: DIDType, metadata: dict[str, MetaValue] | None = None
    ) -> DID:
        """Create an open dataset or container (idempotent for the same type)."""
        if did_type is DIDType.FILE:
            raise InvalidInputError("files are registered with their checksums, not created empty")
        async with self._sessions.begin() as session:
            did, _ = await dids.add_collection(
                session, key, did_type, check_metadata(metadata or {}), _now()
            )
            return did

    async def attach(self, parent: DIDKey, children: Sequence[DIDKey]) -> int:
        """Attach DIDs to a collection; returns how many were new. Cycles are rejected."""
        async with self._sessions.begin() as session:
            parent_row = await dids.require_did(session, parent)
            rows = [await dids.require_did(session, c) for c in children]
            return await dids.attach(session, parent_row, rows, _now(), self._index_cells)

    async def detach(self, parent: DIDKey, children: Sequence[DIDKey]) -> int:
        """Detach DIDs from a collection; returns how many were attached."""
        async with self._sessions.begin() as session:
            parent_row = await dids.require_did(session, parent)
            rows = [await dids.require_did(session, c) for c in children]
            return await dids.detach(session, parent_row, rows, _now(), self._index_cells)

    async def close(self, key: DIDKey) -> None:
        """Close a collection to new content."""
        async with self._sessions.begin() as session:
            await dids.close(session, await dids.require_did(session, key), _now())

    async def set_metadata(self, key: DIDKey, metadata: dict[str, MetaValue]) -> None:
        """Set metadata keys of a DID (other keys are kept)."""
        values = check_metadata(metadata)
        async with self._sessions.begin() as session:
            row = await dids.require_did(session, key)
            await dids.set_metadata(session, row["id"], values, _now())

    # -- reading ---------------------------------------------------------------------------

    async def get_did(self, key: DIDKey) -> DIDDetail | None:
        """A DID with everything known about it, or ``None``."""
        async with self._sessions() as session:
            return await dids.get_detail(session, key)

    async def get_coverage(self, key: DIDKey) -> Coverage | None:
        """A DID's MOC, or ``None`` when it has no sky coverage."""
        async with self._sessions() as session:
            row = await dids.require_did(session, key)
            return await dids.get_coverage(session, row["id"])

    async def list_children(self, key: DIDKey, *, recursive: bool = False) -> list[DID]:
        """A collection's content, directly or at any depth."""
        async with self._sessions() as session:
            row = await dids.require_did(session, key)
            return await dids.relatives(session, row["id"], down=True, recursive=recursive)

    async def list_parents(self, key: DIDKey, *, recursive: bool = False) -> list[DID]:
        """The collections a DID belongs to, directly or at any depth."""
        async with self._sessions() as session:
            row = await dids.require_did(session, key)
            return await dids.relatives(session, row["id"], down=False, recursive=recursive)

    async def search(self, query: DIDQuery) -> Page[DID]:
        """DIDs matching a query, one page at a time."""
        async with self._sessions() as session:
            return await queries.list_dids(session, query)

    # -- registering files -----------------------------------------------------------------

    async def register_files(
        self,
        items: Iterable[Candidate | Rejected],
        *,
        all_or_nothing: bool,
        progress: Progress | None = None,
    ) -> RunSummary:
        """Register files in batches, attaching each to its dataset.

        With ``all_or_nothing`` (manifests) the run is one transaction: any bad record or
        conflict rolls everything back, and reading goes on only to report every problem.
        Otherwise (FITS walks) each batch commits, and bad files are skipped and reported.
        """
        summary = RunSummary()
        session = self._sessions()
        try:
            transaction = await session.begin()
            for batch in _batches(items, self._batch_size):
                await self._register_batch(
                    session, batch, summary, writing=not (all_or_nothing and summary.failed)
                )
                if progress:
                    progress(len(batch))
                if not all_or_nothing:
                    await transaction.commit()
                    transaction = await session.begin()
            if all_or_nothing and summary.failed:
                await transaction.rollback()
                summary.skipped += summary.registered + summary.unchanged
                summary.registered = summary.unchanged = 0
            else:
                await transaction.commit()
        finally:
            await session.close()
        return summary

    async def _register_batch(
        self,
        session: AsyncSession,
        batch: list[Candidate | Rejected],
        summary: RunSummary,
        *,
        writing: bool,
    ) -> None:
        candidates = [c for c in batch if isinstance(c, Candidate)]
        for item in batch:
            if isinstance(item, Rejected):
                summary.failed += 1
                summary.problems.append((item.where, item.reason))
        prepared = prepare(candidates, self.moc_order)
        good: list[tuple[Candidate, files.PreparedFile]] = []
        for candidate, result in zip(candidates, prepared, strict=True):
            if isinstance(result, Rejected):
                summary.failed += 1
                summary.problems.append((result.where, result.reason))
            else:
                good.append((candidate, result))
        good = await self._on_registered_rses(session, good, summary)
        if not writing or not good:
            return
        await self._write(session, good, summary)

    async def _on_registered_rses(
        self,
        session: AsyncSession,
        good: list[tuple[Candidate, files.PreparedFile]],
        summary: RunSummary,
    ) -> list[tuple[Candidate, files.PreparedFile]]:
        """Report, and leave out, files with a replica on an RSE that is not registered."""
        unknown: dict[str, str] = {}
        for name in sorted({r.rse for _, p in good for r in p.spec.replicas}):
            try:
                await dids.rse_lookup(session, {name})
            except NotFoundError as exc:
                unknown[name] = str(exc)
        kept: list[tuple[Candidate, files.PreparedFile]] = []
        for candidate, item in good:
            missing = [r.rse for r in item.spec.replicas if r.rse in unknown]
            if missing:
                summary.failed += 1
                summary.problems.append((candidate.where, unknown[missing[0]]))
            else:
                kept.append((candidate, item))
        return kept

    async def _write(
        self,
        session: AsyncSession,
        good: list[tuple[Candidate, files.PreparedFile]],
        summary: RunSummary,
    ) -> None:
        now = _now()
        names = {r.rse for _, p in good for r in p.spec.replicas}
        rses = await dids.rse_lookup(session, names) if names else {}
        read_only = sorted(n for n, (_, _, ro) in rses.items() if ro)
        if read_only:
            raise ConflictError(f"RSE {read_only[0]!r} is read-only; no replicas can be added")
        result = await files.add_files(
            session,
            [p for _, p in good],
            {n: (i, url) for n, (i, url, _) in rses.items()},
            now,
            self._index_cells,
        )
        where = {c.spec.key: c.where for c, _ in good}
        conflicted: set[DIDKey] = set()
        for outcome, key, message in result.outcomes:
            if outcome is files.Outcome.CONFLICT:
                summary.failed += 1
                summary.problems.append((where[key], message))
                conflicted.add(key)
            elif outcome is files.Outcome.REGISTERED:
                summary.registered += 1
            else:
                summary.unchanged += 1
        summary.without_coverage.extend(str(p.spec.key) for _, p in good if p.coverage is None)
        members = [
            (c, p) for c, p in good if c.dataset is not None and c.spec.key not in conflicted
        ]
        if members:
            await self._attach_to_datasets(session, members, now)

    async def _attach_to_datasets(
        self,
        session: AsyncSession,
        members: list[tuple[Candidate, files.PreparedFile]],
        now: datetime,
    ) -> None:
        rows = await files.find_dids(session, [c.spec.key for c, _ in members])
        groups: dict[DIDKey, list[tuple[int, files.PreparedFile]]] = {}
        for candidate, item in members:
            assert candidate.dataset is not None  # noqa: S101 - filtered by the caller
            groups.setdefault(candidate.dataset, []).append((rows[candidate.spec.key]["id"], item))
        for dataset_key, group in groups.items():
            await dids.add_collection(session, dataset_key, DIDType.DATASET, {}, now)
            parent = await dids.require_did(session, dataset_key)
            dids.check_accepts(parent, DIDType.FILE)
            contribution = combine([_contribution(item) for _, item in group])
            await dids.attach_ids(
                session, parent, [i for i, _ in group], now, self._index_cells, contribution
            )


def _contribution(item: files.PreparedFile) -> Contribution:
    char = item.characterisation
    return Contribution(
        item.coverage, char.get("t_min"), char.get("t_max"), char.get("em_min"), char.get("em_max")
    )
