"""``lakecat harvest``: bring VO records into the catalogue, and show the runs (docs/harvest.md)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.markup import escape

from bridges.harvest.hips import HipsReader
from bridges.harvest.http import DEFAULT_TIMEOUT
from bridges.harvest.registry import DEFAULT_REGISTRY, RegistryReader
from bridges.harvest.run import Reader, run_harvest
from bridges.harvest.tap import DEFAULT_CHUNK, TapReader
from catalogue.authorization import EVERYTHING
from catalogue.config import Settings
from catalogue.errors import InvalidInputError
from catalogue.harvest import HarvestRun, RunStatus
from catalogue.models import Intersect
from catalogue.region import parse_stcs
from catalogue.service import Catalogue
from schema.cli_support import err, out, progress_bar, run_work

pass_settings = click.make_pass_decorator(Settings, ensure=True)
_SHOWN_PROBLEMS = 50


def _harvest(settings: Settings, reader: Reader, *, restart: bool) -> None:
    async def work(catalogue: Catalogue) -> HarvestRun:
        with progress_bar(f"harvest {reader.spec.name}", None) as advance:
            return await run_harvest(catalogue, reader, resume=not restart, progress=advance)

    run = run_work(settings, work)
    for problem in run.problems[:_SHOWN_PROBLEMS]:
        err.print(f"  [red]✗[/red] {escape(problem.where)}: {escape(problem.reason)}")
    if run.counts.failed > _SHOWN_PROBLEMS:
        err.print(f"  … {run.counts.failed - _SHOWN_PROBLEMS} more (lakecat harvest runs --json)")
    out.print(f"run {run.id} of {run.source}: {run.status.value}; {run.counts}")
    if run.status is RunStatus.FAILED:
        err.print(f"[red]error:[/red] {escape(run.error or '')}")
        err.print("what was committed stays; run the same command again to resume")
        sys.exit(1)
    if run.status is RunStatus.INCOMPLETE:
        err.print(
            "the source was not read to its end (--max-records, or the registry cut its "
            "answer short: raise --maxrec or narrow the query); nothing was withdrawn"
        )


@click.group(name="harvest")
def harvest() -> None:
    """Harvest the Virtual Observatory: TAP/ObsCore services, registries, HiPS lists."""


_source = click.option(
    "--source", help="The source's name (its records' scope); default from the URL's host."
)
_timeout = click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for each answer.",
)
_restart = click.option(
    "--restart", is_flag=True, help="Start a new run even if the last one failed midway."
)


@harvest.command(name="tap")
@click.argument("url")
@click.option("--table", default="ivoa.obscore", show_default=True, help="The ObsCore table.")
@click.option("--where", help="An ADQL condition on the remote table (fixed for the source).")
@_source
@click.option("--chunk-size", type=click.IntRange(min=1), default=DEFAULT_CHUNK, show_default=True)
@click.option("--max-records", type=click.IntRange(min=1), help="Stop after this many rows.")
@click.option(
    "--mode",
    type=click.Choice(["auto", "sync", "async"]),
    default="auto",
    show_default=True,
    help="auto: sync, and UWS jobs from the first chunk that times out.",
)
@_timeout
@_restart
@pass_settings
def tap_command(
    settings: Settings,
    url: str,
    table: str,
    where: str | None,
    source: str | None,
    chunk_size: int,
    max_records: int | None,
    mode: str,
    timeout: float,
    restart: bool,
) -> None:
    """ObsCore records of a TAP service, by obs_publisher_did, in chunks."""
    reader = TapReader(
        url,
        table=table,
        where=where,
        source=source,
        chunk_size=chunk_size,
        max_records=max_records,
        mode="async" if mode == "async" else "sync" if mode == "sync" else "auto",
        timeout=timeout,
    )
    _harvest(settings, reader, restart=restart)


@harvest.command(name="registry")
@click.option("--url", default=DEFAULT_REGISTRY, show_default=True, help="A RegTAP service.")
@click.option("--servicetype", help="tap, sia, ssa, conesearch, ... (pyvo's servicetype).")
@click.option("--datamodel", help="e.g. obscore, epntap, regtap.")
@click.option("--keywords", multiple=True, help="Words in titles, descriptions, subjects.")
@click.option("--region", help="Resources whose coverage meets this STC-S circle or polygon.")
@click.option(
    "--intersect",
    type=click.Choice([i.value for i in Intersect]),
    default=Intersect.OVERLAPS.value,
    show_default=True,
    help="How a resource's coverage must relate to --region.",
)
@click.option("--chunk-size", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--maxrec", type=click.IntRange(min=1), help="MAXREC of the resource query.")
@_source
@_timeout
@_restart
@pass_settings
def registry_command(
    settings: Settings,
    url: str,
    servicetype: str | None,
    datamodel: str | None,
    keywords: tuple[str, ...],
    region: str | None,
    intersect: str,
    chunk_size: int,
    maxrec: int | None,
    source: str | None,
    timeout: float,
    restart: bool,
) -> None:
    """VO resources from a RegTAP registry, with their coverage MOCs where it has them."""
    try:
        shape = parse_stcs(region) if region else None
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--region") from exc
    reader = RegistryReader(
        url,
        servicetype=servicetype,
        datamodel=datamodel,
        keywords=keywords,
        region=shape,
        intersect=Intersect(intersect),
        source=source,
        timeout=timeout,
        chunk_size=chunk_size,
        maxrec=maxrec,
    )
    _harvest(settings, reader, restart=restart)


@harvest.command(name="hips")
@click.argument("url")
@_source
@_timeout
@_restart
@pass_settings
def hips_command(
    settings: Settings, url: str, source: str | None, timeout: float, restart: bool
) -> None:
    """HiPS surveys from a HiPS list or properties file, with each one's Moc.fits."""
    _harvest(settings, HipsReader(url, source=source, timeout=timeout), restart=restart)


