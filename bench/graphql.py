"""GraphQL API latency over a catalogue of many files in spatially coherent datasets.

    python bench/graphql.py [--files 1000000] [--datasets 10000] [--repeat 50] [--warmup 5]
                            [--engines postgresql,sqlite] [--budget 120] [--seed 7]
                            [--build-only] [--rebuild] [--pg-set NAME=VALUE] [--sqlite-analyze]
                            [--profile KIND] [--auth {off,on,both}]

The catalogue is bench/region.py's (the same synthetic grid layout and seed: each dataset a
square grid of files/datasets adjacent 0.2-degree tiles at a random place on the sky). When
region.py's own database (/tmp/lakecat-bench-region.sqlite, PostgreSQL
``lakecat_bench_region``) holds a catalogue of the asked size, it is reused as it is; otherwise
this benchmark keeps its own, built the same way (region.py's build function) in a child
process: /tmp/lakecat-bench-graphql-FILES-DATASETS.sqlite and the PostgreSQL database
``lakecat_bench_graphql_FILES_DATASETS``, reused on later runs (a ``bench_marker`` table says
what was built). region.py's databases are never rebuilt or removed from here, since a
region.py run may be using them. PostgreSQL comes from $LAKECAT_BENCH_DATABASE_URL, else a
cluster in /tmp/lakecat-bench-pg started for the run and stopped at the end.

Then the app runs in-process (create_app over httpx.ASGITransport and asgi_lifespan's
LifespanManager, migrations off) and each query kind is timed at --repeat random positions
(the same ones on every engine, after --warmup untimed ones), taking turns with the same
search made directly on the store (Catalogue.search / union_coverage with the same
criteria, no HTTP or GraphQL) at as many other random positions, so (API p50) / (direct
p50) is the API's overhead. The two sides don't share positions: a query repeated at once
is cheaper (on PostgreSQL, ~3 ms of statement preparation and planning for the new SQL
text), which would flatter the side that went second. Afterwards the store is asked again,
untimed, at 3 of the API's positions, to check that both give the same totals.

  a  datasets: cone 1 deg + time range + obscore facility, first 50, totalCount
  a' files: cone 1 deg + time range + rucioFilter band=r, first 50 (free metadata is on files)
  a" datasets: as a, cone 10 deg (enough matches to fill the page of 50)
  b  did(scope, name) of a random dataset -> files(first: 100) -> bytes, adler32, replicas
  c  coverage(types: DATASET, maxOrder: 8) { skyFraction moc }: the union of every dataset
  c' the same within a 10-degree cone

Prints a table per engine (p50, p95, mean totalCount, the issue's goal beside each) and the
peak RSS of this process (builds run in a child, so it is the queries' own). Asserts nothing.
A query kind stops repeating after --budget seconds (but runs at least 3 times; the table
says how many ran), and its warm-up after a quarter of that.

--auth says whether the API is called with a bearer token: the service then trusts the local
issuer (its key in a temporary data directory), and the token, minted once, is subject
"bench-reader" with scope lake.read:/ctao, a reader of ctao's embargoed records, so the
embargo rule's scoped branch is in every query's SQL (an administrator's token would skip the
rule). ``off``: anonymous, as before. ``on``: every API request carries the token (and the
direct side reads as the same viewer). ``both`` (the default): each kind is timed anonymously
and with the token in turns, at the same positions (which of the two goes first alternates),
and a table gives the difference of the p50s and the median of the paired differences: what
validation (keys cached) and the embargo rule cost per request.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# This file is called graphql.py: with bench/ on the import path, strawberry's `import graphql`
# (graphql-core) would import this file instead. Keep bench/ off it, and load the helpers of
# bench/ by their paths.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import atexit  # noqa: E402
import cProfile  # noqa: E402
import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

ROOT = BENCH.parent
SNAPSHOT_ENV = "LAKECAT_BENCH_GRAPHQL_CODE"
OWNER_ENV = "LAKECAT_BENCH_GRAPHQL_CODE_OWNER"

# The synthetic survey starts on 2026-11-21 (MJD 61365), 800 datasets a night: region.py's
# TIME_WINDOW (61365, 61371), written as ISO 8601 for the API.
TIME_START, TIME_END = "2026-11-21T00:00:00Z", "2026-11-27T00:00:00Z"
FACILITY = "Rubin:Simonyi"
BAND_FILTER = "band=r"
MAX_ORDER = 8
GOALS = {"a": ("p50 < 30 ms", 30.0), "b": ("p50 < 30 ms", 30.0), "c": ("p50 < 200 ms", 200.0)}
OVERHEAD_GOAL = 1.5
MIN_TIMED = 3  # queries of a kind timed even past --budget
CHECKED = 3  # positions of each kind whose API total is checked against the store's


# -- running on a copy of the code ---------------------------------------------------------


def _fingerprint(package: Path) -> str:
    """synthetic.code_fingerprint's digest (copied: synthetic imports catalogue)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _reexec_on_snapshot() -> None:
    """Run on copies of catalogue/, schema/ and bench/'s helpers, so that edits made to the
    tree during a long run don't mix in (region.py does the same for catalogue/)."""
    if os.environ.get(SNAPSHOT_ENV):
        if os.environ.get(OWNER_ENV) == str(os.getpid()):  # execve kept our pid
            atexit.register(shutil.rmtree, os.environ[SNAPSHOT_ENV], True)
        return
    where = Path(tempfile.mkdtemp(prefix="lakecat-bench-graphql-code-", dir="/tmp"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("catalogue", "schema"):
        shutil.copytree(ROOT / package, where / package, ignore=ignore)
    (where / "bench").mkdir()
    for helper in ("synthetic.py", "region.py", "reader.py"):
        shutil.copy2(BENCH / helper, where / "bench" / helper)
    fingerprint = _fingerprint(where / "catalogue")
    print(
        f"code: catalogue/ and schema/ copied at {time.strftime('%H:%M:%S')}, "
        f"catalogue fingerprint {fingerprint}, schema {_fingerprint(where / 'schema')}",
        flush=True,
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(where),
        SNAPSHOT_ENV: str(where),
        OWNER_ENV: str(os.getpid()),
        "LAKECAT_BENCH_SNAPSHOT": fingerprint,  # what region.py's build records as its code
    }
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]], env)


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# -- where the catalogue is ----------------------------------------------------------------


