"""TAP service latency and VOTable throughput over region.py's catalogue of many files.

    python bench/tap.py [--files 1000000] [--datasets 10000] [--repeat 30] [--warmup 3]
                        [--big-repeat 5] [--engines postgresql[,sqlite]] [--budget 120]
                        [--seed 7] [--rebuild] [--pg-set NAME=VALUE] [--sqlite-analyze]
                        [--store-only] [--profile KIND] [--auth {off,on,both}]

The catalogue is bench/region.py's own (PostgreSQL database ``lakecat_bench_region`` on
$LAKECAT_BENCH_DATABASE_URL or in the cluster kept in /tmp/lakecat-bench-pg; SQLite
/tmp/lakecat-bench-region.sqlite), prepared by region.py's ``prepare_engine`` in a child
process (so this process's peak RSS is the queries' own): reused when its ``bench_marker``
matches --files/--datasets/--seed, else built. When region.py's database holds a catalogue of
another size, this benchmark keeps its own, /tmp/lakecat-bench-tap-FILES-DATASETS.sqlite or
``lakecat_bench_tap_FILES_DATASETS`` (region.py's is never rebuilt from here unless
--rebuild). A catalogue built before a migration is migrated first (0002 backfills
``characterisation.s_hpx`` on every row; the child says how long that took) and, on
PostgreSQL, the tables the migration rewrote are VACUUM ANALYZEd. The code runs from a copy
of catalogue/, schema/, bridges/ and bench/'s helpers taken at the start, so edits made to
the tree during the run don't mix in.

Then the app runs in-process (``schema.app.create_app`` over httpx.ASGITransport inside
asgi_lifespan's LifespanManager, migrations off) and each query kind is run on four sides,
taking turns (the order rotates), each side at its own random positions of the same
distribution (a query repeated at once is cheaper on PostgreSQL, which would flatter the side
that went second):

  http    POST /tap/sync (LANG=ADQL, QUERY, RESPONSEFORMAT, MAXREC), the response read whole
  runner  bridges.tap.execute.QueryRunner.run (translate, execute, fetch, convert) and then,
          timed apart, formats.write_result on the ResultTable it returned (the writer)
  sql     the translator's own SQL (``translate(...).sql(region_ids, MAXREC + 1)``, translated
          beforehand) with exec_driver_sql + fetchall on a connection of the pool: the floor
  hand    a hand-written equivalent over the store tables (characterisation JOIN did; a cone
          is an ``s_dec BETWEEN`` band and a haversine test), the same way

  a   SELECT * ... WHERE 1=CONTAINS(POINT(s_ra, s_dec), CIRCLE(ra, dec, 0.5))
  b   SELECT TOP 10000 obs_id, s_ra, s_dec, t_min, t_max, em_min, em_max within a 10-degree
      cone AND t_min BETWEEN region.TIME_WINDOW (the survey's first six nights)
  c   SELECT obs_collection, COUNT(*) ... GROUP BY obs_collection
  d   SELECT TOP 10000 * as BINARY2
  e   SELECT TOP 100000 * with MAXREC=100000 as BINARY2 and as TABLEDATA (--big-repeat times)

Prints, per engine, p50/p95 of each side, the overhead ratio http/sql (the issue's goal is
<= 1.5x for a, b and c) and http/hand, rows/s for the 100,000-row VOTables (end to end, the
writer alone, the SQL alone), the time translate() and Plan.sql() take, and the peak RSS
(the benchmark holds the runner side's ResultTable and bytes and the sql side's rows too). A
kind stops repeating after --budget seconds (at least 3 runs). At 3 of the http side's
positions (1 for e) the rows of the VOTable are counted (astropy) and compared with the sql
and hand sides'. Asserts nothing. --store-only times only the hand side (no TAP code needed);
--profile KIND prints a cProfile of the http side of that kind (which slows that side).

--auth says whether POST /tap/sync carries a bearer token: the service then trusts the local
issuer (its key in a temporary data directory), and the token, minted once, is subject
"bench-reader" with scope lake.read:/ctao, a reader of ctao's embargoed records, so the
embargo rule's scoped branch is in every translated query (an administrator's token would skip
the rule). ``off``: anonymous, as before. ``on``: the http side carries the token (and the
runner and sql sides translate for the same viewer). ``both`` (the default): a fifth side,
token, is the http side with the token at the http side's position, just after it or (every
other round) just before it; a table gives the difference of the http and token p50s and the
median of the paired differences: what validation (keys cached) and the embargo rule cost per
request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import region  # bench/ (of the copy, once re-executed) is sys.path[0]
import synthetic
from reader import (
    AUTH_MODES,
    READER_SUBJECT,
    TOKEN_SCOPES,
    reader_settings,
    reader_viewer,
    report_pairs,
)

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_ENV, OWNER_ENV, TREE_ENV = synthetic.snapshot_vars("tap")

SMALL_RADIUS = 0.5
WIDE_RADIUS = 10.0
TOP_ROWS = 10_000
BIG_ROWS = 100_000
OVERHEAD_GOAL = 1.5
MIN_TIMED = 3
CHECKED = 3  # http positions whose VOTable rows are counted and compared
SIDES = ("http", "runner", "sql", "hand")
PAIRED_SIDE = "token"  # the http side with a token, at the http side's positions (--auth both)
BINARY2, TABLEDATA = "votable/b2", "votable/td"  # RESPONSEFORMAT aliases of formats.FORMATS

# -- running on a copy of the code ---------------------------------------------------------


# -- the catalogue -------------------------------------------------------------------------


async def _revision(url: str) -> str | None:
    from sqlalchemy import text  # noqa: PLC0415

    from catalogue.store.engine import create_engine  # noqa: PLC0415

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return str(
                (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            )
    except Exception:  # noqa: BLE001 - no database or no schema yet
        return None
    finally:
        await engine.dispose()


async def prepare_only(
    place: region.Place, admin_url: str | None, args: argparse.Namespace
) -> None:
    """The catalogue at ``place``, reused (and migrated) or built by region.py: the child's
    work."""
    if place.engine == "sqlite":
        region.SQLITE_PATH = Path(place.database)
    else:
        region.PG_DATABASE = place.database
    before = (
        await _revision(place.url(admin_url))
        if await region.place_exists(place, admin_url)
        else None
    )
    manifest = region.Manifest(args)
    start = time.perf_counter()
    try:
        engine, _ = await region.prepare_engine(place.engine, admin_url, manifest, args)
        await engine.dispose()
    finally:
        manifest.close()
    seconds = time.perf_counter() - start
    after = await _revision(place.url(admin_url))
    if before not in (None, after):
        print(
            f"{place.engine}: migrated the existing catalogue from revision {before} to {after} "
            f"in {seconds:.0f} s (0002 backfills s_hpx on every characterisation row)",
            flush=True,
        )
    if place.engine == "postgresql":
        await _settle(place.url(admin_url))
    # (no peak RSS here: a forked child starts with its parent's high-water mark)
    print(
        f"{place.engine}: catalogue in {place.database} ready at revision {after} "
        f"({seconds:.0f} s)",
        flush=True,
    )


async def _settle(url: str) -> None:
    """VACUUM ANALYZE the tables a migration rewrote (0002 updates every characterisation
    row: as many dead rows as live, and no statistics on s_hpx), which is what autovacuum
    would do a minute later; without it the first queries meet an unsettled table."""
    from sqlalchemy import text  # noqa: PLC0415
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT relname FROM pg_stat_user_tables WHERE n_dead_tup > "
                        "0.1 * n_live_tup + 1000 OR (n_live_tup > 1000 AND last_analyze IS NULL "
                        "AND last_autoanalyze IS NULL)"
                    )
                )
            ).all()
            for (table,) in rows:
                start = time.perf_counter()
                await connection.execute(text(f'VACUUM ANALYZE "{table}"'))
                print(f"VACUUM ANALYZE {table}: {time.perf_counter() - start:.0f} s", flush=True)
    finally:
        await engine.dispose()


def prepare_in_child(place: region.Place, admin_url: str | None, args: argparse.Namespace) -> None:
    """Prepare one engine's catalogue in a child process (the server stays this process's)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        f"--prepare-only={place.database}",
        f"--engines={place.engine}",
        f"--files={args.files}",
        f"--datasets={args.datasets}",
        f"--seed={args.seed}",
        *(f"--pg-set={s}" for s in args.pg_set),
        *(["--rebuild"] if args.rebuild else []),
        *(["--sqlite-analyze"] if args.sqlite_analyze else []),
    ]
    env = dict(os.environ)
    env.pop(OWNER_ENV, None)  # the child must not remove our copy of the code
    if admin_url:
        env[synthetic.ENV_URL] = admin_url
    start = time.perf_counter()
    if subprocess.run(command, env=env, check=False).returncode != 0:
        raise SystemExit(f"{place.engine}: preparing the catalogue failed")
    print(f"{place.engine}: prepared ({time.perf_counter() - start:.0f} s wall)", flush=True)


