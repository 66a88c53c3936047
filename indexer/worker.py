"""The indexer worker: drains the outbox into Elasticsearch, and rebuilds the index.

Every write commits outbox rows with its own rows (catalogue/store/search_docs.py). The
worker reads the oldest rows, builds the documents of their DIDs from the store as it is now,
sends one bulk request, and only then deletes exactly the rows it read: an Elasticsearch
outage, a crash or a failed item leaves them waiting, to be retried with exponential back-off.
Indexing the current state is idempotent, so a row seen twice does no harm.

Writes go through aliases (``require_alias``): the index alias and, while a rebuild runs, the
building alias of the new index, so the outbox keeps both up to date (docs/search.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, AsyncElasticsearch
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalogue.config import Settings
from catalogue.store import tables as t
from catalogue.store.search_docs import outbox_batch, outbox_done, outbox_lag
from indexer.documents import IndexBatch, read_batch
from indexer.mapping import building_alias, index_mappings, index_settings, new_index_name

log = logging.getLogger(__name__)

# A DID deleted while a rebuild read it may be loaded after the worker removed it; the
# rebuild removes every DID deleted since it started, minus this margin for clock skew.
_DELETION_MARGIN = timedelta(minutes=5)


class BulkFailedError(Exception):
    """Some items of a bulk request failed; the batch stays in the outbox."""


class RebuildRunningError(Exception):
    """Another rebuild of the same alias is under way."""


RETRYABLE = (TransportError, ApiError, BulkFailedError, SQLAlchemyError)


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """How far the index is behind the store, and what it is made of."""

    waiting: int  # outbox rows not yet indexed
    oldest: datetime | None  # when the oldest waiting row was written
    indices: list[str]  # behind the alias
    documents: int | None  # in the alias's index; None when it is missing
    building: list[str]  # indices a rebuild is loading

    @property
    def lag_seconds(self) -> float:
        """Age of the oldest waiting row (0 when none waits)."""
        if self.oldest is None:
            return 0.0
        return max(0.0, (datetime.now(UTC) - self.oldest).total_seconds())


def _failures(response: dict[str, Any], *, loading: bool = False) -> list[dict[str, Any]]:
    """Items that failed: not a delete of a missing document, nor (loading) an existing one."""
    failed = []
    for item in response.get("items", []):
        ((action, result),) = item.items()
        status = int(result.get("status", 500))
        if status < 300 or (action == "delete" and status == 404):  # noqa: PLR2004
            continue
        if loading and action == "create" and status == 409:  # noqa: PLR2004
            continue
        failed.append(result)
    return failed


def _operations(batch: IndexBatch, targets: Sequence[str], op: str) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    for target in targets:
        for did_id, source in batch.sources:
            operations += [{op: {"_index": target, "_id": str(did_id)}}, source]
        operations += [{"delete": {"_index": target, "_id": str(i)}} for i in batch.removed]
    return operations


class IndexWorker:
    """Keeps the index behind ``alias`` in step with the store through the outbox."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncElasticsearch,
        alias: str,
        batch_size: int = 1000,
        *,
        moc_ranges: int = 64,
        shards: int = 1,
        replicas: int = 1,
        refresh: bool = False,
        poll_interval: float = 1.0,
        backoff: tuple[float, float] = (0.5, 60.0),
    ) -> None:
        self._sessions = sessions
        self._client = client
        self.alias = alias
        self._batch_size = batch_size
        self._moc_ranges = moc_ranges
        self._shards = shards
        self._replicas = replicas
        self._refresh = refresh  # tests: make each bulk visible to the next search
        self._poll = poll_interval
        self._backoff = backoff
        self.failures = 0  # consecutive failed attempts, for status and tests

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncElasticsearch,
    ) -> IndexWorker:
        """A worker configured by the ``LAKECAT_ELASTICSEARCH_*`` settings."""
        return cls(
            sessions,
            client,
            settings.elasticsearch_index,
            settings.elasticsearch_batch_size,
            moc_ranges=settings.elasticsearch_moc_ranges,
            shards=settings.elasticsearch_shards,
            replicas=settings.elasticsearch_replicas,
        )

    # -- the outbox ------------------------------------------------------------------------

    async def _targets(self) -> list[str]:
        """The aliases to write to: the index's, and a rebuild's while one runs."""
        names = (self.alias, building_alias(self.alias))
        return [n for n in names if (await self._client.indices.exists_alias(name=n)).body]

    async def _bulk(self, operations: list[dict[str, Any]], *, loading: bool = False) -> None:
        """Send one bulk request; through aliases only, unless loading a new index."""
        if not operations:
            return
        response = await self._client.bulk(
            operations=operations,
            require_alias=not loading,
            refresh="wait_for" if self._refresh else False,
        )
        failed = _failures(response.body, loading=loading)
        if failed:
            first = failed[0].get("error", failed[0])
            msg = f"{len(failed)} of {len(response.body['items'])} bulk items failed: {first}"
            raise BulkFailedError(msg)

    async def run_once(self) -> int:
        """Index one batch of outbox rows; the number of rows done (0: none waited)."""
        async with self._sessions() as session:
            rows = await outbox_batch(session, self._batch_size)
            if not rows:
                return 0
            batch = await read_batch(session, sorted({d for _, d in rows}), self._moc_ranges)
        targets = await self._targets()
        if self.alias not in targets:
            await self.ensure_index()
            targets = await self._targets()
        await self._bulk(_operations(batch, targets, "index"))
        async with self._sessions.begin() as session:
            await outbox_done(session, [seq for seq, _ in rows])
        return len(rows)

    async def drain(self) -> int:
        """Index every waiting row (no retries: errors propagate); the number done."""
        done = 0
        while count := await self.run_once():
            done += count
        return done

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Drain the outbox until ``stop`` is set, polling when idle, backing off on errors."""
        stop = stop or asyncio.Event()
        ready = False
        while not stop.is_set():
            try:
                if not ready:
                    await self.ensure_index()
                    ready = True
                done = await self.run_once()
            except RETRYABLE as exc:
                self.failures += 1
                base, cap = self._backoff
                delay = min(cap, base * 2 ** (self.failures - 1))
                log.warning("indexing failed (attempt %d), retrying in %.1f s: %s",
                            self.failures, delay, exc)  # fmt: skip
                await _wait(stop, delay)
                continue
            self.failures = 0
            if done == 0:
                await _wait(stop, self._poll)

    async def status(self) -> IndexStatus:
        """The outbox lag and the indices behind the aliases."""
        async with self._sessions() as session:
            waiting, oldest = await outbox_lag(session)
        indices = await self._indices(self.alias)
        documents = None
        if indices:
            documents = int((await self._client.count(index=self.alias)).body["count"])
        building = await self._indices(building_alias(self.alias))
        return IndexStatus(waiting, oldest, indices, documents, building)

    # -- creating and rebuilding the index -------------------------------------------------

    async def _indices(self, alias: str) -> list[str]:
        response = await self._client.options(ignore_status=404).indices.get_alias(name=alias)
        if response.meta.status == 404:  # noqa: PLR2004
            return []
        return sorted(response.body)

    async def ensure_index(self) -> None:
        """Build the index from the store when the alias is missing or its mapping is older.

        An index built before a field was added (``embargo_until``, say) would answer
        wrongly, and for embargoes unsafely: it is rebuilt, not trusted.
        """
        if not (await self._client.indices.exists_alias(name=self.alias)).body:
            log.info("index alias %s is missing: building it from the store", self.alias)
            await self.rebuild()
            return
        missing = await self._missing_fields()
        if missing:
            log.warning("index %s lacks %s: rebuilding it from the store", self.alias, missing)
            await self.rebuild()

    async def _missing_fields(self) -> list[str]:
        """Top-level fields of the current mapping that the alias's indices lack."""
        wanted = set(index_mappings()["properties"])
        found = (await self._client.indices.get_mapping(index=self.alias)).body
        missing: set[str] = set()
        for index in found.values():
            missing |= wanted - set(index.get("mappings", {}).get("properties", {}))
        return sorted(missing)

    async def rebuild(
        self, progress: Callable[[int], None] | None = None, *, force: bool = False
    ) -> str:
        """Build a new index from the store, swap the alias to it atomically, drop the old.

        Searches go on against the old index until the swap; the outbox worker writes to
        both meanwhile. ``force`` first deletes what a crashed rebuild left behind.
        Returns the new index's name.
        """
        building = building_alias(self.alias)
        if force:
            for stale in await self._indices(building):
                await self._client.options(ignore_status=404).indices.delete(index=stale)
        if (await self._client.indices.exists_alias(name=building)).body:
            msg = (
                f"a rebuild of {self.alias} is running (alias {building} exists); "
                "if it crashed, rebuild with --force"
            )
            raise RebuildRunningError(msg)
        started = datetime.now(UTC) - _DELETION_MARGIN
        name = new_index_name(self.alias)
        settings = index_settings(self._shards, 0)
        settings["refresh_interval"] = "-1"  # refreshed once, before the swap
        await self._client.indices.create(
            index=name, settings=settings, mappings=index_mappings(), aliases={building: {}}
        )
        try:
            await self._load(name, progress)
            await self._remove_deleted_since(name, started)
            await self._client.indices.put_settings(
                index=name,
                settings={"refresh_interval": None, "number_of_replicas": self._replicas},
            )
            await self._client.indices.refresh(index=name)
            old = await self._indices(self.alias)
            actions: list[dict[str, Any]] = [
                {"remove": {"index": index, "alias": self.alias}} for index in old
            ]
            actions += [
                {"add": {"index": name, "alias": self.alias}},
                {"remove": {"index": name, "alias": building}},
            ]
            await self._client.indices.update_aliases(actions=actions)
        except BaseException:
            await self._client.options(ignore_status=404).indices.delete(index=name)
            raise
        for index in old:
            await self._client.options(ignore_status=404).indices.delete(index=index)
        log.info("index %s now behind alias %s (dropped %s)", name, self.alias, old)
        return name

    async def _load(self, index: str, progress: Callable[[int], None] | None) -> None:
        """Every live DID, by id ranges; ``create`` never overwrites what the worker wrote."""
        last = 0
        while True:
            async with self._sessions() as session:
                ids = list(
                    await session.scalars(
                        select(t.did.c.id)
                        .where(t.did.c.id > last, t.did.c.deleted_at.is_(None))
                        .order_by(t.did.c.id)
                        .limit(self._batch_size)
                    )
                )
                if not ids:
                    return
                batch = await read_batch(session, ids, self._moc_ranges)
            live = IndexBatch(batch.sources, [])
            await self._bulk(_operations(live, [index], "create"), loading=True)
            last = ids[-1]
            if progress is not None:
                progress(len(ids))

    async def _remove_deleted_since(self, index: str, since: datetime) -> None:
        async with self._sessions() as session:
            ids = list(await session.scalars(select(t.did.c.id).where(t.did.c.deleted_at >= since)))
        for start in range(0, len(ids), self._batch_size):
            removed = IndexBatch([], ids[start : start + self._batch_size])
            await self._bulk(_operations(removed, [index], "index"), loading=True)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
