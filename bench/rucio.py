"""Sync a local Rucio server into lakecat: files/s, where the time goes, incremental latency.

    python bench/rucio.py [--files 100000] [--datasets 1000] [--target sqlite|postgresql]
                          [--dir /tmp/lakecat-bench-rucio] [--chunk 1000]

A real Rucio server (scripts/rucio-server, in ``--dir``; its venv cached in
~/.cache/lakecat) is populated once with the rucio client's bulk calls — ``--files`` files in
``--datasets`` datasets in scope ``bench``, each file with a replica on a deterministic
``file://`` RSE (every second file also on an ``https`` RSE, with its PFN) and five JSON
metadata keys (``obs_collection``, ``s_ra``, ``s_dec``, ``s_region``, ``t_min``, mapped to
ObsCore) — and kept between runs (populating 100,000 files takes minutes: Rucio registers
about 1,000 files/s and writes metadata at about 550 DIDs/s).

Then, into a fresh catalogue (``--target``; PostgreSQL from $LAKECAT_BENCH_DATABASE_URL or
a throwaway cluster):

  initial       ``run_sync`` of scope ``bench`` (and an empty scope of this run's own):
                files/s end to end, and the time in each Rucio call and each catalogue step
                (the reads overlap the writes, so the parts add up to more than the total)
  incremental   1,000 new files in a new dataset of this run's scope, then an incremental
                ``run_sync``: the latency from the end of the Rucio writes to lakecat holding
                them

Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridges.rucio.client import RucioClient, UserpassAuth
from bridges.rucio.sync import SyncOptions, run_sync
from catalogue.models import DIDKey
from catalogue.service import Catalogue
from catalogue.store.engine import create_engine, create_sessions, migrate
from catalogue.syncing import RucioSync

ROOT = Path(__file__).resolve().parents[1]
SCOPE = "bench"

POPULATE = textwrap.dedent(
    """
    import sys, time
    from rucio.client import Client
    from rucio.common.exception import Duplicate
    files, datasets, scope, extra = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    c = Client()
    proto = lambda scheme, host, port, prefix: {"scheme": scheme, "hostname": host, "port": port,
        "prefix": prefix, "impl": "rucio.rse.protocols.posix.Default",
        "domains": {"lan": {"read": 1, "write": 1, "delete": 1},
                    "wan": {"read": 1, "write": 1, "delete": 1}}}
    for rse, det, p in (("BENCH_LOCAL", True, proto("file", "localhost", 0, "/data/")),
                        ("BENCH_HTTPS", False, proto("https", "dav.example.org", 443, "/lake/"))):
        try:
            c.add_rse(rse, deterministic=det); c.add_protocol(rse, p)
        except Duplicate:
            pass
    try:
        c.add_scope("root", scope)
    except Duplicate:
        pass
    per = files // datasets
    t = {"add_replicas": 0.0, "add_datasets": 0.0, "metadata": 0.0}
    step = max(1, 5000 // max(per, 1))  # datasets per round: about 5,000 files
    for first in range(0, datasets if per else 0, step):
        group = range(first, min(first + step, datasets))
        names = {d: [f"{extra}f{d:05d}_{i:05d}.fits" for i in range(per)] for d in group}
        rows = [{"scope": scope, "name": n, "bytes": 1000 + i, "adler32": f"{(d * per + i) % 2**32:08x}",
                 "md5": f"{d * per + i:032x}"} for d in group for i, n in enumerate(names[d])]
        s = time.time()
        half = [dict(r, pfn=f"https://dav.example.org:443/lake/{scope}/{r['name']}") for r in rows[::2]]
        for k in range(0, len(rows), 1000):  # Rucio takes at most 1,000 items a call
            c.add_replicas("BENCH_LOCAL", rows[k:k + 1000])
            if not extra and half[k // 2:k // 2 + 500]:
                c.add_replicas("BENCH_HTTPS", half[k // 2:k // 2 + 500])
        t["add_replicas"] += time.time() - s
        s = time.time()
        c.add_datasets([{"scope": scope, "name": f"{extra}ds{d:05d}",
                         "dids": [{"scope": scope, "name": n} for n in names[d]]} for d in group])
        t["add_datasets"] += time.time() - s
        s = time.time()
        meta = [{"scope": scope, "name": n, "meta": {
            "obs_collection": "BENCH", "s_ra": (d * 0.3 + i * 0.001) % 360, "s_dec": -30 + (i % 600) * 0.1,
            "s_region": f"CIRCLE ICRS {(d * 0.3 + i * 0.001) % 360:.4f} {-30 + (i % 600) * 0.1:.4f} 0.05",
            "t_min": 59000 + d + i / per}} for d in group for i, n in enumerate(names[d])]
        for k in range(0, len(meta), 1000):
            c.set_dids_metadata_bulk(meta[k:k + 1000])
        t["metadata"] += time.time() - s
        print(f"  {(group[-1] + 1) * per} files", {k: round(v, 1) for k, v in t.items()}, flush=True)
    print({k: round(v, 1) for k, v in t.items()})
    """
)


def start_server(directory: Path) -> dict[str, str]:
    """Start (or find running) the bench's Rucio server; its exports."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "rucio-server"), "start", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LAKECAT_RUCIO_VENV": str(cache_venv())},
    )
    exports = {}
    for line in done.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        exports[key] = value
    return exports


def cache_venv() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "lakecat" / f"rucio-venv-{os.environ.get('LAKECAT_RUCIO_VERSION', '41.5.1')}"


def populate(
    server: dict[str, str], files: int, datasets: int, scope: str, extra: str = ""
) -> float:
    """Files in datasets in Rucio, with the rucio client's bulk calls; seconds taken."""
    script = Path(tempfile.mkdtemp()) / "populate.py"
    script.write_text(POPULATE)
    started = time.perf_counter()
    done = subprocess.run(
        [
            f"{server['LAKECAT_TEST_RUCIO_VENV']}/bin/python",
            str(script),
            str(files),
            str(datasets),
            scope,
            extra,
        ],
        check=False,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUCIO_CONFIG": server["LAKECAT_TEST_RUCIO_CONFIG"]},
    )
    if done.returncode:
        sys.exit(f"populating Rucio failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


class Timings:
    """Seconds spent in each wrapped coroutine method, and calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        setattr(owner, name, timed)

    def report(self, total: float) -> None:
        for label, seconds in sorted(self.seconds.items(), key=lambda kv: -kv[1]):
            print(
                f"    {label:<34} {seconds:8.1f} s  {self.calls[label]:>6} calls  {100 * seconds / total:5.1f} %"
            )


def instrument() -> Timings:
    timings = Timings()
    for name in (
        "replicas",
        "bulk_meta",
        "content",
        "parents",
        "did",
        "scopes",
        "rse",
        "rse_attributes",
    ):
        timings.wrap(RucioClient, name, f"rucio {name}")
    for name in ("add_dids", "set_contents", "update_replicas", "remove_missing", "add_rses"):
        timings.wrap(RucioSync, name, f"lakecat {name}")
    return timings


def target_url(kind: str, work: Path) -> tuple[str, Callable[[], None]]:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{work / 'lake.sqlite'}", lambda: None
    if url := os.environ.get("LAKECAT_BENCH_DATABASE_URL"):
        return url, lambda: None
    cluster = work / "pg"
    url = subprocess.run(
        [str(ROOT / "scripts" / "pg-cluster"), "start", str(cluster)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return url, lambda: subprocess.run(
        [str(ROOT / "scripts" / "pg-cluster"), "stop", str(cluster)], check=False
    )


async def bench(args: argparse.Namespace, server: dict[str, str]) -> None:
    work = Path(tempfile.mkdtemp(prefix="lakecat-bench-rucio-"))
    work.chmod(0o711)  # the cluster runs as another user (scripts/pg-cluster)
    url, stop = target_url(args.target, work)
    engine = create_engine(url)
    await migrate(engine)
    catalogue = Catalogue(create_sessions(engine))
    tag = f"inc{uuid.uuid4().hex[:8]}"
    populate(server, 0, 1, tag)  # an empty scope of this run's own, for the incremental part
    auth = UserpassAuth(
        "root", server["LAKECAT_TEST_RUCIO_USERNAME"], server["LAKECAT_TEST_RUCIO_PASSWORD"]
    )
    options = SyncOptions(scopes=[SCOPE, tag], chunk_size=args.chunk, margin=timedelta(0))
    timings = instrument()
    async with RucioClient(server["LAKECAT_TEST_RUCIO_URL"], auth) as client:
        started = time.perf_counter()
        run = await run_sync(catalogue, client, options)
        total = time.perf_counter() - started
    files = args.files
    print(f"initial sync ({args.target}): {run.status.value}, {run.counts}")
    print(
        f"  {total:.1f} s, {files / total:,.0f} files/s ({(files + args.datasets) / total:,.0f} DIDs/s)"
    )
    timings.report(total)
    await asyncio.sleep(1.1)  # Rucio's times have a second's precision
    populate(server, 1000, 1, tag, extra="n")
    timings = instrument()
    async with RucioClient(server["LAKECAT_TEST_RUCIO_URL"], auth) as client:
        started = time.perf_counter()
        run = await run_sync(catalogue, client, options)
        latency = time.perf_counter() - started
    detail = await catalogue.get_did(DIDKey(tag, "nf00000_00999.fits"))
    print(f"incremental sync of 1,000 new files: {run.status.value}, {run.counts}")
    print(f"  latency {latency:.1f} s (lakecat has them: {detail is not None})")
    timings.report(latency)
    await engine.dispose()
    stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--target", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/lakecat-bench-rucio"))
    parser.add_argument("--chunk", type=int, default=1000)
    args = parser.parse_args()
    server = start_server(args.dir)
    marker = args.dir / f"populated-{args.files}-{args.datasets}"
    if not marker.exists():
        if any(args.dir.glob("populated-*")):
            sys.exit(f"{args.dir} holds another population: give another --dir")
        print(
            f"populating Rucio with {args.files} files in {args.datasets} datasets ...", flush=True
        )
        seconds = populate(server, args.files, args.datasets, SCOPE)
        print(f"  populated in {seconds:.0f} s ({args.files / seconds:,.0f} files/s)")
        marker.touch()
    asyncio.run(bench(args, server))


if __name__ == "__main__":
    main()
