"""Manifest ingest throughput: ``register_files`` against a bare COPY / executemany floor.

    python bench/ingest.py N [--engines postgresql,sqlite] [--keep] [--layout camera]
                             [--profile DIR] [--no-split] [--pg-set NAME=VALUE]

Writes a synthetic Rubin-like JSON Lines manifest of N files (not timed), then, for each
engine in its own subprocess (so peak RSS figures are independent), creates a fresh database,
migrates it, adds the three RSEs and times

    register_files(read_manifest(open(manifest), "jsonl", None), all_or_nothing=True)

followed, in the same database, by the floor: the same rows (what the manifest carries) streamed
from the same file into a bare unindexed table, with COPY (psycopg2 copy_expert) on PostgreSQL
and one executemany transaction on SQLite. A third subprocess times the engine-independent CPU
work alone over the same records: parsing + validating (read_manifest), catalogue.ingest.prepare
(MOCs) and the index cells each file's MOC is cut into.

PostgreSQL comes from $LAKECAT_BENCH_DATABASE_URL (an admin URL; a database is created and
dropped on it), else a throwaway cluster is started with scripts/pg-cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import synthetic
from sqlalchemy import text

from catalogue.ingest import Candidate, prepare, read_manifest
from catalogue.service import Catalogue
from catalogue.store.engine import create_engine, create_sessions, migrate

OBSCORE_COLUMNS = (
    ("dataproduct_type", "text"),
    ("calib_level", "integer"),
    ("obs_collection", "text"),
    ("obs_id", "text"),
    ("facility_name", "text"),
    ("instrument_name", "text"),
    ("target_name", "text"),
    ("s_region", "text"),
    ("t_min", "double precision"),
    ("t_max", "double precision"),
    ("em_min", "double precision"),
    ("em_max", "double precision"),
)
FLOOR_COLUMNS = (
    ("scope", "text"),
    ("name", "text"),
    ("bytes", "bigint"),
    ("adler32", "text"),
    ("md5", "text"),
    ("dataset", "text"),
    *OBSCORE_COLUMNS,
    ("metadata", "text"),
    ("replicas", "text"),
)


def floor_rows(manifest: Path) -> Iterator[tuple[Any, ...]]:
    """The manifest's rows as flat tuples: did columns, ObsCore columns, metadata, replicas."""
    with manifest.open() as lines:
        for line in lines:
            record = json.loads(line)
            obscore = record.get("obscore") or {}
            yield (
                record["scope"],
                record["name"],
                record["bytes"],
                record["adler32"],
                record.get("md5"),
                record.get("dataset"),
                *(obscore.get(name) for name, _ in OBSCORE_COLUMNS),
                json.dumps(record.get("metadata") or {}),
                json.dumps(record.get("replicas") or []),
            )


