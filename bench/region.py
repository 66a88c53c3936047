"""Region search latency over a catalogue of many files in spatially coherent datasets.

    python bench/region.py [--files 200000] [--datasets 2000] [--repeat 50] [--warmup 5]
                           [--engines postgresql,sqlite] [--rebuild] [--verify 3]
                           [--pg-set NAME=VALUE] [--sqlite-analyze]

Builds the catalogue once per engine through the manifest path (register_files on a synthetic
JSON Lines manifest; each dataset is a square grid of files/datasets adjacent 0.2-degree tiles
at a random place on the sky), and reuses it on later runs: the SQLite file is
/tmp/lakecat-bench-region.sqlite and the PostgreSQL database ``lakecat_bench_region``; a
``bench_marker`` table in each records what was built (a different --files/--datasets/--seed,
or --rebuild, builds again). PostgreSQL comes from $LAKECAT_BENCH_DATABASE_URL, else a cluster
kept in /tmp/lakecat-bench-pg (started for the run and stopped at the end, so the database
survives for the next run). After a build PostgreSQL is ANALYZEd (what autovacuum would do
soon after a load); SQLite is left as the catalogue leaves it unless --sqlite-analyze.

Then times Catalogue.search for each query kind at --repeat random positions (the same
positions on every engine, after --warmup queries), and prints p50/p95 latency and the mean
total. Totals and first pages are compared across engines, and with --verify K, K queries of
each kind are checked against a brute-force scan of every stored MOC (no index).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import synthetic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from catalogue.coverage import Coverage
from catalogue.filters import parse_rucio_filter
from catalogue.ingest import read_manifest
from catalogue.models import DIDType, Intersect
from catalogue.query import DIDQuery, RegionFilter
from catalogue.region import Circle, Polygon
from catalogue.service import Catalogue
from catalogue.store.engine import create_engine, create_sessions, migrate
from catalogue.store.queries import matches_region

SQLITE_PATH = Path("/tmp/lakecat-bench-region.sqlite")
PG_DATABASE = "lakecat_bench_region"
PG_DIR = Path("/tmp/lakecat-bench-pg")
ORDER = 10
# The synthetic survey's nights start at MJD 61365 (2026-11-21), 800 datasets a night.
TIME_WINDOW = (61365.0, 61371.0)


@dataclass
class Probe:
    """One query to time, and what bounds it on the sky (for the brute-force check)."""

    query: DIDQuery
    build_ms: float
    bounds: list[tuple[float, float, float]]  # cones (ra, dec, radius) containing the region
    band: str | None = None


def _cone(ra: float, dec: float, radius: float) -> tuple[Coverage, float]:
    start = time.perf_counter()
    coverage = Coverage.from_region(Circle(ra, dec, radius), ORDER)
    return coverage, (time.perf_counter() - start) * 1000


def _cone_probe(
    radius: float, intersect: Intersect = Intersect.OVERLAPS, *, exact: bool = False
) -> Callable[..., Probe]:
    def make(ra: float, dec: float) -> Probe:
        if exact:  # files decided by their s_region's geometry, not their MOC
            start = time.perf_counter()
            region = RegionFilter.from_shape(Circle(ra, dec, radius), ORDER, intersect)
            ms = (time.perf_counter() - start) * 1000
        else:
            coverage, ms = _cone(ra, dec, radius)
            region = RegionFilter(coverage, intersect)
        return Probe(DIDQuery(region=region, limit=100), ms, [(ra, dec, radius)])

    return make


def _polygon_probe(ra: float, dec: float) -> Probe:
    half = 1.0
    w = half / max(math.cos(math.radians(dec)), 1e-3)
    vertices = (
        (ra - w, dec - half),
        (ra + w, dec - half),
        (ra + w, dec + half),
        (ra - w, dec + half),
    )
    start = time.perf_counter()
    coverage = Coverage.from_region(Polygon(vertices), ORDER)
    ms = (time.perf_counter() - start) * 1000
    radius = max(_distance(ra, dec, v[0], v[1]) for v in vertices)
    return Probe(DIDQuery(region=RegionFilter(coverage), limit=100), ms, [(ra, dec, radius)])


def _moc_probe(ra: float, dec: float) -> Probe:
    step = 1.5 / max(math.cos(math.radians(dec)), 1e-3)
    cones = [
        (ra, dec, 1.0),
        ((ra + step) % 360, dec, 1.0),
        (ra, max(-90.0, min(90.0, dec + 1.5)), 1.0),
    ]
    moc_text = (
        Coverage.from_region(Circle(*cones[0]), 8)
        .union(*(Coverage.from_region(Circle(*c), 8) for c in cones[1:]))
        .to_string()
    )
    start = time.perf_counter()
    coverage = Coverage.from_string(moc_text)  # what an API request with a MOC string costs
    ms = (time.perf_counter() - start) * 1000
    return Probe(DIDQuery(region=RegionFilter(coverage), limit=100), ms, cones)


def _filtered_probe(ra: float, dec: float) -> Probe:
    coverage, ms = _cone(ra, dec, 1.0)
    query = DIDQuery(
        region=RegionFilter(coverage),
        filter=parse_rucio_filter("band=r"),
        time=TIME_WINDOW,
        limit=100,
    )
    return Probe(query, ms, [(ra, dec, 1.0)], band="r")


KINDS: dict[str, Callable[[float, float], Probe]] = {
    "cone 1deg": _cone_probe(1.0),
    "cone 0.2deg": _cone_probe(0.2),
    "cone 5deg": _cone_probe(5.0),
    "polygon 2deg": _polygon_probe,
    "MOC 3 cones o8": _moc_probe,
    "cone 1deg ENCLOSED": _cone_probe(1.0, Intersect.ENCLOSED),
    "cone 1deg COVERS": _cone_probe(1.0, Intersect.COVERS),
    "cone 1deg+band+time": _filtered_probe,
}
if hasattr(RegionFilter, "from_shape"):  # exact geometry for files, where the code has it
    KINDS["cone 1deg exact shape"] = _cone_probe(1.0, exact=True)


def _distance(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Angular distance in degrees."""
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    cos = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(r1 - r2)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


