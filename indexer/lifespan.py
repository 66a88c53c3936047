"""The indexer inside ``lakecat serve``: the outbox worker as a background task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalogue.config import Settings
from indexer.backend import ElasticsearchSearch
from indexer.client import create_client
from indexer.worker import IndexWorker

log = logging.getLogger(__name__)
_STOP_GRACE = 10.0  # seconds to finish a batch on shutdown before it is cancelled


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the indexer stopped", exc_info=task.exception())


@asynccontextmanager
async def run_indexer(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[ElasticsearchSearch]:
    """Drain the outbox in the background while the block runs; yields the search backend.

    The worker retries on its own, so an unreachable cluster delays search and stops
    nothing; leaving the block stops the worker between batches and closes the client.
    """
    client = create_client(settings)
    worker = IndexWorker.from_settings(settings, sessions, client)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop), name="lakecat-indexer")
    task.add_done_callback(_report)
    try:
        yield ElasticsearchSearch(client, sessions, settings.elasticsearch_index)
    finally:
        stop.set()
        done, _ = await asyncio.wait({task}, timeout=_STOP_GRACE)
        if not done:  # mid-rebuild: cancelling deletes its new index; outbox rows wait
            task.cancel()
            await asyncio.wait({task})
        await client.close()