@dataclass
class Place:
    """A database holding (or to hold) the catalogue of one engine."""

    engine: str
    url: str
    label: str
    marker: dict[str, Any] | None = None
    shared: bool = False  # region.py's own


def _own_names(args: argparse.Namespace) -> tuple[Path, str]:
    return (
        Path(f"/tmp/lakecat-bench-graphql-{args.files}-{args.datasets}.sqlite"),
        f"lakecat_bench_graphql_{args.files}_{args.datasets}",
    )


async def _marker_at(url: str) -> dict[str, Any] | None:
    from catalogue.store.engine import create_engine  # noqa: PLC0415

    engine = create_engine(url)
    try:
        return await region._marker(engine)
    finally:
        await engine.dispose()


async def find_place(name: str, admin_url: str | None, args: argparse.Namespace) -> Place:
    """region.py's database when it holds the asked catalogue, else our own (maybe unbuilt)."""
    own_sqlite, own_pg = _own_names(args)
    if name == "sqlite":
        candidates = [(region.SQLITE_PATH, True), (own_sqlite, False)]
        for path, shared in candidates:
            if shared and args.rebuild:
                continue
            if path.exists():
                url = f"sqlite+aiosqlite:///{path}"
                marker = await _marker_at(url)
                if region._wanted(marker, args):
                    return Place(name, url, str(path), marker, shared)
        return Place(name, f"sqlite+aiosqlite:///{own_sqlite}", str(own_sqlite))
    assert admin_url is not None
    for database, shared in ((region.PG_DATABASE, True), (own_pg, False)):
        if shared and args.rebuild:
            continue
        if await asyncio.to_thread(synthetic.pg_database_exists, admin_url, database):
            url = synthetic.database_url(admin_url, database)
            marker = await _marker_at(url)
            if region._wanted(marker, args):
                return Place(name, url, f"database {database}", marker, shared)
    return Place(name, synthetic.database_url(admin_url, own_pg), f"database {own_pg}")


