"""``lakecat index``: run the outbox worker, show its lag, rebuild (docs/operations.md)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from catalogue.config import Settings
from catalogue.store.engine import create_engine, create_sessions, migrate
from indexer.client import create_client
from indexer.worker import IndexStatus, IndexWorker, RebuildRunningError

T = TypeVar("T")
pass_settings = click.make_pass_decorator(Settings, ensure=True)


def _with_worker(settings: Settings, work: Callable[[IndexWorker], Awaitable[T]]) -> T:
    """Run ``work`` with a worker over the configured store and cluster."""
    if not settings.elasticsearch_url:
        click.echo("error: set LAKECAT_ELASTICSEARCH_URL to use the search index", err=True)
        sys.exit(2)

    async def main() -> T:
        engine = create_engine(settings.resolved_database_url)
        client = create_client(settings)
        try:
            await migrate(engine)
            worker = IndexWorker.from_settings(settings, create_sessions(engine), client)
            return await work(worker)
        finally:
            await client.close()
            await engine.dispose()

    return asyncio.run(main())


@click.group(name="index")
def index() -> None:
    """The Elasticsearch index: outbox worker, lag, rebuild."""


@index.command(name="run")
@click.option("--once", is_flag=True, help="Drain what waits now, then exit.")
@pass_settings
def run_command(settings: Settings, once: bool) -> None:
    """Drain the outbox into Elasticsearch (until interrupted, or once)."""

    async def work(worker: IndexWorker) -> None:
        if once:
            await worker.ensure_index()
            click.echo(f"indexed {await worker.drain()} outbox rows")
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"draining the outbox into {worker.alias} (Ctrl-C stops)", err=True)
        await worker.run_forever(stop)

    _with_worker(settings, work)


def _describe(status: IndexStatus) -> str:
    oldest = status.oldest.isoformat() if status.oldest else "-"
    lines = [
        f"outbox rows waiting: {status.waiting}",
        f"oldest waiting row:  {oldest} (lag {status.lag_seconds:.1f} s)",
        f"indices:             {', '.join(status.indices) or 'none (run `lakecat index rebuild`)'}",
        f"documents:           {status.documents if status.documents is not None else '-'}",
    ]
    if status.building:
        lines.append(f"rebuild loading:     {', '.join(status.building)}")
    return "\n".join(lines)


@index.command(name="status")
@pass_settings
def status_command(settings: Settings) -> None:
    """How far the index is behind the store."""
    status = _with_worker(settings, lambda worker: worker.status())
    click.echo(_describe(status))


@index.command(name="rebuild")
@click.option("--force", is_flag=True, help="Delete what a crashed rebuild left first.")
@pass_settings
def rebuild_command(settings: Settings, force: bool) -> None:
    """Build a new index from the store and swap the alias to it (no downtime)."""
    loaded = 0

    def progress(count: int) -> None:
        nonlocal loaded
        loaded += count
        click.echo(f"loaded {loaded} DIDs", err=True)

    try:
        name = _with_worker(settings, lambda worker: worker.rebuild(progress, force=force))
    except RebuildRunningError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{settings.elasticsearch_index} -> {name}")
