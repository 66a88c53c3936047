"""The ``lakecat`` command: serve, demo, migrate, RSEs, ingest, and a quick look at DIDs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from catalogue.authorization import EVERYTHING
from catalogue.config import Settings
from catalogue.coverage import Coverage, MocFormat
from catalogue.errors import InvalidInputError
from catalogue.filters import parse_rucio_filter
from catalogue.harvest import HarvestInfo
from catalogue.ingest import manifest_format, read_fits, read_manifest
from catalogue.models import LOCAL_OPERATOR, RSE, DIDDetail, DIDKey, DIDType, RunSummary
from catalogue.query import DIDQuery, RegionFilter
from catalogue.region import Circle
from catalogue.service import Catalogue
from catalogue.store.engine import create_engine, migrate
from indexer.cli import index
from schema.cli_support import err, out, progress_bar, run_work
from schema.harvest_cli import harvest
from schema.local_issuer import mint
from schema.rucio_cli import rucio


def _report(summary: RunSummary, *, all_or_nothing: bool) -> None:
    for where, reason in summary.problems[:200]:
        err.print(f"  [red]✗[/red] {escape(where)}: {escape(reason)}")
    if len(summary.problems) > 200:  # noqa: PLR2004
        err.print(f"  … and {len(summary.problems) - 200} more problems")
    if summary.without_coverage:
        shown = ", ".join(summary.without_coverage[:20])
        more = len(summary.without_coverage) - 20
        err.print(
            f"  registered without sky coverage (no celestial WCS or s_region): {shown}"
            + (f" … and {more} more" if more > 0 else "")
        )
    if all_or_nothing and summary.failed:
        err.print("[red]nothing was written[/red]: the manifest applies whole or not at all")
    out.print(f"summary: {summary}")


@click.group()
@click.version_option("0.1.0", prog_name="lakecat")
@click.pass_context
def main(ctx: click.Context) -> None:
    """lakecat: the metadata catalogue of the data lake."""
    ctx.obj = Settings()


pass_settings = click.make_pass_decorator(Settings)
main.add_command(index)
main.add_command(harvest)
main.add_command(rucio)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
@pass_settings
def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve the catalogue over HTTP."""
    _serve(settings, host, port, workers)


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn  # noqa: PLC0415 - only serving needs it

    asyncio.run(_migrate_only(settings))  # once, before workers start
    if workers > 1:
        import os  # noqa: PLC0415

        os.environ["LAKECAT_DATABASE_URL"] = settings.resolved_database_url
        os.environ["LAKECAT_TAP_SOLE_RUNNER"] = "false"  # the workers share the job table
        uvicorn.run("schema.asgi:app", host=host, port=port, workers=workers)
    else:
        from schema.app import create_app  # noqa: PLC0415

        uvicorn.run(create_app(settings, run_migrations=False), host=host, port=port)