def build_in_children(names: list[str], admin_url: str | None, args: argparse.Namespace) -> None:
    """Build our own catalogues in child processes (side by side), so that this process's
    peak RSS stays the queries' own."""
    children = []
    for name in names:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--build-only",
            f"--engines={name}",
            f"--files={args.files}",
            f"--datasets={args.datasets}",
            f"--seed={args.seed}",
            *(f"--pg-set={s}" for s in args.pg_set),
            *(["--sqlite-analyze"] if args.sqlite_analyze else []),
        ]
        print(
            f"{name}: building {args.files} files in {args.datasets} datasets (child process) ...",
            flush=True,
        )
        env = dict(os.environ)
        if admin_url:  # the server this process has (a child must not start or stop one)
            env[synthetic.ENV_URL] = admin_url
        children.append((name, time.perf_counter(), subprocess.Popen(command, env=env)))
    for name, start, child in children:
        if child.wait() != 0:
            raise SystemExit(f"{name}: the build failed (exit {child.returncode})")
        print(f"{name}: built ({time.perf_counter() - start:.0f} s wall)", flush=True)


async def build_only(name: str, admin_url: str | None, args: argparse.Namespace) -> None:
    """Our own catalogue of one engine, built with region.py's build function."""
    own_sqlite, own_pg = _own_names(args)
    region.SQLITE_PATH = own_sqlite  # region.py's builder, pointed at our database
    region.PG_DATABASE = own_pg
    args.rebuild = True
    manifest = region.Manifest(args)
    try:
        engine, marker = await region.prepare_engine(name, admin_url, manifest, args)
        await engine.dispose()
    finally:
        manifest.close()
    print(
        f"{name}: built {marker['files']} files / {marker['datasets']} datasets in "
        f"{marker['build_seconds']:.0f} s ({marker['files'] / marker['build_seconds']:.0f} "
        f"files/s), ANALYZE {marker['analyse_seconds']:.1f} s; peak RSS of the build "
        f"{synthetic.maxrss_mib():.0f} MiB",
        flush=True,
    )


# -- the queries ---------------------------------------------------------------------------

Q_DIDS = """
query Search($filter: DIDFilterInput!, $first: Int!) {
  dids(filter: $filter, first: $first) {
    totalCount
    edges { node { id } }
  }
}
"""

Q_NESTED = """
query DatasetFiles($scope: String!, $name: String!) {
  did(scope: $scope, name: $name) {
    id
    ... on Dataset {
      files(first: 100) {
        totalCount
        edges {
          node {
            ... on File {
              bytes
              adler32
              replicas { rse url state }
            }
          }
        }
      }
    }
  }
}
"""

Q_COVERAGE = """
query Footprint($filter: DIDFilterInput!, $maxOrder: Int!) {
  coverage(filter: $filter, maxOrder: $maxOrder) { skyFraction moc }
}
"""


class QueryError(Exception):
    pass


@dataclass
class Kind:
    """One query kind: how to ask the API and the store for position i."""

    key: str
    label: str
    goal: str  # "a", "b" or "c"
    api: Callable[[int], Awaitable[float]]  # returns the total (or sky fraction)
    direct: Callable[[int], Awaitable[float]] | None
    total_label: str = "totalCount"
    token: Callable[[int], Awaitable[float]] | None = None  # the API with the token (--auth both)


@dataclass
class Auth:
    """How the API is called (--auth), and the bearer header."""

    mode: str = "off"
    header: dict[str, str] = field(default_factory=dict)


@dataclass
class Timing:
    ms: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)


@dataclass
class Result:
    kind: Kind
    api: Timing
    direct: Timing
    mismatches: int = 0
    checked: int = 0
    token: Timing = field(default_factory=Timing)


Ask = Callable[[int, dict[str, str]], Awaitable[float]]