# -- building ------------------------------------------------------------------------------


async def _marker(engine: AsyncEngine) -> dict[str, Any] | None:
    async with engine.connect() as connection:
        try:
            row = (await connection.execute(text("SELECT * FROM bench_marker"))).mappings().first()
        except Exception:  # noqa: BLE001 - no marker table: not built
            return None
        return dict(row) if row else None


async def _build(engine: AsyncEngine, manifest: Path, args: argparse.Namespace) -> dict[str, Any]:
    await migrate(engine)
    catalogue = Catalogue(create_sessions(engine))
    for rse in synthetic.RSES:
        await catalogue.add_rse(rse)
    start = time.perf_counter()
    with manifest.open() as stream:
        summary = await catalogue.register_files(
            read_manifest(stream, "jsonl", None), all_or_nothing=True
        )
    seconds = time.perf_counter() - start
    if summary.failed or summary.registered != args.files:
        raise SystemExit(f"build failed: {summary} {summary.problems[:5]}")
    analyse = engine.dialect.name == "postgresql" or args.sqlite_analyze
    analyse_s = 0.0
    if analyse:
        start = time.perf_counter()
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
        analyse_s = time.perf_counter() - start
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE TABLE bench_marker (files INTEGER, datasets INTEGER, seed INTEGER, "
                "build_seconds FLOAT, analyse_seconds FLOAT, settings TEXT, code TEXT, rss_mib FLOAT)"
            )
        )
        await connection.execute(
            text("INSERT INTO bench_marker VALUES (:f, :d, :s, :b, :a, :t, :c, :r)"),
            {
                "f": args.files,
                "d": args.datasets,
                "s": args.seed,
                "b": seconds,
                "a": analyse_s,
                "t": " ".join(args.pg_set) if engine.dialect.name == "postgresql" else "",
                "c": os.environ.get("LAKECAT_BENCH_SNAPSHOT", "?"),
                "r": synthetic.maxrss_mib(),
            },
        )
    return {"build_seconds": seconds, "analyse_seconds": analyse_s}