# -- the queries ---------------------------------------------------------------------------

_CONE = "1=CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {ra:.6f}, {dec:.6f}, {r}))"
_FEW = "obs_id, s_ra, s_dec, t_min, t_max, em_min, em_max"
# The hand-written side: ivoa.obscore's relation written out (characterisation JOIN did,
# the replica count as a correlated subquery), without its coalesce defaults and URLs.
_STORE = "FROM characterisation c JOIN did d ON d.id = c.did_id WHERE d.deleted_at IS NULL"
_ALL = (
    "c.*, d.scope, d.name, d.bytes, d.adler32, d.md5, "
    "(SELECT count(*) FROM replica r WHERE r.did_id = d.id) AS lake_replicas"
)


def _hand_cone(ra: float, dec: float, radius: float) -> str:
    """A cone as a DBA writes it: an index-friendly declination band and the exact haversine."""
    return (
        f"c.s_dec BETWEEN {dec - radius:.6f} AND {dec + radius:.6f} AND degrees(2 * asin(sqrt("
        f"power(sin(radians(c.s_dec - {dec:.6f}) / 2), 2) + cos(radians(c.s_dec)) * "
        f"cos(radians({dec:.6f})) * power(sin(radians(c.s_ra - {ra:.6f}) / 2), 2)))) <= {radius}"
    )


