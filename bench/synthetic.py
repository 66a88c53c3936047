"""Shared pieces of the benchmarks: synthetic Rubin-like manifests and database plumbing.

Not a test helper: nothing here is imported by catalogue/ code. The manifest records follow
catalogue/ingest.py's JSON Lines format (scope, name, bytes, adler32, md5, obscore{...},
metadata{...}, replicas[{rse, path|url}], dataset).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from catalogue.models import RSE

ROOT = Path(__file__).resolve().parent.parent
PG_CLUSTER = ROOT / "scripts" / "pg-cluster"
ENV_URL = "LAKECAT_BENCH_DATABASE_URL"

SCOPE = "rubin"
RSES = (
    RSE("SLAC_DISK", "root://xrootd.slac.example.org:1094//lsst", qos_class="disk"),
    RSE("IN2P3_DISK", "davs://webdav.in2p3.example.org:2880/lsst", qos_class="disk"),
    RSE("RAL_TAPE", "root://antares.ral.example.org//lsst", qos_class="tape"),
)
# Rubin's six filters: (name, lower and upper wavelength in metres), and how often each is used.
BANDS = (
    ("u", 320e-9, 400e-9),
    ("g", 400e-9, 552e-9),
    ("r", 552e-9, 691e-9),
    ("i", 691e-9, 818e-9),
    ("z", 818e-9, 922e-9),
    ("y", 950e-9, 1080e-9),
)
BAND_WEIGHTS = (0.07, 0.10, 0.22, 0.22, 0.20, 0.19)
DDF_FIELDS = ("COSMOS", "XMM-LSS", "ECDFS", "ELAIS-S1", "EDFS")
FIRST_NIGHT = date(2026, 11, 21)
MJD_EPOCH = date(1858, 11, 17)
TILE = 0.2  # degrees: a detector's footprint, a side of the square s_region
EXPOSURE_DAYS = 30.0 / 86400.0


def random_position(rng: random.Random, dec_limit: float = 80.0) -> tuple[float, float]:
    """A position uniform on the sphere, declination within +-dec_limit."""
    top = math.sin(math.radians(dec_limit))
    return rng.uniform(0.0, 360.0), math.degrees(math.asin(rng.uniform(-top, top)))


def square(ra: float, dec: float, half: float = TILE / 2) -> str:
    """An STC-S square centred on (ra, dec), ``2*half`` degrees of declination high."""
    w = half / max(math.cos(math.radians(dec)), 1e-3)
    corners = (
        (ra - w, dec - half),
        (ra + w, dec - half),
        (ra + w, dec + half),
        (ra - w, dec + half),
    )
    return "Polygon ICRS " + " ".join(f"{r % 360.0:.6f} {d:.6f}" for r, d in corners)


def lsstcam_offsets() -> list[tuple[float, float]]:
    """LSSTCam's 189 science detectors: a 15x15 grid of CCDs without the four corner rafts."""
    out = []
    for row in range(15):
        for col in range(15):
            if (row < 3 or row >= 12) and (col < 3 or col >= 12):
                continue
            out.append(((col - 7) * TILE, (row - 7) * TILE))
    return out