def _wanted(marker: dict[str, Any] | None, args: argparse.Namespace) -> bool:
    return bool(
        marker
        and marker["files"] == args.files
        and marker["datasets"] == args.datasets
        and marker["seed"] == args.seed
    )


class Manifest:
    """The build's manifest, written on first use and removed at the end."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.path: Path | None = None

    def get(self) -> Path:
        if self.path is None:
            self._dir = tempfile.TemporaryDirectory(prefix="lakecat-bench-region-", dir="/tmp")
            self.path = Path(self._dir.name) / "manifest.jsonl"
            start = time.perf_counter()
            per = self._args.files // self._args.datasets
            synthetic.write_manifest(
                self.path,
                synthetic.records(
                    self._args.files,
                    per_dataset=per,
                    layout="grid",
                    seed=self._args.seed,
                    product="calexp",
                ),
            )
            print(f"manifest written in {time.perf_counter() - start:.1f} s", flush=True)
        return self.path

    def close(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()


async def prepare_engine(
    name: str, admin_url: str | None, manifest: Manifest, args: argparse.Namespace
) -> tuple[AsyncEngine, dict[str, Any]]:
    """An engine over a built catalogue: reused when its marker matches, else built now."""
    if name == "sqlite":
        url = f"sqlite+aiosqlite:///{SQLITE_PATH}"
        engine = create_engine(url)
        marker = None if args.rebuild else await _marker(engine)
        if not _wanted(marker, args):
            await engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
            engine = create_engine(url)
            print(f"sqlite: building {args.files} files ...", flush=True)
            await _build(engine, manifest.get(), args)
            marker = await _marker(engine)
        else:
            print("sqlite: reusing the catalogue built earlier", flush=True)
            await migrate(engine)
        assert marker is not None
        return engine, marker
    assert admin_url is not None
    exists = await asyncio.to_thread(synthetic.pg_database_exists, admin_url, PG_DATABASE)
    url = synthetic.database_url(admin_url, PG_DATABASE)
    engine = create_engine(url)
    marker = None if args.rebuild or not exists else await _marker(engine)
    if not _wanted(marker, args):
        await engine.dispose()
        await asyncio.to_thread(synthetic.pg_create_database, admin_url, PG_DATABASE)
        for setting in args.pg_set:
            key, _, value = setting.partition("=")
            sql = f'ALTER DATABASE "{PG_DATABASE}" SET {key} = {value}'
            await asyncio.to_thread(synthetic.pg_admin, admin_url, sql)
            print(f"postgresql: build with {key} = {value} (reset before the queries)")
        engine = create_engine(url)
        print(f"postgresql: building {args.files} files ...", flush=True)
        await _build(engine, manifest.get(), args)
        marker = await _marker(engine)
        if args.pg_set:
            await engine.dispose()
            for setting in args.pg_set:
                sql = f'ALTER DATABASE "{PG_DATABASE}" RESET {setting.partition("=")[0]}'
                await asyncio.to_thread(synthetic.pg_admin, admin_url, sql)
            engine = create_engine(url)
    else:
        print("postgresql: reusing the catalogue built earlier", flush=True)
        await migrate(engine)
    assert marker is not None
    return engine, marker


# -- timing --------------------------------------------------------------------------------


@dataclass
class Outcome:
    ms: list[float]
    totals: list[int]
    pages: list[list[str]]


async def time_queries(
    engine: AsyncEngine, probes: dict[str, list[Probe]], warmup: int
) -> dict[str, Outcome]:
    catalogue = Catalogue(create_sessions(engine))
    out: dict[str, Outcome] = {}
    for kind, items in probes.items():
        for probe in items[:warmup]:
            await catalogue.search(probe.query)
        outcome = Outcome([], [], [])
        for probe in items[warmup:]:
            start = time.perf_counter()
            page = await catalogue.search(probe.query)
            outcome.ms.append((time.perf_counter() - start) * 1000)
            outcome.totals.append(page.total)
            outcome.pages.append([str(d.key) for d in page.items])
        out[kind] = outcome
    return out


# -- brute force ---------------------------------------------------------------------------


async def brute_force(
    engine: AsyncEngine, probes: dict[str, list[Probe]], count: int, warmup: int
) -> dict[str, list[tuple[int, int]]]:
    """Expected totals of the first ``count`` timed probes of each kind, scanning every MOC."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT c.did_id, d.did_type, c.moc, c.moc_order, c.t_min, c.t_max, "
                    "ch.s_ra, ch.s_dec, ch.s_region FROM coverage c JOIN did d ON d.id = c.did_id "
                    "LEFT JOIN characterisation ch ON ch.did_id = c.did_id "
                    "WHERE d.deleted_at IS NULL AND c.moc IS NOT NULL"
                )
            )
        ).all()
        bands = dict(
            (
                await connection.execute(
                    text("SELECT did_id, v_text FROM did_meta WHERE key = 'band' AND position = 0")
                )
            ).all()
        )
    ids = np.array([r.did_id for r in rows])
    ra = np.radians(np.array([r.s_ra if r.s_ra is not None else np.nan for r in rows]))
    dec = np.radians(np.array([r.s_dec if r.s_dec is not None else np.nan for r in rows]))
    is_file = np.array([r.did_type == DIDType.FILE.value for r in rows])
    by_id = {r.did_id: r for r in rows}
    margin = 0.6  # a file's half-diagonal + MOC cells of both sides, generously
    expected: dict[str, list[tuple[int, int]]] = {}
    for kind, items in probes.items():
        results = []
        for probe in items[warmup : warmup + count]:
            near = ~is_file  # collections: no centre, always checked
            for cra, cdec, radius in probe.bounds:
                c0, d0 = math.radians(cra), math.radians(cdec)
                cos = np.sin(d0) * np.sin(dec) + np.cos(d0) * np.cos(dec) * np.cos(ra - c0)
                near |= is_file & (cos >= math.cos(math.radians(min(180.0, radius + margin))))
            total = 0
            assert probe.query.region is not None
            for did_id in ids[near].tolist():
                row = by_id[did_id]
                coverage = Coverage.from_bytes(row.moc, row.moc_order)
                s_region = row.s_region if row.did_type == DIDType.FILE.value else None
                if not _decide(probe.query.region, coverage, s_region):
                    continue
                if probe.band is not None and bands.get(did_id) != probe.band:
                    continue
                if probe.query.time is not None:
                    lo, hi = probe.query.time
                    t_end = row.t_max if row.t_max is not None else row.t_min
                    if row.t_min is None or t_end < lo or row.t_min > hi:
                        continue
                total += 1
            results.append(total)
        expected[kind] = [(i, t) for i, t in enumerate(results)]
    return expected