@dataclass(frozen=True)
class Kind:
    """One query kind: its ADQL and hand-written SQL at a position, format and MAXREC."""

    key: str
    label: str
    adql: Callable[[float, float], str]
    hand: Callable[[float, float], str]
    fmt: str
    maxrec: int
    small: bool = False  # the overhead goal applies
    big: bool = False  # --big-repeat times instead of --repeat


def _fixed(sql: str) -> Callable[[float, float], str]:
    """A query that does not depend on the position."""
    return lambda _ra, _dec: sql


def make_kinds() -> list[Kind]:
    t0, t1 = region.TIME_WINDOW
    star_top = f"SELECT TOP {TOP_ROWS} * FROM ivoa.obscore"
    star_big = f"SELECT TOP {BIG_ROWS} * FROM ivoa.obscore"
    return [
        Kind(
            "a",
            "a  cone 0.5 deg, SELECT *",
            lambda ra, dec: (
                f"SELECT * FROM ivoa.obscore WHERE {_CONE.format(ra=ra, dec=dec, r=SMALL_RADIUS)}"
            ),
            lambda ra, dec: f"SELECT {_ALL} {_STORE} AND {_hand_cone(ra, dec, SMALL_RADIUS)}",
            BINARY2,
            TOP_ROWS,
            small=True,
        ),
        Kind(
            "b",
            "b  cone 10 deg + t_min, 7 cols",
            lambda ra, dec: (
                f"SELECT TOP {TOP_ROWS} {_FEW} FROM ivoa.obscore WHERE "
                f"{_CONE.format(ra=ra, dec=dec, r=WIDE_RADIUS)} AND t_min BETWEEN {t0} AND {t1}"
            ),
            lambda ra, dec: (
                f"SELECT coalesce(c.obs_id, d.name), c.s_ra, c.s_dec, c.t_min, c.t_max, "
                f"c.em_min, c.em_max {_STORE} AND {_hand_cone(ra, dec, WIDE_RADIUS)} "
                f"AND c.t_min BETWEEN {t0} AND {t1} LIMIT {TOP_ROWS}"
            ),
            BINARY2,
            TOP_ROWS,
            small=True,
        ),
        Kind(
            "c",
            "c  COUNT(*) GROUP BY obs_collection",
            _fixed(
                "SELECT obs_collection, COUNT(*) AS n FROM ivoa.obscore GROUP BY obs_collection"
            ),
            _fixed(
                f"SELECT coalesce(c.obs_collection, d.scope) AS obs_collection, count(*) "
                f"{_STORE} GROUP BY coalesce(c.obs_collection, d.scope)"
            ),
            BINARY2,
            TOP_ROWS,
            small=True,
        ),
        Kind(
            "d",
            "d  TOP 10000 *, BINARY2",
            _fixed(star_top),
            _fixed(f"SELECT {_ALL} {_STORE} LIMIT {TOP_ROWS}"),
            BINARY2,
            TOP_ROWS,
        ),
        Kind(
            "e",
            "e  TOP 100000 *, BINARY2",
            _fixed(star_big),
            _fixed(f"SELECT {_ALL} {_STORE} LIMIT {BIG_ROWS}"),
            BINARY2,
            BIG_ROWS,
            big=True,
        ),
        Kind(
            "e'",
            "e' TOP 100000 *, TABLEDATA",
            _fixed(star_big),
            _fixed(f"SELECT {_ALL} {_STORE} LIMIT {BIG_ROWS}"),
            TABLEDATA,
            BIG_ROWS,
            big=True,
        ),
    ]