class CsvStream:
    """A file-like object whose ``read`` streams the rows as CSV, for COPY ... FROM STDIN."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._pending = ""

    def read(self, size: int = -1) -> str:
        want = size if size and size > 0 else 1 << 16
        while len(self._pending) < want:
            chunk = list(islice(self._rows, 256))
            if not chunk:
                break
            self._buffer.seek(0)
            self._buffer.truncate()
            self._writer.writerows(chunk)
            self._pending += self._buffer.getvalue()
        out, self._pending = self._pending[:want], self._pending[want:]
        return out

    def readline(self, size: int = -1) -> str:  # psycopg2 only uses read(); for completeness
        return self.read(size)


def pg_floor(url: str, manifest: Path) -> float:
    import psycopg2  # noqa: PLC0415

    connection = psycopg2.connect(synthetic.psycopg2_dsn(url))
    try:
        with connection.cursor() as cursor:
            columns = ", ".join(f"{n} {t}" for n, t in FLOOR_COLUMNS)
            cursor.execute(
                f"DROP TABLE IF EXISTS bench_floor; CREATE TABLE bench_floor ({columns})"
            )
        connection.commit()
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.copy_expert(
                "COPY bench_floor FROM STDIN WITH (FORMAT csv)", CsvStream(floor_rows(manifest))
            )
        connection.commit()
        elapsed = time.perf_counter() - start
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM bench_floor")
            count = cursor.fetchone()[0]
    finally:
        connection.close()
    if count == 0:
        raise SystemExit("floor: COPY loaded no rows")
    return elapsed


def sqlite_floor(path: Path, manifest: Path) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("DROP TABLE IF EXISTS bench_floor")
        sqlite_types = {"text": "TEXT", "integer": "INTEGER", "bigint": "INTEGER"}
        columns = ", ".join(f"{n} {sqlite_types.get(t, 'REAL')}" for n, t in FLOOR_COLUMNS)
        connection.execute(f"CREATE TABLE bench_floor ({columns})")
        marks = ", ".join("?" for _ in FLOOR_COLUMNS)
        start = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany(f"INSERT INTO bench_floor VALUES ({marks})", floor_rows(manifest))
        connection.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        connection.close()


async def _count(engine: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with engine.connect() as connection:
        for label, sql in (
            ("files", "SELECT count(*) FROM did WHERE did_type = 'FILE'"),
            ("datasets", "SELECT count(*) FROM did WHERE did_type = 'DATASET'"),
            ("replicas", "SELECT count(*) FROM replica"),
            ("meta_rows", "SELECT count(*) FROM did_meta"),
            ("cells", "SELECT count(*) FROM coverage_cell"),
        ):
            counts[label] = int((await connection.execute(text(sql))).scalar_one())
    return counts


async def _ingest(url: str, manifest: Path, profile: Path | None) -> dict[str, Any]:
    engine = create_engine(url)
    await migrate(engine)
    catalogue = Catalogue(create_sessions(engine))
    for rse in synthetic.RSES:
        await catalogue.add_rse(rse)
    rss_before = synthetic.maxrss_mib()
    profiler = None
    if profile is not None:
        import cProfile  # noqa: PLC0415

        profiler = cProfile.Profile()
    start = time.perf_counter()
    with manifest.open() as stream:
        if profiler is not None:
            profiler.enable()
        summary = await catalogue.register_files(
            read_manifest(stream, "jsonl", None), all_or_nothing=True
        )
        if profiler is not None:
            profiler.disable()
    seconds = time.perf_counter() - start
    rss = synthetic.maxrss_mib()
    if profiler is not None and profile is not None:
        profiler.dump_stats(str(profile))
    counts = await _count(engine)
    await engine.dispose()
    return {
        "seconds": seconds,
        "rss_mib": rss,
        "rss_before_mib": rss_before,
        "registered": summary.registered,
        "failed": summary.failed,
        "problems": summary.problems[:5],
        "counts": counts,
    }


def child(args: argparse.Namespace) -> None:
    """One engine (or the CPU split) in this process; prints one JSON line."""
    manifest = Path(args.manifest)
    import catalogue  # noqa: PLC0415

    if args.child == "split":
        print(json.dumps({**split(manifest, args.batch), "code": catalogue.__file__}))
        return
    profile = Path(args.profile) / f"ingest-{args.child}.prof" if args.profile else None
    result = asyncio.run(_ingest(args.url, manifest, profile))
    if args.child == "postgresql":
        result["floor"] = pg_floor(args.url, manifest)
    else:
        result["floor"] = sqlite_floor(Path(args.url.split("///", 1)[1]), manifest)
    result["code"] = catalogue.__file__
    print(json.dumps(result))


def split(manifest: Path, batch: int) -> dict[str, float]:
    """CPU time of parsing+validation, prepare (MOCs) and index cells, alone, same batches."""
    parse = prep = cells = 0.0
    with manifest.open() as stream:
        items = read_manifest(stream, "jsonl", None)
        while True:
            t0 = time.perf_counter()
            chunk = list(islice(items, batch))
            t1 = time.perf_counter()
            if not chunk:
                break
            prepared = prepare([c for c in chunk if isinstance(c, Candidate)], 10)
            t2 = time.perf_counter()
            for item in prepared:
                coverage = getattr(item, "coverage", None)
                if coverage is not None:
                    coverage.index_cells(24)
            t3 = time.perf_counter()
            parse += t1 - t0
            prep += t2 - t1
            cells += t3 - t2
    return {"parse": parse, "prepare": prep, "cells": cells}


def run_child(
    kind: str, manifest: Path, url: str, args: argparse.Namespace, code: Path
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "0",
        "--child",
        kind,
        "--manifest",
        str(manifest),
        "--url",
        url,
        "--batch",
        str(args.batch),
    ]
    if args.profile:
        command += ["--profile", args.profile]
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{kind} run failed (exit {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not str(result.pop("code", "")).startswith(str(code)):
        raise SystemExit(f"{kind} run did not import the snapshot of catalogue/ in {code}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", type=int, help="number of file records")
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--keep", action="store_true", help="keep the databases and manifest")
    parser.add_argument("--layout", default="camera", choices=("camera", "grid", "scatter"))
    parser.add_argument("--profile", help="directory for cProfile dumps of register_files")
    parser.add_argument("--no-split", action="store_true", help="skip the CPU split pass")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--pg-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="what-if: ALTER DATABASE ... SET NAME=VALUE on the fresh PostgreSQL database",
    )
    parser.add_argument("--batch", type=int, default=2000, help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - {"postgresql", "sqlite"}
    if unknown:
        parser.error(f"unknown engine(s) {sorted(unknown)}")
    work = Path(tempfile.mkdtemp(prefix="lakecat-bench-ingest-", dir="/tmp"))
    manifest = work / "manifest.jsonl"
    code = work / "code"
    fingerprint = synthetic.snapshot_code(code)
    print(
        f"code: catalogue/ copied at {time.strftime('%H:%M:%S')}, fingerprint {fingerprint}",
        flush=True,
    )
    start = time.perf_counter()
    count = synthetic.write_manifest(
        manifest, synthetic.records(args.n, per_dataset=189, layout=args.layout, seed=args.seed)
    )
    print(
        f"manifest: {count} records, {manifest.stat().st_size / 2**20:.0f} MiB, "
        f"written in {time.perf_counter() - start:.1f} s ({manifest})",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    try:
        if "postgresql" in engines:
            with synthetic.pg_server() as admin_url:
                name = f"lakecat_bench_ingest_{uuid.uuid4().hex[:8]}"
                url = synthetic.pg_create_database(admin_url, name)
                for setting in args.pg_set:
                    key, _, value = setting.partition("=")
                    synthetic.pg_admin(admin_url, f'ALTER DATABASE "{name}" SET {key} = {value}')
                    print(f"what-if: {key} = {value} on {name}")
                try:
                    results["postgresql"] = run_child("postgresql", manifest, url, args, code)
                finally:
                    if args.keep:
                        print(f"kept PostgreSQL database {name} ({url})")
                    else:
                        synthetic.pg_drop_database(admin_url, name)
                print(f"postgresql done: {results['postgresql']['seconds']:.1f} s", flush=True)
        if "sqlite" in engines:
            path = work / "ingest.sqlite"
            results["sqlite"] = run_child(
                "sqlite", manifest, f"sqlite+aiosqlite:///{path}", args, code
            )
            print(f"sqlite done: {results['sqlite']['seconds']:.1f} s", flush=True)
        cpu = None if args.no_split else run_child("split", manifest, "-", args, code)
    finally:
        if args.keep:
            print(f"kept manifest and SQLite file in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"code fingerprint {fingerprint}")
    report(count, results, cpu)


def report(count: int, results: dict[str, dict[str, Any]], cpu: dict[str, float] | None) -> None:
    print()
    print(
        f"{'engine':<11} {'records':>9} {'seconds':>8} {'records/s':>10} {'peak RSS MiB':>13} "
        f"{'floor s':>8} {'ratio':>7}"
    )
    for engine, r in results.items():
        print(
            f"{engine:<11} {r['registered']:>9} {r['seconds']:>8.1f} "
            f"{r['registered'] / r['seconds']:>10.0f} {r['rss_mib']:>13.0f} "
            f"{r['floor']:>8.2f} {r['seconds'] / r['floor']:>6.1f}x"
        )
    print()
    for engine, r in results.items():
        c = r["counts"]
        print(
            f"{engine}: RSS before ingest {r['rss_before_mib']:.0f} MiB; stored {c['files']} files, "
            f"{c['datasets']} datasets, {c['replicas']} replicas, {c['meta_rows']} metadata rows, "
            f"{c['cells']} index cells; failed {r['failed']} {r['problems'] or ''}"
        )
        if r["registered"] != count:
            print(f"  WARNING: registered {r['registered']} of {count} records")
    if cpu:
        print()
        total = sum(cpu.values())
        print(
            f"CPU split (same records, no database; batches of 2000): parse+validate "
            f"{cpu['parse']:.1f} s, prepare (MOCs) {cpu['prepare']:.1f} s, "
            f"index cells {cpu['cells']:.1f} s = {total:.1f} s"
        )
        for engine, r in results.items():
            rest = r["seconds"] - total
            print(
                f"  {engine}: of {r['seconds']:.1f} s, parse {cpu['parse'] / r['seconds']:.0%}, "
                f"prepare {cpu['prepare'] / r['seconds']:.0%}, cells "
                f"{cpu['cells'] / r['seconds']:.0%}, the rest (SQL building, driver, database, "
                f"dataset extents) {rest:.1f} s = {rest / r['seconds']:.0%}"
            )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