async def _migrate_only(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


@main.command(name="migrate")
@pass_settings
def migrate_command(settings: Settings) -> None:
    """Create or upgrade the database schema."""
    asyncio.run(_migrate_only(settings))
    out.print(f"database at head: {settings.resolved_database_url}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Build the demo lake and exit.")
@pass_settings
def demo(settings: Settings, host: str, port: int, no_serve: bool) -> None:
    """Build a demo lake on the embedded SQLite store (once) and serve it."""
    from catalogue.demo import build_demo_lake, demo_lake_exists  # noqa: PLC0415

    if not settings.database_url:
        settings = settings.model_copy(
            update={"database_url": f"sqlite+aiosqlite:///{settings.data_dir / 'demo.sqlite'}"}
        )

    async def build(catalogue: Catalogue) -> None:
        if await demo_lake_exists(catalogue):
            out.print(f"reusing the demo lake in {settings.resolved_database_url}")
            return
        out.print("building the demo lake (first run only)…")
        with progress_bar("demo records", None) as advance:
            summary = await build_demo_lake(catalogue, progress=advance)
        out.print(f"demo lake: {summary}")

    run_work(settings, build)
    if no_serve:
        return
    # The demo is the development entry point: it trusts the local issuer (docs/security.md)
    # and hands the newcomer a token, so that the pipeline examples' writes can be tried.
    settings = settings.model_copy(update={"auth_local_issuer": True})
    token = mint(settings, "demo-user", scopes=["lake.admin"], lifetime=12 * 3600)
    base = f"http://{host}:{port}"
    out.print(f"lakecat is serving the demo lake at {base}/")
    out.print(f"  GraphQL (GraphiQL in a browser): {base}/graphql")
    out.print(f"  TAP for TOPCAT and pyvo: {base}/tap")
    out.print("  reads need nothing; for writes, give GraphiQL this header (valid 12 hours):")
    out.print(f'    {{"Authorization": "Bearer {token}"}}')
    _serve(settings, host, port)


@main.group()
def rse() -> None:
    """Storage elements."""


@rse.command(name="add")
@click.argument("name")
@click.argument("base_url")
@click.option("--qos", default=None, help="QoS class, e.g. SAFE or CHEAP-ANALYSIS.")
@click.option("--non-deterministic", is_flag=True, help="Paths are not derived from names.")
@click.option("--read-only", is_flag=True)
@pass_settings
def rse_add(
    settings: Settings,
    name: str,
    base_url: str,
    qos: str | None,
    non_deterministic: bool,
    read_only: bool,
) -> None:
    """Register an RSE: NAME and BASE_URL (scheme://host:port/prefix)."""
    value = RSE(name, base_url, qos, not non_deterministic, read_only)
    run_work(settings, lambda c: c.add_rse(value))
    out.print(f"RSE {name} added: {base_url}")


@rse.command(name="list")
@pass_settings
def rse_list(settings: Settings) -> None:
    """List RSEs."""
    for item in run_work(settings, lambda c: c.list_rses()):
        flags = ("" if item.deterministic else " non-deterministic") + (
            " read-only" if item.read_only else ""
        )
        out.print(f"{item.name:20} {item.qos_class or '-':16} {item.base_url}{flags}")


@main.group()
def ingest() -> None:
    """Register files that already sit on an RSE."""


@ingest.command(name="fits")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--scope", required=True)
@click.option("--rse", "rse_name", required=True, help="The RSE the files are on.")
@click.option("--dataset", default=None, help="Attach every file to this dataset.")
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory matching the RSE's base URL (default: each PATH).",
)
@pass_settings
def ingest_fits(
    settings: Settings,
    paths: tuple[Path, ...],
    scope: str,
    rse_name: str,
    dataset: str | None,
    root: Path | None,
) -> None:
    """Walk FITS files, read their headers, and register them with checksums and coverage."""
    from catalogue.fits import find_fits  # noqa: PLC0415

    total = sum(1 for _ in find_fits([p for p in paths if p.exists()]))

    async def work(catalogue: Catalogue) -> RunSummary:
        await catalogue.require_rse(rse_name)
        with progress_bar("FITS files", total) as advance:
            return await catalogue.register_files(
                read_fits(list(paths), scope, rse_name, dataset, root),
                all_or_nothing=False,
                progress=advance,
            )

    summary = run_work(settings, work)
    _report(summary, all_or_nothing=False)
    sys.exit(1 if summary.failed else 0)


@ingest.command(name="manifest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="Default: from the file name (.csv, else JSON Lines).",
)
@click.option("--scope", default=None, help="Scope of records that name none.")
@click.option("--dataset", default=None, help="Dataset for records that name none.")
@pass_settings
def ingest_manifest(
    settings: Settings, file: Path, fmt: str | None, scope: str | None, dataset: str | None
) -> None:
    """Register the files of a JSON Lines or CSV manifest, all or nothing."""
    with file.open("rb") as counting:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: counting.read(1 << 20), b""))

    async def work(catalogue: Catalogue) -> RunSummary:
        with (
            file.open(encoding="utf-8", newline="") as stream,
            progress_bar("manifest records", lines) as advance,
        ):
            return await catalogue.register_files(
                read_manifest(stream, manifest_format(file, fmt), scope, dataset),
                all_or_nothing=True,
                progress=advance,
            )

    summary = run_work(settings, work)
    _report(summary, all_or_nothing=True)
    sys.exit(2 if summary.failed else 0)


def _key(text: str) -> DIDKey:
    try:
        return DIDKey.parse(text)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc)) from exc