# -- timing --------------------------------------------------------------------------------


class QueryError(Exception):
    pass


@dataclass
class Sample:
    """One run of one side: its time, rows (-1: not counted), bytes, the writer's time."""

    ms: float
    rows: int = -1
    nbytes: int = 0
    write_ms: float = 0.0
    body: bytes | None = None


@dataclass
class Timing:
    samples: list[Sample] = field(default_factory=list)

    @property
    def ms(self) -> list[float]:
        return [s.ms for s in self.samples]


@dataclass
class Result:
    kind: Kind
    sides: dict[str, Timing]
    translate_ms: list[float] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


Side = Callable[[int], Awaitable[Sample]]


async def _fetch(engine: Any, sql: str) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.exec_driver_sql(sql)).fetchall())


class Sides:
    """The four ways of running a kind at position i (each side gets its own positions)."""

    def __init__(
        self,
        engine: Any,
        positions: list[tuple[float, float]],
        http: Any = None,
        runner: Any = None,
        catalogue: Any = None,
        context: Any = None,
        timeout: float = 600.0,
        headers: dict[str, str] | None = None,
        token: dict[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.positions = positions
        self.http = http
        self.runner = runner
        self.catalogue = catalogue
        self.context = context
        self.timeout = timeout
        self.headers = headers or {}  # of the http side
        self.token = token  # the token side's headers (--auth both), else no token side

    def for_kind(self, kind: Kind, result: Result) -> dict[str, Side]:
        sides: dict[str, Side] = {"hand": lambda i: self.hand(kind, i)}
        if self.http is None:
            return sides
        from bridges.tap.adql import translate  # noqa: PLC0415
        from bridges.tap.tables import TableSet  # noqa: PLC0415

        tables = TableSet()
        plans: dict[int, tuple[Any, str | None]] = {}

        def plan(i: int) -> tuple[Any, str | None]:
            """The plan at position i and, when it needs no region ids, its SQL text; the
            time of translate() and Plan.sql() goes to the adql column."""
            if i not in plans:
                start = time.perf_counter()
                found = translate(
                    kind.adql(*self.positions[i]), tables, self.engine.dialect, self.context
                )
                sql = None if found.regions else found.sql([], kind.maxrec + 1)
                result.translate_ms.append((time.perf_counter() - start) * 1000)
                plans[i] = (found, sql)
            return plans[i]

        async def sql(i: int) -> Sample:
            found, text = plan(i)  # before the clock starts
            start = time.perf_counter()
            if text is None:
                ids = [await self.catalogue.region_ids(n.region) for n in found.regions]
                text = found.sql(ids, kind.maxrec + 1)
            rows = await _fetch(self.engine, text)
            return Sample((time.perf_counter() - start) * 1000, min(len(rows), kind.maxrec))

        sides.update(
            http=lambda i: self.via_http(kind, i, self.headers),
            runner=lambda i: self.via_runner(kind, i),
            sql=sql,
        )
        if self.token is not None:
            token = self.token
            sides[PAIRED_SIDE] = lambda i: self.via_http(kind, i, token)
        return sides

    async def hand(self, kind: Kind, i: int) -> Sample:
        sql = kind.hand(*self.positions[i])
        start = time.perf_counter()
        rows = await _fetch(self.engine, sql)
        return Sample((time.perf_counter() - start) * 1000, len(rows))

    async def via_http(self, kind: Kind, i: int, headers: dict[str, str]) -> Sample:
        data = {
            "LANG": "ADQL",
            "QUERY": kind.adql(*self.positions[i]),
            "RESPONSEFORMAT": kind.fmt,
            "MAXREC": str(kind.maxrec),
        }
        start = time.perf_counter()
        reply = await self.http.post("/tap/sync", data=data, headers=headers)
        body = reply.content
        ms = (time.perf_counter() - start) * 1000
        if reply.status_code != 200 or b'name="QUERY_STATUS" value="ERROR"' in body:
            raise QueryError(f"HTTP {reply.status_code}: {body[:2000].decode(errors='replace')}")
        return Sample(ms, nbytes=len(body), body=body)

    async def via_runner(self, kind: Kind, i: int) -> Sample:
        from bridges.tap import formats  # noqa: PLC0415
        from bridges.tap.execute import QueryRequest  # noqa: PLC0415

        request = QueryRequest(
            kind.adql(*self.positions[i]), "ADQL", kind.maxrec, self.context, timeout=self.timeout
        )
        start = time.perf_counter()
        table = await self.runner.run(request)
        middle = time.perf_counter()
        content, _ = formats.write_result(table, kind.fmt)
        end = time.perf_counter()
        return Sample((middle - start) * 1000, len(table.rows), len(content), (end - middle) * 1000)


def _votable_rows(body: bytes) -> int:
    import warnings  # noqa: PLC0415

    from astropy.io.votable import parse_single_table  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return len(parse_single_table(io.BytesIO(body)).array)


async def time_kind(kind: Kind, sides: Sides, args: argparse.Namespace) -> Result:
    """Warm-up, then the sides in turn (the order rotates) until the repeat count or the
    budget; then the rows of a few of the http side's answers are compared with the others'.
    The token side (--auth both) runs at the http side's position, just after it or (every
    other round) just before it."""
    result = Result(kind, {})
    calls = sides.for_kind(kind, result)
    names = [s for s in SIDES if s in calls]
    paired = PAIRED_SIDE in calls
    result.sides = {name: Timing() for name in names}
    if paired:
        result.sides[PAIRED_SIDE] = Timing()
    width = len(names)
    checked = 1 if kind.big else CHECKED  # astropy takes seconds to read 100,000 rows
    warmup = 1 if kind.big else args.warmup
    repeat = args.big_repeat if kind.big else args.repeat
    for n in range(warmup):
        for s, name in enumerate(names):
            await calls[name](width * n + s)
            if paired and name == "http":
                await calls[PAIRED_SIDE](width * n + s)
    profiler = cProfile.Profile() if kind.key in args.profile else None
    began = time.perf_counter()
    for n in range(repeat):
        order = names[n % width :] + names[: n % width]
        if paired:  # beside http, after it or before it in turn
            at = order.index("http") + (0 if n % 2 else 1)
            order.insert(at, PAIRED_SIDE)
        for name in order:
            i = width * (warmup + n) + names.index("http" if name == PAIRED_SIDE else name)
            if profiler and name == "http":
                profiler.enable()
            sample = await calls[name](i)
            if profiler and name == "http":
                profiler.disable()
            if name == PAIRED_SIDE or (name == "http" and n >= checked):
                sample.body = None  # keep only the bodies to check
            result.sides[name].samples.append(sample)
        if time.perf_counter() - began > args.budget and n + 1 >= MIN_TIMED:
            break
    if "http" in result.sides:
        for n, sample in enumerate(result.sides["http"].samples[:checked]):
            i = width * (warmup + n) + names.index("http")
            assert sample.body is not None
            try:
                got = {"http": _votable_rows(sample.body)}
            except Exception as exc:  # noqa: BLE001 - a writer bug is a finding, not a crash
                result.checks.append(f"position {n}: astropy cannot read the VOTable: {exc}")
                sample.body = None
                continue
            got["sql"] = (await calls["sql"](i)).rows
            got["hand"] = min((await sides.hand(kind, i)).rows, kind.maxrec)
            sample.rows = got["http"]
            sample.body = None
            if len(set(got.values())) > 1:
                result.checks.append(f"position {n}: rows {got}")
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        print(f"\n-- cProfile of the http side of '{kind.label}'")
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
        print(out.getvalue())
    return result


async def time_engine(
    name: str, url: str, args: argparse.Namespace, positions: list[tuple[float, float]]
) -> list[Result]:
    from catalogue.store.engine import create_engine  # noqa: PLC0415

    engine = create_engine(url)
    kinds = [k for k in make_kinds() if not args.kinds or k.key in args.kinds]
    results: list[Result] = []
    keys: tempfile.TemporaryDirectory[str] | None = None
    try:
        if args.store_only:
            return [await _timed(name, k, Sides(engine, positions), args) for k in kinds]
        import httpx  # noqa: PLC0415
        from asgi_lifespan import LifespanManager  # noqa: PLC0415

        from bridges.tap.execute import QueryRunner  # noqa: PLC0415
        from bridges.tap.tables import RelationContext, TableSet  # noqa: PLC0415
        from catalogue.service import Catalogue  # noqa: PLC0415
        from catalogue.store.engine import create_sessions  # noqa: PLC0415
        from schema.app import create_app  # noqa: PLC0415

        keys = (
            None
            if args.auth == "off"
            else tempfile.TemporaryDirectory(prefix="lakecat-bench-tap-keys-")
        )
        settings, header = reader_settings(url, Path(keys.name) if keys else None)
        app = create_app(settings, run_migrations=False)
        catalogue = Catalogue(
            create_sessions(engine), moc_order=settings.moc_order, index_cells=settings.index_cells
        )
        runner = QueryRunner(engine, catalogue, TableSet())
        base = "http://bench"
        # With --auth on, the runner and sql sides translate for the token's viewer.
        viewer = reader_viewer(args.auth == "on")
        context = RelationContext(base, settings.ivoa_authority, viewer)
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url=base, timeout=600
            ) as http,
        ):
            sides = Sides(
                engine,
                positions,
                http,
                runner,
                catalogue,
                context,
                float(settings.tap_sync_timeout),
                headers=header if args.auth == "on" else None,
                token=header if args.auth == "both" else None,
            )
            results = [await _timed(name, k, sides, args) for k in kinds]
    finally:
        await engine.dispose()
        if keys is not None:
            keys.cleanup()
    return results