def _run_json(run: HarvestRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "source": run.source,
        "kind": run.kind.value,
        "url": run.url,
        "parameters": dict(run.parameters),
        "status": run.status.value,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "added": run.counts.added,
        "updated": run.counts.updated,
        "unchanged": run.counts.unchanged,
        "withdrawn": run.counts.withdrawn,
        "failed": run.counts.failed,
        "problems": [[p.where, p.reason] for p in run.problems],
        "error": run.error,
        "resume_after": run.resume_after,
    }


@harvest.command(name="runs")
@click.option("--source", help="Only this source's runs.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON lines.")
@pass_settings
def runs_command(settings: Settings, source: str | None, limit: int, as_json: bool) -> None:
    """Recorded harvest runs, newest first."""

    async def work(catalogue: Catalogue) -> list[HarvestRun]:
        return await catalogue.harvest_runs(source, limit)

    for run in run_work(settings, work):
        if as_json:
            out.print(json.dumps(_run_json(run)))
            continue
        ended = run.ended_at.isoformat(timespec="seconds") if run.ended_at else "-"
        line = (
            f"{run.id:>5} {run.source} {run.kind.value} {run.status.value} "
            f"{run.started_at.isoformat(timespec='seconds')} .. {ended}  {run.counts}"
        )
        out.print(line + (f"  error: {run.error}" if run.error else ""))


@harvest.command(name="sources")
@pass_settings
def sources_command(settings: Settings) -> None:
    """Harvest sources, with their live (not withdrawn) record counts."""

    async def work(catalogue: Catalogue) -> list[Any]:
        return await catalogue.harvest_sources(viewer=EVERYTHING)

    for spec, records in run_work(settings, work):
        parameters = json.dumps({k: v for k, v in spec.parameters.items() if v})
        out.print(f"{spec.name} {spec.kind.value} {spec.url} {parameters} records={records}")