@main.command()
@click.argument("pattern", required=False)
@click.option(
    "--type", "did_type", type=click.Choice(["FILE", "DATASET", "CONTAINER"]), multiple=True
)
@click.option("--filter", "filter_text", default=None, help="Rucio-style filter, e.g. 'run>5'.")
@click.option("--cone", default=None, help="RA,DEC,RADIUS in degrees.")
@click.option("--limit", default=50, show_default=True)
@pass_settings
def ls(
    settings: Settings,
    pattern: str | None,
    did_type: tuple[str, ...],
    filter_text: str | None,
    cone: str | None,
    limit: int,
) -> None:
    """List DIDs: [SCOPE:NAME-PATTERN], with filters."""
    scope, _, name = (
        (pattern or "").partition(":") if pattern and ":" in pattern else ("", "", pattern)
    )

    def build(catalogue: Catalogue) -> Awaitable[Any]:
        region = None
        if cone:
            ra, dec, radius = (float(v) for v in cone.split(","))
            region = RegionFilter(
                Coverage.from_region(Circle(ra, dec, radius), catalogue.moc_order)
            )
        query = DIDQuery(
            scopes=(scope,) if scope else (),
            types=tuple(DIDType(t) for t in did_type),
            name=name or None,
            filter=parse_rucio_filter(filter_text) if filter_text else None,
            region=region,
            limit=limit,
            viewer=EVERYTHING,  # the command line is the operator's
        )
        return catalogue.search(query)

    page = run_work(settings, build)
    for did in page.items:
        size = f"{did.bytes:>14,}" if did.bytes is not None else " " * 14
        out.print(f"{did.type.value:9} {size}  {did.key}")
    more = f" (showing {len(page.items)})" if page.total > len(page.items) else ""
    out.print(f"{page.total} DIDs{more}")


def _print_detail(detail: DIDDetail) -> None:
    d = detail.did
    out.print(f"{d.key}  {d.type.value}")
    attributes = {
        "bytes": d.bytes,
        "adler32": d.adler32,
        "md5": d.md5,
        "guid": d.guid,
        "open": d.is_open,
        "length": d.length,
        "created": d.created_at,
        "updated": d.updated_at,
    }
    sections: dict[str, Mapping[str, Any]] = {
        "attributes": {k: v for k, v in attributes.items() if v is not None},
        "characterisation": detail.characterisation,
        "metadata": detail.metadata,
    }
    if detail.extent:
        e = detail.extent
        sections["extent"] = {
            "sky fraction": f"{e.sky_fraction} (MOC order {e.moc_order})",
            "time (MJD)": f"{e.t_min} .. {e.t_max}",
            "wavelength (m)": f"{e.em_min} .. {e.em_max}",
        }
    for title, mapping in sections.items():
        if mapping:
            out.print(title)
            for k, v in mapping.items():
                out.print(f"  {k:20} {v}")
    if detail.replicas:
        out.print("replicas")
        for r in detail.replicas:
            out.print(f"  {r.rse:16} {r.state.value:11} {r.url}")


@main.command()
@click.argument("did")
@click.option(
    "--moc",
    "moc_format",
    type=click.Choice(["ascii", "json"]),
    default=None,
    help="Also print the coverage MOC.",
)
@pass_settings
def show(settings: Settings, did: str, moc_format: str | None) -> None:
    """Show a DID: attributes, characterisation, metadata, replicas, extent."""
    key = _key(did)

    async def read(catalogue: Catalogue) -> tuple[DIDDetail | None, HarvestInfo | None]:
        detail = await catalogue.get_did(key, viewer=EVERYTHING)
        if detail is None:
            return None, None
        return detail, (await catalogue.harvest_info([detail.did.id])).get(detail.did.id)

    detail, origin = run_work(settings, read)
    if detail is None:
        err.print(f"[red]error:[/red] DID {key} does not exist")
        sys.exit(1)
    _print_detail(detail)
    if origin is not None:
        out.print("harvested")
        for label, value in (
            ("source", f"{origin.source} ({origin.kind.value} {origin.url})"),
            ("remote id", origin.remote_id),
            ("first", origin.first_harvested),
            ("last seen", origin.last_harvested),
            ("withdrawn", origin.withdrawn_at or "no"),
        ):
            out.print(f"  {label:<20} {value}")
    if moc_format:
        moc = run_work(settings, lambda c: c.get_coverage(key, viewer=EVERYTHING))
        out.print(moc.to_string(MocFormat(moc_format)) if moc else "(no coverage)")