async def _timed(name: str, kind: Kind, sides: Sides, args: argparse.Namespace) -> Result:
    start = time.perf_counter()
    result = await time_kind(kind, sides, args)
    parts = ", ".join(f"{side} p50 {_p(t.ms, 0.5):.1f} ms" for side, t in result.sides.items())
    print(
        f"{name}: {kind.label}: {len(next(iter(result.sides.values())).ms)} x {parts} "
        f"({time.perf_counter() - start:.0f} s)",
        flush=True,
    )
    return result


# -- report --------------------------------------------------------------------------------


def _p(values: list[float], fraction: float) -> float:
    return synthetic.percentile(values, fraction) if values else float("nan")


def _rows(result: Result) -> float:
    for side in ("sql", "runner", "hand"):
        counted = [s.rows for s in result.sides.get(side, Timing()).samples if s.rows >= 0]
        if counted:
            return statistics.fmean(counted)
    return float("nan")


def report(
    name: str,
    place: region.Place,
    sizes: dict[str, Any],
    results: list[Result],
    rss: float,
    auth: str = "off",
) -> None:
    marker = sizes["marker"]
    print()
    print(
        f"== {name}: {marker.get('files')} files in {marker.get('datasets')} datasets "
        f"({sizes['obscore']} characterisation rows, revision {sizes['revision']}) in "
        f"{place.database}"
        + (" (region.py's)" if place.shared else "")
        + f", built by code {marker.get('code')}"
    )
    if auth == "on":
        print(
            f"--auth on: the http side carries a bearer token ({READER_SUBJECT}, "
            f"{' '.join(TOKEN_SCOPES)}); runner and sql translate for the same viewer"
        )
    print(
        f"{'query':<36} {'rows':>8} {'p50 ms':>9} {'p95 ms':>9} {'sql p50':>9} {'ratio':>7} "
        f"{'hand p50':>9} {'ratio':>7} {'runner':>8} {'writer':>8} {'adql':>6} {'n':>3}"
    )
    for r in results:
        s = r.sides
        http = s.get("http", Timing()).ms
        sql = s.get("sql", Timing()).ms
        hand = s["hand"].ms
        p50 = _p(http, 0.5)
        ratio = p50 / _p(sql, 0.5) if sql else float("nan")
        goal = ""
        if r.kind.small and sql:
            goal = " ok" if ratio <= OVERHEAD_GOAL else " !"
        runner = s.get("runner", Timing())
        print(
            f"{r.kind.label:<36} {_rows(r):>8.0f} {p50:>9.1f} {_p(http, 0.95):>9.1f} "
            f"{_p(sql, 0.5):>9.1f} {ratio:>6.2f}x{goal:<2} {_p(hand, 0.5):>9.1f} "
            f"{p50 / _p(hand, 0.5):>6.2f}x {_p(runner.ms, 0.5):>8.1f} "
            f"{_p([x.write_ms for x in runner.samples], 0.5):>8.1f} "
            f"{_p(r.translate_ms, 0.5):>6.1f} "
            f"{len(hand):>3}"
        )
    print(
        "  ms; ratio = http p50 / sql p50 (goal <= "
        f"{OVERHEAD_GOAL}x for a, b, c: ok/!) and http p50 / hand p50; runner = "
        "QueryRunner.run, writer = formats.write_result on its table (p50); adql = translate() + "
        "Plan.sql() p50 (not in sql); sql/hand p95 below"
    )
    print(
        "  p95 ms: "
        + "; ".join(
            f"{r.kind.key} sql {_p(r.sides.get('sql', Timing()).ms, 0.95):.1f} "
            f"hand {_p(r.sides['hand'].ms, 0.95):.1f}"
            for r in results
        )
    )
    big = [r for r in results if r.kind.big and "http" in r.sides]
    if big:
        print(
            f"\n{'100,000-row VOTable':<28} {'MB':>6} {'http s':>7} {'rows/s':>9} "
            f"{'runner s':>8} {'writer s':>8} {'writer rows/s':>13} {'sql s':>6} {'sql rows/s':>10}"
        )
        for r in big:
            rows = _rows(r)
            http_s = _p(r.sides["http"].ms, 0.5) / 1000
            runner = r.sides["runner"]
            run_s = _p(runner.ms, 0.5) / 1000
            write_s = _p([x.write_ms for x in runner.samples], 0.5) / 1000
            sql_s = _p(r.sides["sql"].ms, 0.5) / 1000
            mb = statistics.fmean(x.nbytes for x in r.sides["http"].samples) / 1e6
            print(
                f"{r.kind.label:<28} {mb:>6.1f} {http_s:>7.2f} {rows / http_s:>9.0f} {run_s:>8.2f} "
                f"{write_s:>8.2f} {rows / write_s:>13.0f} {sql_s:>6.2f} {rows / sql_s:>10.0f}"
            )
    report_auth(results)
    for r in results:
        checked = min(1 if r.kind.big else CHECKED, len(r.sides.get("http", Timing()).samples))
        if r.checks:
            print(f"ROWS DIFFER, {r.kind.key}: " + "; ".join(r.checks))
        elif checked:
            print(f"{r.kind.key}: http, sql and hand rows agree at {checked} positions", end="; ")
    print()
    print(f"peak RSS of this process so far (all engines run until now): {rss:.0f} MiB")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} CPUs")


