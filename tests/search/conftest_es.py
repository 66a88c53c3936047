"""The search server of the Elasticsearch tests, and a lake indexed through the outbox.

The server is osmem-server (an in-memory server speaking the Elasticsearch REST API):
``scripts/test`` starts one and exports ``LAKECAT_TEST_ELASTICSEARCH_URL``. Without that
variable the tests start one from the installed ``osmem_server`` package; when neither works
they fail with a message naming the variable. They never skip.

Imported by the test modules that need it (pytest collects fixtures from their namespace).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from elasticsearch import AsyncElasticsearch
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalogue.config import Settings
from catalogue.store.engine import create_sessions
from catalogue.store.search_sql import RelationalSearch
from indexer.backend import ElasticsearchSearch
from indexer.client import create_client
from indexer.worker import IndexWorker

URL_VARIABLE = "LAKECAT_TEST_ELASTICSEARCH_URL"


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """The search server's URL: the one scripts/test started, else one started here."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        yield url
        return
    try:
        from osmem_server import OsmemServer  # noqa: PLC0415 - only when no server is given

        server = OsmemServer.start()
    except (ImportError, OSError, RuntimeError) as exc:
        pytest.fail(
            f"{URL_VARIABLE} is not set and osmem-server could not be started ({exc}): run "
            "the suite with `bash scripts/test`, which starts one, or install osmem-server "
            f"(pip install osmem-server) or point {URL_VARIABLE} at an Elasticsearch server"
        )
    try:
        yield server.url
    finally:
        server.close()


def es_settings(url: str, alias: str = "lakecat-test") -> Settings:
    """Settings for the test server: plain JSON, one shard, no replica."""
    return Settings(
        elasticsearch_url=url,
        elasticsearch_plain_json=True,
        elasticsearch_index=alias,
        elasticsearch_replicas=0,
    )


@pytest.fixture(scope="session")
async def es_client(es_url: str) -> AsyncIterator[AsyncElasticsearch]:
    """One client for the run, built as the service builds it."""
    client = create_client(es_settings(es_url))
    yield client
    await client.close()


@pytest.fixture
async def alias(es_client: AsyncElasticsearch) -> AsyncIterator[str]:
    """A fresh alias for one test; its indices are deleted afterwards."""
    name = f"lakecat-test-{uuid.uuid4().hex[:10]}"
    yield name
    await es_client.options(ignore_status=404).indices.delete(
        index=f"{name}-*", expand_wildcards="all"
    )


def make_worker(
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncElasticsearch,
    alias: str,
    **options: object,
) -> IndexWorker:
    """A worker for tests: small batches, visible writes, quick polls and back-off."""
    settings: dict[str, object] = {
        "batch_size": 50,
        "replicas": 0,
        "refresh": True,
        "poll_interval": 0.05,
        "backoff": (0.02, 0.1),
    }
    settings.update(options)
    return IndexWorker(sessions, client, alias, **settings)  # type: ignore[arg-type]


@dataclass
class IndexedLake:
    """A catalogue's store with its index: the worker and both search backends."""

    sessions: async_sessionmaker[AsyncSession]
    worker: IndexWorker
    elasticsearch: ElasticsearchSearch
    relational: RelationalSearch

    async def sync(self) -> int:
        """Index everything the outbox holds."""
        return await self.worker.drain()


@pytest.fixture
async def indexed(engine: AsyncEngine, es_client: AsyncElasticsearch, alias: str) -> IndexedLake:
    """The test's store (each engine) with an empty index behind a fresh alias."""
    sessions = create_sessions(engine)
    worker = make_worker(sessions, es_client, alias)
    await worker.ensure_index()
    return IndexedLake(
        sessions,
        worker,
        ElasticsearchSearch(es_client, sessions, alias),
        RelationalSearch(sessions),
    )