@main.group()
def did() -> None:
    """Collections and their content."""


@did.command(name="add")
@click.argument("did_text", metavar="SCOPE:NAME")
@click.option("--type", "did_type", type=click.Choice(["DATASET", "CONTAINER"]), required=True)
@pass_settings
def did_add(settings: Settings, did_text: str, did_type: str) -> None:
    """Create an open dataset or container."""
    key = _key(did_text)
    run_work(settings, lambda c: c.add_collection(key, DIDType(did_type)))
    out.print(f"{did_type} {key} ready")


@did.command(name="attach")
@click.argument("parent")
@click.argument("children", nargs=-1, required=True)
@pass_settings
def did_attach(settings: Settings, parent: str, children: tuple[str, ...]) -> None:
    """Attach CHILDREN to the collection PARENT."""
    added = run_work(settings, lambda c: c.attach(_key(parent), [_key(x) for x in children]))
    out.print(f"attached {added} to {parent}")


@did.command(name="detach")
@click.argument("parent")
@click.argument("children", nargs=-1, required=True)
@pass_settings
def did_detach(settings: Settings, parent: str, children: tuple[str, ...]) -> None:
    """Detach CHILDREN from the collection PARENT."""
    removed = run_work(settings, lambda c: c.detach(_key(parent), [_key(x) for x in children]))
    out.print(f"detached {removed} from {parent}")


@did.command(name="close")
@click.argument("did_text", metavar="SCOPE:NAME")
@pass_settings
def did_close(settings: Settings, did_text: str) -> None:
    """Close a collection: it takes no new content."""
    key = _key(did_text)
    run_work(settings, lambda c: c.close(key))
    out.print(f"{key} closed")


@main.command(name="audit")
@click.option("--subject", help="Only this caller's writes.")
@click.option("--since", type=click.DateTime(), help="Only writes at or after this (UTC).")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@pass_settings
def audit_command(
    settings: Settings, subject: str | None, since: datetime | None, limit: int
) -> None:
    """The audit log: who changed what and when, newest first."""
    when = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since

    async def work(catalogue: Catalogue) -> list[Any]:
        return await catalogue.audit_log(
            caller=LOCAL_OPERATOR, subject=subject, since=when, limit=limit
        )

    for event in run_work(settings, work):
        stamp = event.at.isoformat(timespec="seconds")
        out.print(f"{stamp}  {event.subject}  {event.action}  {event.target}")


@main.command(name="token")
@click.argument("subject")
@click.option("--group", "groups", multiple=True, help="A wlcg.groups entry, e.g. /ctao.")
@click.option("--scope", "scopes", multiple=True, help="e.g. lake.write:/ctao, lake.admin.")
@click.option("--lifetime", type=int, default=3600, show_default=True, help="Seconds.")
@pass_settings
def token_command(
    settings: Settings,
    subject: str,
    groups: tuple[str, ...],
    scopes: tuple[str, ...],
    lifetime: int,
) -> None:
    """Mint a token of the local development issuer (needs LAKECAT_AUTH_LOCAL_ISSUER=true)."""
    try:
        minted = mint(settings, subject, groups=groups, scopes=scopes, lifetime=lifetime)
    except InvalidInputError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(2)
    out.print(minted)


@main.command(name="graphql-schema")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def graphql_schema(output: Path | None) -> None:
    """Print (or write) the GraphQL SDL; schema/schema.graphql is this output, committed."""
    from schema.graphql import schema  # noqa: PLC0415

    text = schema.as_str() + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@did.command(name="delete")
@click.argument("did_text", metavar="SCOPE:NAME")
@pass_settings
def did_delete(settings: Settings, did_text: str) -> None:
    """Delete a file or an empty collection (its name is never reused)."""
    key = _key(did_text)
    run_work(settings, lambda c: c.delete(key))
    out.print(f"{key} deleted")