def grid_offsets(count: int) -> list[tuple[float, float]]:
    """``count`` adjacent tiles filling a square grid row by row, centred on (0, 0)."""
    side = math.ceil(math.sqrt(count))
    centre = (side - 1) / 2
    return [((i % side - centre) * TILE, (i // side - centre) * TILE) for i in range(count)]


def _offset_position(ra0: float, dec0: float, dx: float, dy: float) -> tuple[float, float]:
    dec = max(-89.5, min(89.5, dec0 + dy))
    return (ra0 + dx / max(math.cos(math.radians(dec)), 1e-3)) % 360.0, dec


def records(
    n_files: int,
    *,
    per_dataset: int,
    layout: str = "camera",
    seed: int = 1,
    product: str = "calexp",
) -> Iterator[dict[str, Any]]:
    """``n_files`` manifest records, ``per_dataset`` to a dataset (a visit, or a sky patch).

    ``camera``: each dataset is a visit of LSSTCam (189 detectors around a random pointing);
    ``grid``: each dataset is a square grid of ``per_dataset`` adjacent tiles at a random place;
    ``scatter``: every file at its own random position (the worst case for dataset MOCs).
    """
    rng = random.Random(seed)
    offsets = lsstcam_offsets() if layout == "camera" else grid_offsets(per_dataset)
    if layout == "camera":
        per_dataset = len(offsets)
    visits_per_night = 800
    made = 0
    visit = 0
    while made < n_files:
        night = FIRST_NIGHT + timedelta(days=visit // visits_per_night)
        mjd_night = (night - MJD_EPOCH).days + 0.05
        t_min = mjd_night + (visit % visits_per_night) * 40.0 / 86400.0
        band, em_min, em_max = rng.choices(BANDS, BAND_WEIGHTS)[0]
        ddf = rng.random() < 0.1
        target = rng.choice(DDF_FIELDS) if ddf else None
        tags = ["ddf", target.lower()] if target else ["wfd"]
        if rng.random() < 0.3:
            tags.append("dp1")
        ra0, dec0 = random_position(rng)
        if layout == "camera":
            dataset = f"{product}/{night.isoformat()}/visit_{visit:06d}"
        else:
            dataset = f"{product}/patch_{visit:06d}"
        for det in range(min(per_dataset, n_files - made)):
            if layout == "scatter":
                ra, dec = random_position(rng)
            else:
                ra, dec = _offset_position(ra0, dec0, *offsets[det])
            if layout == "camera":
                name = f"{product}/{night.isoformat()}/visit_{visit:06d}/det_{det:03d}.fits"
            else:
                name = f"{product}/patch_{visit:06d}/tile_{det:03d}.fits"
            obscore: dict[str, Any] = {
                "dataproduct_type": "image",
                "calib_level": 2,
                "obs_collection": f"LSST.{product}",
                "obs_id": f"{visit:06d}_{det:03d}",
                "facility_name": "Rubin:Simonyi",
                "instrument_name": "LSSTCam",
                "s_region": square(ra, dec),
                "t_min": round(t_min, 8),
                "t_max": round(t_min + EXPOSURE_DAYS, 8),
                "em_min": em_min,
                "em_max": em_max,
            }
            if target:
                obscore["target_name"] = target
            chosen = rng.sample(RSES, rng.randint(1, len(RSES)))
            replicas = [
                {"rse": r.name, "url": f"{r.base_url}/{SCOPE}/{name}"}
                if r.name == "RAL_TAPE"
                else {"rse": r.name, "path": f"{SCOPE}/{name}"}
                for r in chosen
            ]
            yield {
                "scope": SCOPE,
                "name": name,
                "bytes": rng.randint(10_000_000, 80_000_000),
                "adler32": f"{rng.getrandbits(32):08x}",
                "md5": f"{rng.getrandbits(128):032x}",
                "obscore": obscore,
                "metadata": {"visit": visit, "detector": det, "band": band, "tags": tags},
                "replicas": replicas,
                "dataset": dataset,
            }
            made += 1
        visit += 1


def write_manifest(path: Path, rows: Iterator[dict[str, Any]]) -> int:
    """Stream records to a JSON Lines file; returns how many."""
    count = 0
    with path.open("w") as out:
        for record in rows:
            out.write(json.dumps(record, separators=(",", ":")))
            out.write("\n")
            count += 1
    return count


# -- PostgreSQL ----------------------------------------------------------------------------


@contextlib.contextmanager
def pg_server(directory: Path | None = None) -> Iterator[str]:
    """The admin URL of a PostgreSQL server: $LAKECAT_BENCH_DATABASE_URL, or one we start.

    A started cluster lives in ``directory`` (kept, so a later run can reuse it) or in a new
    temporary directory (removed); it is stopped on exit either way.
    """
    url = os.environ.get(ENV_URL)
    if url:
        yield url
        return
    temporary = directory is None
    where = (
        Path(tempfile.mkdtemp(prefix="lakecat-bench-pg-", dir="/tmp")) if temporary else directory
    )
    assert where is not None
    started = subprocess.run(
        [str(PG_CLUSTER), "start", str(where)], check=True, capture_output=True, text=True
    )
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(PG_CLUSTER), "stop", str(where)], check=False)
        if temporary:
            shutil.rmtree(where, ignore_errors=True)


def database_url(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the admin URL's server."""
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def psycopg2_dsn(url: str) -> str:
    """A libpq URL for psycopg2 from an SQLAlchemy ``postgresql+asyncpg`` one."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(admin_url: str, sql: str) -> list[Any]:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(sql))
            return list(result) if result.returns_rows else []
    finally:
        await engine.dispose()


def pg_admin(admin_url: str, sql: str) -> None:
    """Run one statement on the server outside a transaction."""
    asyncio.run(_admin(admin_url, sql))


def pg_database_exists(admin_url: str, name: str) -> bool:
    rows = asyncio.run(_admin(admin_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))
    return bool(rows)


def pg_create_database(admin_url: str, name: str) -> str:
    """Create (after dropping any old one) database ``name``; returns its URL."""
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    return database_url(admin_url, name)


def pg_drop_database(admin_url: str, name: str) -> None:
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# -- the code under test ------------------------------------------------------------------


def code_fingerprint(package: Path) -> str:
    """A short digest of a catalogue package's Python sources (and migrations)."""
    import hashlib  # noqa: PLC0415

    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def snapshot_code(destination: Path) -> str:
    """Copy catalogue/ to ``destination``/catalogue, so every process of a run imports the
    same code even while someone edits the tree; returns its fingerprint."""
    target = destination / "catalogue"
    shutil.copytree(
        ROOT / "catalogue", target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return code_fingerprint(target)


def snapshot_vars(name: str) -> tuple[str, str, str]:
    """The environment variables of a benchmark's code snapshot: where the copy is, which
    process owns (and removes) it, and the work tree it was taken from."""
    prefix = f"LAKECAT_BENCH_{name.upper()}"
    return f"{prefix}_CODE", f"{prefix}_CODE_OWNER", f"{prefix}_TREE"


def reexec_on_snapshot(name: str, packages: Sequence[str], helpers: Sequence[str]) -> None:
    """Run bench/``name``.py again on copies of ``packages`` and bench/'s ``helpers``, so
    edits made to the tree during a long run don't mix in; returns at once on the copy.

    The copy's catalogue fingerprint goes in ``LAKECAT_BENCH_SNAPSHOT`` (what region.py's
    build records); the copy is removed when the process that made it exits.
    """
    snapshot_env, owner_env, tree_env = snapshot_vars(name)
    if os.environ.get(snapshot_env):
        if os.environ.get(owner_env) == str(os.getpid()):  # execve kept our pid
            atexit.register(shutil.rmtree, os.environ[snapshot_env], True)
        return
    where = Path(tempfile.mkdtemp(prefix=f"lakecat-bench-{name}-code-", dir="/tmp"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in packages:
        shutil.copytree(ROOT / package, where / package, ignore=ignore)
    (where / "bench").mkdir()
    for helper in (*helpers, f"{name}.py"):
        shutil.copy2(ROOT / "bench" / helper, where / "bench" / helper)
    fingerprint = code_fingerprint(where / "catalogue")
    copied = ", ".join(f"{p}/" for p in packages)
    print(
        f"code: {copied} copied at {time.strftime('%H:%M:%S')}, catalogue fingerprint "
        f"{fingerprint}",
        flush=True,
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(where),
        snapshot_env: str(where),
        owner_env: str(os.getpid()),
        tree_env: str(ROOT),
        "LAKECAT_BENCH_SNAPSHOT": fingerprint,
    }
    script = str(where / "bench" / f"{name}.py")
    os.execve(sys.executable, [sys.executable, script, *sys.argv[1:]], env)


# -- small numbers -------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def maxrss_mib() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    import resource  # noqa: PLC0415

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
