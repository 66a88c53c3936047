"""``lakecat rucio``: follow a Rucio server — sync, listen to hermes, show runs (docs/rucio.md)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from bridges.rucio.client import Auth, RucioClient, TokenAuth, UserpassAuth
from bridges.rucio.mapping import ObsCoreMapping
from bridges.rucio.sync import SyncOptions, run_sync
from catalogue.config import Settings
from catalogue.errors import InvalidInputError
from catalogue.rucio import SyncRun, SyncStatus
from catalogue.service import Catalogue
from schema.cli_support import err, out, progress_bar, run_work

pass_settings = click.make_pass_decorator(Settings, ensure=True)
_SHOWN_PROBLEMS = 50


def rucio_auth(settings: Settings, account: str | None, token_file: Path | None) -> Auth:
    """Userpass or token credentials from the options and ``LAKECAT_RUCIO_*`` settings."""
    account = account or settings.rucio_account
    if not account:
        raise click.UsageError("give --account (or set LAKECAT_RUCIO_ACCOUNT)")
    token_file = token_file or settings.rucio_token_file
    if token_file is not None or settings.rucio_token:
        return TokenAuth(account, token=settings.rucio_token, token_file=token_file)
    if not (settings.rucio_username and settings.rucio_password):
        raise click.UsageError(
            "set LAKECAT_RUCIO_USERNAME and LAKECAT_RUCIO_PASSWORD (userpass), or give "
            "--token-file / LAKECAT_RUCIO_TOKEN (an OIDC access token)"
        )
    return UserpassAuth(account, settings.rucio_username, settings.rucio_password)


def rucio_url(settings: Settings, url: str | None) -> str:
    """The server's URL from the option or ``LAKECAT_RUCIO_URL``."""
    found = url or settings.rucio_url
    if not found:
        raise click.UsageError("give --url (or set LAKECAT_RUCIO_URL)")
    return found


def _mapping(settings: Settings, path: Path | None) -> ObsCoreMapping:
    try:
        return ObsCoreMapping.load(path or settings.rucio_mapping)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--mapping") from exc


@click.group(name="rucio")
def rucio() -> None:
    """Follow a Rucio server: its scopes, RSEs, DIDs, replicas and metadata."""


_url = click.option("--url", help="Rucio's REST API (default LAKECAT_RUCIO_URL).")
_account = click.option("--account", help="The Rucio account (default LAKECAT_RUCIO_ACCOUNT).")
_token_file = click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file holding an OIDC access token (read again when Rucio answers 401).",
)
_scope = click.option(
    "--scope", "scopes", multiple=True, help="A scope to follow (repeat; default every scope)."
)
_mapping_option = click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON: Rucio metadata key -> ObsCore field, added to the defaults.",
)


@rucio.command(name="sync")
@_url
@_account
@_token_file
@_scope
@click.option("--full", is_flag=True, help="Read everything again (a reconciliation).")
@click.option("--restart", is_flag=True, help="Start a new run even if the last one failed.")
@click.option("--chunk-size", type=click.IntRange(1, 10_000), default=1000, show_default=True)
@click.option(
    "--margin",
    type=click.IntRange(min=0),
    default=60,
    show_default=True,
    help="Seconds an incremental run reads again before the last run's start.",
)
@_mapping_option
@pass_settings
def sync_command(
    settings: Settings,
    url: str | None,
    account: str | None,
    token_file: Path | None,
    scopes: tuple[str, ...],
    full: bool,
    restart: bool,
    chunk_size: int,
    margin: int,
    mapping: Path | None,
) -> None:
    """Bring the catalogue in step with Rucio: incremental after a first full run."""
    options = SyncOptions(
        scopes=scopes,
        full=full,
        resume=not restart,
        chunk_size=chunk_size,
        margin=timedelta(seconds=margin),
        mapping=_mapping(settings, mapping),
    )
    client = RucioClient(
        rucio_url(settings, url),
        rucio_auth(settings, account, token_file),
        timeout=settings.rucio_timeout,
    )

    async def work(catalogue: Catalogue) -> SyncRun:
        async with client:
            with progress_bar(f"rucio sync {client.url}", None) as advance:
                return await run_sync(catalogue, client, options, progress=advance)

    _report(run_work(settings, work))


def _report(run: SyncRun) -> None:
    for problem in run.problems[:_SHOWN_PROBLEMS]:
        mark = "[yellow]conflict[/yellow]" if problem.conflict else "[red]✗[/red]"
        err.print(f"  {mark} {escape(problem.where)}: {escape(problem.reason)}")
    shown = len(run.problems[:_SHOWN_PROBLEMS])
    if run.counts.failed + run.counts.conflicts > shown:
        more = run.counts.failed + run.counts.conflicts - shown
        err.print(f"  … {more} more (lakecat rucio runs --json)")
    out.print(f"run {run.id} ({run.mode.value}) of {run.url}: {run.status.value}; {run.counts}")
    if run.status is SyncStatus.FAILED:
        err.print(f"[red]error:[/red] {escape(run.error or '')}")
        err.print("what was committed stays; run the same command again to resume")
        sys.exit(1)


@rucio.command(name="listen")
@_url
@_account
@_token_file
@_scope
@_mapping_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8089, show_default=True, type=int)
@pass_settings
def listen_command(
    settings: Settings,
    url: str | None,
    account: str | None,
    token_file: Path | None,
    scopes: tuple[str, ...],
    mapping: Path | None,
    host: str,
    port: int,
) -> None:
    """Receive Rucio's hermes messages (its Elasticsearch output) and apply them."""
    import uvicorn  # noqa: PLC0415 - only this command serves

    from bridges.rucio.listen import create_listener  # noqa: PLC0415

    app = create_listener(
        settings,
        url=rucio_url(settings, url),
        auth=rucio_auth(settings, account, token_file),
        scopes=scopes,
        mapping=_mapping(settings, mapping),
    )
    err.print(f"listening for hermes on http://{host}:{port}/ (elastic_endpoint)")
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())


def _run_json(run: SyncRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "url": run.url,
        "account": run.account,
        "scopes": list(run.scopes),
        "mode": run.mode.value,
        "caller": run.caller,
        "status": run.status.value,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "since": run.since.isoformat() if run.since else None,
        **{name: getattr(run.counts, name) for name in run.counts.__dataclass_fields__},
        "problems": [[p.where, p.reason, p.conflict] for p in run.problems],
        "error": run.error,
        "checkpoint": dict(run.checkpoint),
    }


@rucio.command(name="runs")
@_url
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON lines.")
@pass_settings
def runs_command(settings: Settings, url: str | None, limit: int, as_json: bool) -> None:
    """Recorded Rucio sync runs, newest first."""

    async def work(catalogue: Catalogue) -> list[SyncRun]:
        return await catalogue.rucio_sync_runs(url, limit)

    for run in run_work(settings, work):
        if as_json:
            out.print(json.dumps(_run_json(run)))
            continue
        ended = run.ended_at.isoformat(timespec="seconds") if run.ended_at else "-"
        scopes = ",".join(run.scopes) or "*"
        line = (
            f"{run.id:>5} {run.url} {scopes} {run.mode.value} {run.status.value} "
            f"{run.started_at.isoformat(timespec='seconds')} .. {ended}  {run.counts}"
        )
        out.print(line + (f"  error: {run.error}" if run.error else ""))