def _decide(region: RegionFilter, coverage: Coverage, s_region: str | None) -> bool:
    """The catalogue's own per-candidate decision (its signature varies between versions)."""
    if len(inspect.signature(matches_region).parameters) >= 3:
        return matches_region(region, coverage, s_region)  # type: ignore[call-arg]
    return matches_region(region, coverage)


# -- main ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, admin_url: str | None) -> None:
    rng = random.Random(args.seed + 1000)
    positions = [synthetic.random_position(rng) for _ in range(args.warmup + args.repeat)]
    probes = {kind: [make(ra, dec) for ra, dec in positions] for kind, make in KINDS.items()}
    manifest = Manifest(args)
    results: dict[str, dict[str, Outcome]] = {}
    markers: dict[str, dict[str, Any]] = {}
    sizes: dict[str, dict[str, int]] = {}
    checks: dict[str, dict[str, list[tuple[int, int]]]] = {}
    try:
        for name in args.engines:
            engine, marker = await prepare_engine(name, admin_url, manifest, args)
            markers[name] = marker
            print(
                f"{name}: catalogue of {marker['files']} files / {marker['datasets']} datasets, "
                f"built in {marker['build_seconds']:.0f} s "
                f"({marker['files'] / marker['build_seconds']:.0f} files/s)",
                flush=True,
            )
            async with engine.connect() as connection:
                sizes[name] = {
                    label: int((await connection.execute(text(sql))).scalar_one())
                    for label, sql in (
                        ("dids", "SELECT count(*) FROM did"),
                        ("cells", "SELECT count(*) FROM coverage_cell"),
                    )
                }
            results[name] = await time_queries(engine, probes, args.warmup)
            if args.verify:
                checks[name] = await brute_force(engine, probes, args.verify, args.warmup)
            await engine.dispose()
    finally:
        manifest.close()
    report(args, probes, results, markers, sizes, checks)
    if args.json:
        import json  # noqa: PLC0415

        payload = {
            name: {
                kind: {"ms": o.ms, "totals": o.totals, "pages": o.pages}
                for kind, o in by_kind.items()
            }
            for name, by_kind in results.items()
        }
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": payload}))
        print(f"per-query figures written to {args.json}")