def report_auth(results: list[Result]) -> None:
    """--auth both: the http side anonymous and with the token (bench/reader.py)."""
    rows = [
        (r.kind.label, r.sides["http"].ms, r.sides[PAIRED_SIDE].ms)
        for r in results
        if r.sides.get(PAIRED_SIDE, Timing()).ms
    ]
    report_pairs(rows, _p, "http (anonymous)")


async def sizes_of(url: str) -> dict[str, Any]:
    from sqlalchemy import text  # noqa: PLC0415

    from catalogue.store.engine import create_engine  # noqa: PLC0415

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            count = (
                await connection.execute(text("SELECT count(*) FROM characterisation"))
            ).scalar_one()
            revision = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
            marker = await region._marker(engine)
        return {"obscore": int(count), "revision": revision, "marker": marker or {}}
    finally:
        await engine.dispose()


# -- main ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, admin_url: str | None) -> None:
    rng = random.Random(args.seed + 3000)
    count = len(SIDES) * (max(args.warmup, 1) + max(args.repeat, args.big_repeat))
    positions = [synthetic.random_position(rng) for _ in range(count)]
    for name in args.engines:
        place = await region.choose_place(name, admin_url, args, own="tap")
        where = "region.py's" if place.shared else "this benchmark's own"
        print(f"{name}: {where} catalogue in {place.database}", flush=True)
        await asyncio.to_thread(prepare_in_child, place, admin_url, args)
        url = place.url(admin_url)
        sizes = await sizes_of(url)
        results = await time_engine(name, url, args, positions)
        report(name, place, sizes, results, synthetic.maxrss_mib(), args.auth)


