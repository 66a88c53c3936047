"""Harvest ObsCore rows from a local lakecat TAP service: rows/s, where the time goes, peak RSS.

    python bench/harvest.py [--rows 100000] [--chunk 10000] [--target sqlite|postgresql]
                            [--mode sync|async] [--seed 1]

A source catalogue of ``--rows`` synthetic files (bench/synthetic.py's camera layout: each
with an s_region polygon) is built once in /tmp/lakecat-bench-harvest-ROWS.sqlite with
``lakecat ingest manifest`` and served by ``lakecat serve`` on a free port of 127.0.0.1,
like any remote. Then, each in a child process of its own (so each peak RSS is that run's):

  fetch   TapReader.chunks alone: the requests, the VOTable parsing and the ObsCore typing
          (what the remote and pyvo cost; the floor of an end-to-end harvest)
  harvest run_harvest into a fresh catalogue (``--target``; PostgreSQL from
          $LAKECAT_BENCH_DATABASE_URL or a throwaway cluster): fetch, MOCs from s_region,
          writes, search documents, all of it
  small   the same harvest of a tenth of the rows (--max-records), to show the memory is
          flat in the number of rows: its peak RSS should be about the full run's

Prints rows/s and the peak RSS of each, and harvest/fetch as the ratio to the floor. The
issue's goal is >= 5,000 rows/s end to end. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synthetic
from bridges.harvest.run import run_harvest
from bridges.harvest.tap import TapReader
from catalogue.service import Catalogue
from catalogue.store.engine import create_engine, create_sessions, migrate

_LAKECAT = str(Path(sys.executable).with_name("lakecat"))


def _source(rows: int, seed: int) -> Path:
    """The source catalogue's SQLite file, built when missing."""
    path = Path(f"/tmp/lakecat-bench-harvest-{rows}-{seed}.sqlite")
    if path.exists():
        return path
    manifest = Path(tempfile.mkdtemp()) / "manifest.jsonl"
    synthetic.write_manifest(manifest, synthetic.records(rows, per_dataset=189, seed=seed))
    env = {**os.environ, "LAKECAT_DATABASE_URL": f"sqlite+aiosqlite:///{path}"}
    started = time.perf_counter()
    for rse in synthetic.RSES:
        subprocess.run([_LAKECAT, "rse", "add", rse.name, rse.base_url], env=env, check=True)
    subprocess.run(
        [_LAKECAT, "ingest", "manifest", str(manifest)], env=env, check=True, capture_output=True
    )
    print(f"built the source catalogue ({rows} files) in {time.perf_counter() - started:.0f} s")
    return path


def _serve(path: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {
        **os.environ,
        "LAKECAT_DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        "LAKECAT_TAP_MAX_REC": "1000000",
    }
    process = subprocess.Popen(
        [_LAKECAT, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx  # noqa: PLC0415

    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, f"{url}/tap"
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    msg = "lakecat serve did not start"
    raise RuntimeError(msg)


async def _child(args: argparse.Namespace) -> dict[str, float]:
    reader = TapReader(
        args.url, chunk_size=args.chunk, max_records=args.max_records, mode=args.mode
    )
    started = time.perf_counter()
    if args.child == "fetch":
        rows = sum(len(chunk.records) for chunk in reader.chunks(None))
        return {"rows": rows, "seconds": time.perf_counter() - started}
    engine = create_engine(args.target_url)
    await migrate(engine)
    catalogue = Catalogue(create_sessions(engine))
    started = time.perf_counter()
    run = await run_harvest(catalogue, reader)
    seconds = time.perf_counter() - started
    await engine.dispose()
    if run.error:
        print(run.error, file=sys.stderr)
    return {"rows": run.counts.added, "seconds": seconds, "failed": run.counts.failed}


def _in_child(
    kind: str, url: str, target: str, args: argparse.Namespace, limit: int | None
) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--url",
        url,
        "--target-url",
        target,
        "--chunk",
        str(args.chunk),
        "--mode",
        args.mode,
    ]
    if limit:
        command += ["--max-records", str(limit)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _target(kind: str, name: str) -> str:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp()) / f"{name}.sqlite"
        return f"sqlite+aiosqlite:///{path}"
    admin = os.environ.get("LAKECAT_BENCH_DATABASE_URL")
    if not admin:
        msg = (
            "set LAKECAT_BENCH_DATABASE_URL (scripts/pg-cluster start DIR) for --target postgresql"
        )
        raise SystemExit(msg)
    synthetic.pg_drop_database(admin, name)
    return synthetic.pg_create_database(admin, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--target", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--mode", default="sync", choices=("sync", "async"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--target-url", help=argparse.SUPPRESS)
    parser.add_argument("--max-records", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = asyncio.run(_child(args))
        result["rss_mib"] = synthetic.maxrss_mib()
        print(json.dumps(result))
        return
    process, url = _serve(_source(args.rows, args.seed))
    try:
        figures = {
            "fetch": _in_child("fetch", url, "", args, None),
            "harvest": _in_child(
                "harvest", url, _target(args.target, "lakecat_bench_harvest"), args, None
            ),
            "small": _in_child(
                "harvest",
                url,
                _target(args.target, "lakecat_bench_harvest_small"),
                args,
                args.rows // 10,
            ),
        }
    finally:
        process.terminate()
        process.wait(timeout=20)
    print(
        f"harvest of {args.rows} ObsCore rows, chunks of {args.chunk}, {args.mode}, into {args.target}"
    )
    for name, f in figures.items():
        rate = f["rows"] / f["seconds"] if f["seconds"] else 0.0
        print(
            f"  {name:8} {int(f['rows']):>8} rows {f['seconds']:8.1f} s "
            f"{rate:>9.0f} rows/s  peak RSS {f['rss_mib']:7.0f} MiB"
        )
    ratio = figures["harvest"]["seconds"] / figures["fetch"]["seconds"]
    print(f"  harvest/fetch {ratio:.2f}x (the floor: reading the remote alone)")
    small, full = figures["small"]["rss_mib"], figures["harvest"]["rss_mib"]
    print(
        f"  peak RSS at {args.rows // 10} rows {small:.0f} MiB, at {args.rows} rows {full:.0f} MiB"
    )


if __name__ == "__main__":
    main()