def make_kinds(
    http: Any,
    catalogue: Any,
    positions: list[tuple[float, float]],
    datasets: list[str],
    auth: Auth,
) -> list[Kind]:
    from catalogue.filters import Condition, Op, parse_rucio_filter  # noqa: PLC0415
    from catalogue.models import DIDKey, DIDType, Intersect  # noqa: PLC0415
    from catalogue.obscore import parse_timestamp  # noqa: PLC0415
    from catalogue.query import DIDQuery, RegionFilter, mjd  # noqa: PLC0415
    from catalogue.region import Circle  # noqa: PLC0415

    window = (mjd(parse_timestamp("start", TIME_START)), mjd(parse_timestamp("end", TIME_END)))
    order = catalogue.moc_order
    # With --auth on, the direct side reads as the token's viewer, so both sides apply the
    # same embargo rule.
    on = auth.mode == "on"
    viewer = reader.reader_viewer(on)
    api_header = auth.header if on else {}

    def sides(ask: Ask) -> dict[str, Any]:
        """The API side of a kind (with the token under --auth on) and, under --auth both,
        the token side."""

        async def api(i: int) -> float:
            return await ask(i, api_header)

        async def token(i: int) -> float:
            return await ask(i, auth.header)

        return {"api": api, "token": token if auth.mode == "both" else None}

    async def gql(query: str, variables: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        reply = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body = reply.json()
        if reply.status_code != 200 or body.get("errors"):
            raise QueryError(f"HTTP {reply.status_code}: {body.get('errors') or body}")
        return body["data"]  # type: ignore[no-any-return]

    def search_kind(key: str, label: str, radius: float, files: bool) -> Kind:
        async def api(i: int, headers: dict[str, str]) -> float:
            ra, dec = positions[i]
            f: dict[str, Any] = {
                "types": ["FILE" if files else "DATASET"],
                "region": {"cone": {"ra": ra, "dec": dec, "radius": radius}},
                "time": {"start": TIME_START, "end": TIME_END},
            }
            if files:
                f["rucioFilter"] = BAND_FILTER
            else:
                f["obscore"] = {"facility": [FACILITY]}
            data = await gql(Q_DIDS, {"filter": f, "first": 50}, headers)
            return float(data["dids"]["totalCount"])

        async def direct(i: int) -> float:
            ra, dec = positions[i]
            region_filter = RegionFilter.from_shape(
                Circle(ra, dec, radius), order, Intersect.OVERLAPS
            )
            query = DIDQuery(
                types=(DIDType.FILE if files else DIDType.DATASET,),
                region=region_filter,
                time=window,
                filter=parse_rucio_filter(BAND_FILTER)
                if files
                else Condition("facility_name", Op.IN, (FACILITY,)),
                limit=50,
                viewer=viewer,
            )
            return float((await catalogue.search(query)).total)

        return Kind(key, label, "a", direct=direct, **sides(api))

    async def nested_api(i: int, headers: dict[str, str]) -> float:
        data = await gql(Q_NESTED, {"scope": synthetic.SCOPE, "name": datasets[i]}, headers)
        did = data["did"]
        if did is None:
            raise QueryError(f"no dataset {synthetic.SCOPE}:{datasets[i]}")
        return float(did["files"]["totalCount"])

    async def nested_direct(i: int) -> float:
        key = DIDKey(synthetic.SCOPE, datasets[i])
        found = await catalogue.reads.dids_by_key([key], viewer)
        if key not in found:
            raise QueryError(f"no dataset {key}")
        page = await catalogue.search(DIDQuery(parent=key, limit=100, viewer=viewer))
        await catalogue.reads.replicas([d.id for d in page.items])
        return float(page.total)

    def coverage_kind(key: str, label: str, radius: float | None) -> Kind:
        async def api(i: int, headers: dict[str, str]) -> float:
            f: dict[str, Any] = {"types": ["DATASET"]}
            if radius is not None:
                ra, dec = positions[i]
                f["region"] = {"cone": {"ra": ra, "dec": dec, "radius": radius}}
            data = await gql(Q_COVERAGE, {"filter": f, "maxOrder": MAX_ORDER}, headers)
            return float(data["coverage"]["skyFraction"])

        async def direct(i: int) -> float:
            region_filter = None
            if radius is not None:
                ra, dec = positions[i]
                region_filter = RegionFilter.from_shape(Circle(ra, dec, radius), order)
            query = DIDQuery(types=(DIDType.DATASET,), region=region_filter, limit=0, viewer=viewer)
            coverage = await catalogue.union_coverage(query, MAX_ORDER)
            return float(coverage.sky_fraction)

        return Kind(key, label, "c", direct=direct, total_label="skyFraction", **sides(api))

    return [
        search_kind("a", "a  datasets cone1+time+facility", 1.0, files=False),
        search_kind("a'", "a' files cone1+time+band=r", 1.0, files=True),
        search_kind('a"', 'a" datasets cone10+time+facility', 10.0, files=False),
        Kind("b", "b  dataset>100 files>replicas", "b", direct=nested_direct, **sides(nested_api)),
        coverage_kind("c", "c  coverage all datasets o8", None),
        coverage_kind("c'", "c' coverage datasets cone10 o8", 10.0),
    ]


async def time_kind(kind: Kind, args: argparse.Namespace, profile: bool) -> Result:
    """Warm-up, then API and direct alternately (which goes first alternates too) until
    --repeat of each or --budget seconds; then a few of the API's positions again directly,
    untimed, to check that both sides agree. With --auth both the API with the token takes
    its turn between them, at the anonymous API's position, before it or after it in turn
    (so neither gains from the other's warming on average, and the pair's difference is
    not the positions').

    The two sides take different positions (and datasets) of the same distribution: the
    same query twice in a row is cheaper the second time (PostgreSQL's prepared statement and
    plan for that SQL text, pages just read), which would flatter whichever side went second.
    """
    result = Result(kind, Timing(), Timing())
    began = time.perf_counter()
    for i in range(args.warmup):  # at least one, at most a quarter of the budget
        await kind.api(i)
        if kind.token:
            await kind.token(i)
        if kind.direct:
            await kind.direct(i)
        if time.perf_counter() - began > args.budget / 4:
            break
    profiler = cProfile.Profile() if profile else None
    began = time.perf_counter()
    for n in range(args.repeat):
        sides: list[tuple[Timing, Callable[[int], Awaitable[float]], int]] = [
            (result.api, kind.api, args.warmup + 2 * n)
        ]
        if kind.token:
            sides.append((result.token, kind.token, args.warmup + 2 * n))
        if kind.direct:
            sides.append((result.direct, kind.direct, args.warmup + 2 * n + 1))
            if n % 2:
                sides.reverse()
        for timing, call, i in sides:
            if profiler and timing is result.api:
                profiler.enable()
            start = time.perf_counter()
            total = await call(i)
            timing.ms.append((time.perf_counter() - start) * 1000)
            if profiler and timing is result.api:
                profiler.disable()
            timing.totals.append(total)
        if time.perf_counter() - began > args.budget and n + 1 >= MIN_TIMED:
            break
    if kind.direct:
        for n in range(min(CHECKED, len(result.api.totals))):
            if abs(await kind.direct(args.warmup + 2 * n) - result.api.totals[n]) > 1e-9:
                result.mismatches += 1
        result.checked = min(CHECKED, len(result.api.totals))
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        print(f"\n-- cProfile of the API side of '{kind.label}' ({len(result.api.ms)} queries)")
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        print(out.getvalue())
    return result


def service_settings(url: str, args: argparse.Namespace, keys: Path) -> tuple[Any, Auth]:
    """The service's settings and how the API is called (--auth; bench/reader.py)."""
    settings, header = reader.reader_settings(url, None if args.auth == "off" else keys)
    return settings, Auth(args.auth, header)


async def time_engine(
    place: Place,
    args: argparse.Namespace,
    positions: list[tuple[float, float]],
    datasets: list[str],
) -> list[Result]:
    import httpx  # noqa: PLC0415
    from asgi_lifespan import LifespanManager  # noqa: PLC0415

    from catalogue.service import Catalogue  # noqa: PLC0415
    from catalogue.store.engine import create_engine, create_sessions  # noqa: PLC0415
    from schema.app import create_app  # noqa: PLC0415

    keys = tempfile.TemporaryDirectory(prefix="lakecat-bench-graphql-keys-")
    settings, auth = service_settings(place.url, args, Path(keys.name))
    app = create_app(settings, run_migrations=False)
    own_engine = None
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        # The app's own catalogue (lifespan state), so both sides share one connection pool.
        catalogue = getattr(manager, "_state", {}).get("catalogue")
        if catalogue is None:
            own_engine = create_engine(place.url)
            catalogue = Catalogue(
                create_sessions(own_engine),
                moc_order=settings.moc_order,
                index_cells=settings.index_cells,
            )
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as http:
            results = []
            for kind in make_kinds(http, catalogue, positions, datasets, auth):
                start = time.perf_counter()
                result = await time_kind(kind, args, profile=kind.key in args.profile)
                print(
                    f"{place.engine}: {kind.label}: {len(result.api.ms)} x API p50 "
                    f"{synthetic.percentile(result.api.ms, 0.5):.1f} ms"
                    + (
                        f", with token p50 {synthetic.percentile(result.token.ms, 0.5):.1f} ms"
                        if result.token.ms
                        else ""
                    )
                    + (
                        f", direct p50 {synthetic.percentile(result.direct.ms, 0.5):.1f} ms"
                        if result.direct.ms
                        else ""
                    )
                    + f" ({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
                results.append(result)
    if own_engine is not None:
        await own_engine.dispose()
    keys.cleanup()
    return results


# -- report --------------------------------------------------------------------------------


def _p(values: list[float], fraction: float) -> float:
    return synthetic.percentile(values, fraction) if values else float("nan")


def report(
    place: Place, results: list[Result], sizes: dict[str, int], rss: float, auth: str = "off"
) -> None:
    marker = place.marker or {}
    print()
    print(
        f"== {place.engine}: {marker.get('files')} files in {marker.get('datasets')} datasets "
        f"({sizes['dids']} DIDs, {sizes['replicas']} replicas, {sizes['cells']} index cells), "
        f"{place.label}"
        + (" (region.py's)" if place.shared else "")
        + f"; built by code {marker.get('code')}, "
        f"queried with {os.environ.get('LAKECAT_BENCH_SNAPSHOT')}"
    )
    if auth == "on":
        print(
            f"--auth on: every API request carries a bearer token ({reader.READER_SUBJECT}, "
            f"{' '.join(reader.TOKEN_SCOPES)}); the direct side reads as the same viewer"
        )
    elif auth == "both":
        print(
            f"--auth both: API is anonymous, token the same API with a bearer token "
            f"({reader.READER_SUBJECT}, {' '.join(reader.TOKEN_SCOPES)}) at the same positions"
        )
    print(
        f"{'query':<34} {'side':<6} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'mean':>9} "
        f"{'':<11} {'goal':<13} {'p50 ratio':>9}"
    )
    for r in results:
        goal_text, goal_ms = GOALS[r.kind.goal]
        p50 = _p(r.api.ms, 0.5)
        verdict = "meets" if p50 < goal_ms else "MISSES"
        ratio = ""
        if r.direct.ms:
            value = p50 / _p(r.direct.ms, 0.5)
            flag = "" if value <= OVERHEAD_GOAL else " !"
            ratio = f"{value:.2f}x{flag}"
        print(
            f"{r.kind.label:<34} {'API':<6} {len(r.api.ms):>3} {p50:>8.1f} "
            f"{_p(r.api.ms, 0.95):>8.1f} {statistics.fmean(r.api.totals):>9.4g} "
            f"{r.kind.total_label:<11} {goal_text + ' ' + verdict:<13} {ratio:>9}"
        )
        if r.token.ms:
            print(
                f"{'':<34} {'token':<6} {len(r.token.ms):>3} {_p(r.token.ms, 0.5):>8.1f} "
                f"{_p(r.token.ms, 0.95):>8.1f} {statistics.fmean(r.token.totals):>9.4g} "
                f"{r.kind.total_label:<11}"
            )
        if r.direct.ms:
            print(
                f"{'':<34} {'direct':<6} {len(r.direct.ms):>3} {_p(r.direct.ms, 0.5):>8.1f} "
                f"{_p(r.direct.ms, 0.95):>8.1f} {statistics.fmean(r.direct.totals):>9.4g} "
                f"{r.kind.total_label:<11}"
                + (
                    f" {r.mismatches}/{r.checked} totals differ from the API's!"
                    if r.mismatches
                    else f" (same totals as the API at {r.checked} of its positions)"
                )
            )
    for r in results:
        if r.kind.key == "a" and r.direct.ms:
            p50 = _p(r.api.ms, 0.5) / _p(r.direct.ms, 0.5)
            mean = statistics.fmean(r.api.ms) / statistics.fmean(r.direct.ms)
            print(
                f"API overhead (a)/(a-direct): {p50:.2f}x at p50, {mean:.2f}x on the mean "
                f"(goal <= {OVERHEAD_GOAL}x)"
            )
    report_auth(results)
    print(f"peak RSS of this process so far: {rss:.0f} MiB")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} CPUs")


def report_auth(results: list[Result]) -> None:
    """--auth both: anonymous and token side by side (bench/reader.py)."""
    rows = [(r.kind.label, r.api.ms, r.token.ms) for r in results if r.token.ms]
    reader.report_pairs(rows, _p)


async def table_sizes(url: str) -> dict[str, int]:
    from sqlalchemy import text  # noqa: PLC0415

    from catalogue.store.engine import create_engine  # noqa: PLC0415

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = (("dids", "did"), ("replicas", "replica"), ("cells", "coverage_cell"))
            return {
                label: int(
                    (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
                )
                for label, table in tables
            }
    finally:
        await engine.dispose()


# -- main ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, admin_url: str | None) -> None:
    places = {name: await find_place(name, admin_url, args) for name in args.engines}
    missing = [name for name, place in places.items() if place.marker is None]
    for name, place in places.items():
        if place.marker is not None:
            where = "region.py's" if place.shared else "this benchmark's"
            print(f"{name}: reusing {where} catalogue in {place.label}", flush=True)
    if missing:
        await asyncio.to_thread(build_in_children, missing, admin_url, args)
        for name in missing:
            places[name] = await find_place(name, admin_url, args)
            if places[name].marker is None:
                raise SystemExit(f"{name}: no catalogue after the build")
    if args.build_only:
        return
    rng = random.Random(args.seed + 2000)
    count = args.warmup + 2 * args.repeat  # the API and the store take turns
    positions = [synthetic.random_position(rng) for _ in range(count)]
    per = args.files // args.datasets
    n_datasets = -(-args.files // per)
    datasets = [f"calexp/patch_{rng.randrange(n_datasets):06d}" for _ in range(count)]
    for name in args.engines:
        place = places[name]
        sizes = await table_sizes(place.url)
        results = await time_engine(place, args, positions, datasets)
        report(place, results, sizes, synthetic.maxrss_mib(), args.auth)


def main() -> None:
    _reexec_on_snapshot()
    global synthetic, region, reader  # noqa: PLW0603
    helpers = Path(os.environ[SNAPSHOT_ENV]) / "bench"
    synthetic = _load("synthetic", helpers / "synthetic.py")
    synthetic.PG_CLUSTER = ROOT / "scripts" / "pg-cluster"  # not in the copy of the code
    region = _load("region", helpers / "region.py")
    reader = _load("reader", helpers / "reader.py")
    import catalogue  # noqa: PLC0415

    if not catalogue.__file__ or not catalogue.__file__.startswith(os.environ[SNAPSHOT_ENV]):
        raise SystemExit(f"not running on the snapshot: catalogue is {catalogue.__file__}")

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--seed", type=int, default=7, help="region.py's default")
    parser.add_argument(
        "--budget", type=float, default=120.0, help="seconds of timed queries per kind at most"
    )
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument(
        "--rebuild", action="store_true", help="build our own catalogue even if one exists"
    )
    parser.add_argument("--sqlite-analyze", action="store_true")
    parser.add_argument(
        "--pg-set",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="a PostgreSQL setting during our builds only (default "
        "plan_cache_mode=force_custom_plan, which avoids the quadratic ingest)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="KIND",
        help="cProfile the API side of a query kind (a, a', a\", b, c, c')",
    )
    parser.add_argument(
        "--auth",
        choices=reader.AUTH_MODES,
        default="both",
        help="call the API anonymously (off), with a bearer token of a reader of ctao's "
        "embargoed records (on), or both in turns, printing the difference (default both)",
    )
    args = parser.parse_args()
    if args.pg_set is None:
        args.pg_set = ["plan_cache_mode=force_custom_plan"]
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if set(args.engines) - {"postgresql", "sqlite"}:
        parser.error("engines are postgresql and sqlite")
    if args.datasets <= 0 or args.files < args.datasets:
        parser.error("need at least one file per dataset")
    if args.build_only and len(args.engines) == 1:
        name = args.engines[0]
        if name == "postgresql":
            with synthetic.pg_server(region.PG_DIR) as admin_url:
                asyncio.run(build_only(name, admin_url, args))
        else:
            asyncio.run(build_only(name, None, args))
        return
    if "postgresql" in args.engines:
        with synthetic.pg_server(region.PG_DIR) as admin_url:
            asyncio.run(run(args, admin_url))
    else:
        asyncio.run(run(args, None))


synthetic: ModuleType
region: ModuleType
reader: ModuleType

if __name__ == "__main__":
    sys.exit(main())