@dataclass(frozen=True)
class Place:
    """Where one engine's catalogue is: region.py's database, or ours for another size."""

    engine: str
    database: str  # SQLite path or PostgreSQL database name
    shared: bool  # region.py's own

    def url(self, admin_url: str | None) -> str:
        if self.engine == "sqlite":
            return f"sqlite+aiosqlite:///{self.database}"
        assert admin_url is not None
        return str(synthetic.database_url(admin_url, self.database))


async def place_exists(place: Place, admin_url: str | None) -> bool:
    if place.engine == "sqlite":
        return Path(place.database).exists()
    return await asyncio.to_thread(synthetic.pg_database_exists, admin_url, place.database)


async def choose_place(
    name: str, admin_url: str | None, args: argparse.Namespace, own: str
) -> Place:
    """region.py's database when it holds the asked catalogue or none yet; else the calling
    benchmark's own (``own``: tap, search; a region.py catalogue of another size is never
    rebuilt from there)."""
    shared = Place(name, str(SQLITE_PATH) if name == "sqlite" else PG_DATABASE, True)
    if not await place_exists(shared, admin_url):
        return shared
    from catalogue.store.engine import create_engine  # noqa: PLC0415

    engine = create_engine(shared.url(admin_url))
    try:
        marker = await _marker(engine)
    finally:
        await engine.dispose()
    if marker is None or _wanted(marker, args):
        return shared
    if name == "sqlite":
        return Place(name, f"/tmp/lakecat-bench-{own}-{args.files}-{args.datasets}.sqlite", False)
    return Place(name, f"lakecat_bench_{own}_{args.files}_{args.datasets}", False)