def main() -> None:
    synthetic.reexec_on_snapshot(
        "tap", ("catalogue", "schema", "bridges"), ("synthetic.py", "region.py", "reader.py")
    )
    tree = Path(os.environ.get(TREE_ENV, str(ROOT)))
    synthetic.PG_CLUSTER = tree / "scripts" / "pg-cluster"  # not in the copy of the code
    snapshot = os.environ[SNAPSHOT_ENV]
    import bridges  # noqa: PLC0415
    import catalogue  # noqa: PLC0415

    for package in (catalogue, bridges):
        if not package.__file__ or not package.__file__.startswith(snapshot):
            raise SystemExit(
                f"not running on the snapshot: {package.__name__} is {package.__file__}"
            )

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--big-repeat", type=int, default=5, help="repeats of the e kinds")
    parser.add_argument("--engines", default="postgresql")
    parser.add_argument("--kinds", default="", help="only these kinds, e.g. a,b,e'")
    parser.add_argument("--seed", type=int, default=7, help="region.py's default")
    parser.add_argument(
        "--budget", type=float, default=120.0, help="seconds of timed queries per kind at most"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild region.py's catalogue")
    parser.add_argument("--sqlite-analyze", action="store_true")
    parser.add_argument(
        "--pg-set",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="a PostgreSQL setting during a build only (default "
        "plan_cache_mode=force_custom_plan, which avoids the quadratic ingest)",
    )
    parser.add_argument("--store-only", action="store_true", help="time the hand side only")
    parser.add_argument("--prepare-only", metavar="DATABASE", help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile", action="append", default=[], metavar="KIND", help="cProfile the http side"
    )
    parser.add_argument(
        "--auth",
        choices=AUTH_MODES,
        default="both",
        help="call /tap/sync anonymously (off), with a bearer token of a reader of ctao's "
        "embargoed records (on), or both in turns, printing the difference (default both)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.pg_set is None:
        args.pg_set = ["plan_cache_mode=force_custom_plan"]
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if set(args.engines) - {"postgresql", "sqlite"}:
        parser.error("engines are postgresql and sqlite")
    if args.datasets <= 0 or args.files < args.datasets:
        parser.error("need at least one file per dataset")
    if not args.prepare_only:
        shown = " ".join(a for a in sys.argv[1:])
        print(f"command: python bench/tap.py {shown}".rstrip(), flush=True)
        if os.environ.get(synthetic.ENV_URL) and "postgresql" in args.engines:
            print(f"PostgreSQL: the server of ${synthetic.ENV_URL}", flush=True)
    if args.prepare_only:
        name = args.engines[0]
        admin_url = os.environ.get(synthetic.ENV_URL) if name == "postgresql" else None
        asyncio.run(prepare_only(region.Place(name, args.prepare_only, False), admin_url, args))
        return
    if "postgresql" in args.engines:
        with synthetic.pg_server(region.PG_DIR) as admin_url:
            asyncio.run(run(args, admin_url))
    else:
        asyncio.run(run(args, None))


if __name__ == "__main__":
    sys.exit(main())