def report(
    args: argparse.Namespace,
    probes: dict[str, list[Probe]],
    results: dict[str, dict[str, Outcome]],
    markers: dict[str, dict[str, Any]],
    sizes: dict[str, dict[str, int]],
    checks: dict[str, dict[str, list[tuple[int, int]]]],
) -> None:
    print()
    for name, marker in markers.items():
        print(
            f"{name}: {marker['files']} files, {marker['datasets']} datasets, "
            f"{sizes[name]['dids']} DIDs, {sizes[name]['cells']} index cells; build "
            f"{marker['build_seconds']:.0f} s, ANALYZE {marker['analyse_seconds']:.1f} s"
            + (f" (built with {marker['settings']})" if marker.get("settings") else "")
            + f"; built by code {marker.get('code')}"
            + (
                f", peak RSS after build {marker['rss_mib']:.0f} MiB"
                if marker.get("rss_mib")
                else ""
            )
        )
        if marker.get("code") != os.environ.get("LAKECAT_BENCH_SNAPSHOT"):
            print(f"  note: queried with code {os.environ.get('LAKECAT_BENCH_SNAPSHOT')}")
    print(f"{args.repeat} positions per query (after {args.warmup} warm-up), page of 100")
    print()
    print(
        f"{'query':<22} {'engine':<11} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
        f"{'mean total':>11} {'non-empty':>9} {'region ms':>9}"
    )
    for kind in KINDS:
        build = float(np.mean([p.build_ms for p in probes[kind][args.warmup :]]))
        for name, by_kind in results.items():
            o = by_kind[kind]
            print(
                f"{kind:<22} {name:<11} {synthetic.percentile(o.ms, 0.5):>8.1f} "
                f"{synthetic.percentile(o.ms, 0.95):>8.1f} {max(o.ms):>8.1f} "
                f"{np.mean(o.totals):>11.1f} {sum(t > 0 for t in o.totals):>9} {build:>9.1f}"
            )
    engines = list(results)
    if len(engines) > 1:
        print()
        first = engines[0]
        for other in engines[1:]:
            bad = 0
            for kind in KINDS:
                a, b = results[first][kind], results[other][kind]
                differ = [
                    i
                    for i in range(len(a.totals))
                    if a.totals[i] != b.totals[i] or a.pages[i] != b.pages[i]
                ]
                bad += len(differ)
                for i in differ[:3]:
                    print(
                        f"MISMATCH {kind} #{i}: {first} total {a.totals[i]}, {other} total "
                        f"{b.totals[i]}; pages equal: {a.pages[i] == b.pages[i]}"
                    )
            verdict = "identical" if not bad else f"{bad} differing queries"
            print(f"totals and first pages, {first} vs {other}: {verdict}")
    for name, expected in checks.items():
        wrong = 0
        checked = 0
        for kind, pairs in expected.items():
            for i, total in pairs:
                checked += 1
                got = results[name][kind].totals[i]
                if got != total:
                    wrong += 1
                    print(f"BRUTE-FORCE MISMATCH {name} {kind} #{i}: search {got}, scan {total}")
        print(f"brute-force scan of every MOC on {name}: {checked - wrong}/{checked} totals agree")


SNAPSHOT_DIR = Path("/tmp/lakecat-bench-region-code")


def _reexec_on_snapshot() -> None:
    """Run on a copy of catalogue/, so edits made to the tree during a long run don't mix in."""
    if os.environ.get("LAKECAT_BENCH_SNAPSHOT"):
        return
    shutil.rmtree(SNAPSHOT_DIR, ignore_errors=True)
    fingerprint = synthetic.snapshot_code(SNAPSHOT_DIR)
    print(f"code: catalogue/ copied at {time.strftime('%H:%M:%S')}, fingerprint {fingerprint}")
    env = {**os.environ, "PYTHONPATH": str(SNAPSHOT_DIR), "LAKECAT_BENCH_SNAPSHOT": fingerprint}
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> None:
    _reexec_on_snapshot()
    import catalogue  # noqa: PLC0415

    if not catalogue.__file__ or not catalogue.__file__.startswith(str(SNAPSHOT_DIR)):
        raise SystemExit(f"not running on the snapshot: catalogue is {catalogue.__file__}")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--datasets", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--sqlite-analyze", action="store_true")
    parser.add_argument("--verify", type=int, default=0, metavar="K")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", help="also write every query's time, total and page here")
    parser.add_argument(
        "--pg-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the PostgreSQL database during the build only (e.g. "
        "plan_cache_mode=force_custom_plan, which avoids the quadratic ingest)",
    )
    args = parser.parse_args()
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if set(args.engines) - {"postgresql", "sqlite"}:
        parser.error("engines are postgresql and sqlite")
    if args.datasets <= 0 or args.files < args.datasets:
        parser.error("need at least one file per dataset")
    if "postgresql" in args.engines:
        with synthetic.pg_server(PG_DIR) as admin_url:
            asyncio.run(run(args, admin_url))
    else:
        asyncio.run(run(args, None))


if __name__ == "__main__":
    sys.exit(main())
