"""Provenance at scale: lineage walks up and down a synthetic reduction graph, recordActivity.

    python bench/provenance.py [--activities 100000] [--chain 12] [--outputs 10] [--repeat 30]
                               [--engine postgresql|sqlite] [--rebuild] [--seed 3]

The graph is shaped like reduction chains (CTAO DL0->DL3, LOFAR calibration+imaging): a chain
is --chain steps; its first step uses 3 raw files, every step uses the previous step's main
product, and one step in three also uses 2 calibration files of its night (fan-in of
calibrations, 40 chains a night); a step generates --outputs files (the main product, logs,
QA plots: fan-out of products). One bad-pixel table, the *widely used calibration*, is used by
the first step of 2% of the chains. With the defaults: 99,996 activities and 1,025,290
entities (8,333 chains of 12 steps), written directly with COPY (the graph, not the registration path, is measured here).
The database is kept (``lakecat_bench_provenance`` on $LAKECAT_BENCH_DATABASE_URL, or a
cluster in /tmp/lakecat-bench-pg-prov; SQLite /tmp/lakecat-bench-provenance.sqlite) and reused
when its size matches.

Timed, each --repeat times after a warm-up, p50/p95 ms:

  upstream    ``lineage(UPSTREAM, depth=10)`` of the last main product of a random chain,
              through ``ProvenanceReads.lineage`` (the walk and the nodes' details: what
              GraphQL and the export call); and the walk alone (ids), against a recursive CTE
              collecting the same entity ids
  downstream  ``lineage(DOWNSTREAM, depth=100)`` of the widely used calibration (the full
              impact), the same three ways
  record      ``Catalogue.record_activity`` of a step using 3 inputs with 100 new output files

Goals (issue 7): upstream < 50 ms, downstream < 500 ms on PostgreSQL, record < 100 ms.
Prints the command line, the figures and peak RSS; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from catalogue.ingest import Candidate
from catalogue.models import ANONYMOUS, DIDKey, FileSpec
from catalogue.provenance import (
    ActivitySpec,
    AgentSpec,
    AgentType,
    Direction,
    EntityRef,
    Parameter,
    Usage,
)
from catalogue.service import Catalogue
from catalogue.store import lineage as walker
from catalogue.store import tables as t
from catalogue.store.bulk import insert_rows
from catalogue.store.engine import create_engine, create_sessions, migrate
from catalogue.store.provenance import entities_of_dids

PG_DIR = Path("/tmp/lakecat-bench-pg-prov")
PG_DATABASE = "lakecat_bench_provenance"
SQLITE_PATH = Path("/tmp/lakecat-bench-provenance.sqlite")
SCOPE = "cta"
CHAINS_PER_NIGHT = 40
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 50_000


class Graph:
    """Ids of the synthetic graph, assigned as it is written (DIDs and entities share ids)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.chains = args.activities // args.chain
        self.nights = max(1, self.chains // CHAINS_PER_NIGHT)
        self.next_did = 0
        self.next_activity = 0
        self.last_products: list[int] = []  # the final main product of each chain
        self.widely_used = 0

    def did(self) -> int:
        self.next_did += 1
        return self.next_did

    def activity(self) -> int:
        self.next_activity += 1
        return self.next_activity


def _did_row(did_id: int, name: str) -> dict[str, Any]:
    return {
        "id": did_id,
        "scope": SCOPE,
        "name": name,
        "did_type": "FILE",
        "bytes": 1000,
        "adler32": f"{zlib.adler32(name.encode()):08x}",
        "md5": None,
        "guid": None,
        "is_open": None,
        "length": None,
        "created_at": T0,
        "updated_at": T0,
        "deleted_at": None,
        "withdrawn_at": None,
    }


class Rows:
    """Rows waiting to be written, flushed table by table in chunks."""

    def __init__(self) -> None:
        self.tables: dict[Any, list[dict[str, Any]]] = {}

    def add(self, table: Any, row: dict[str, Any]) -> None:
        self.tables.setdefault(table, []).append(row)

    def full(self) -> bool:
        return any(len(rows) >= CHUNK for rows in self.tables.values())

    async def flush(self, sessions: Any) -> None:
        async with sessions.begin() as session:
            for table in (
                t.did,
                t.prov_entity,
                t.prov_activity,
                t.prov_parameter,
                t.prov_usage,
                t.prov_generation,
                t.prov_association,
            ):
                rows = self.tables.pop(table, [])
                if rows:
                    await insert_rows(session, table, rows)


def _file(graph: Graph, rows: Rows, name: str) -> int:
    did_id = graph.did()
    rows.add(t.did, _did_row(did_id, name))
    rows.add(t.prov_entity, {"id": did_id, "did_id": did_id, "uri": None, "created_at": T0})
    return did_id


def _step(graph: Graph, rows: Rows, chain: int, step: int, used: list[tuple[int, str]]) -> int:
    activity_id = graph.activity()
    start = T0 + timedelta(days=chain // CHAINS_PER_NIGHT, minutes=step * 10)
    rows.add(
        t.prov_activity,
        {
            "id": activity_id,
            "name": f"step{step}",
            "activity_type": "Reduction",
            "status": "COMPLETED",
            "start_time": start,
            "end_time": start + timedelta(minutes=9),
            "comment": None,
            "recorded_at": T0,
            "recorded_by": "bench",
        },
    )
    for name, value in (("tailcuts", 10.5), ("nside", 64.0), ("seed", float(step))):
        rows.add(
            t.prov_parameter,
            {
                "activity_id": activity_id,
                "name": name,
                "value": str(value),
                "value_type": "float",
                "v_text": None,
                "v_num": value,
                "v_time": None,
                "unit": None,
                "ucd": None,
            },
        )
    for entity_id, role in used:
        rows.add(
            t.prov_usage,
            {"activity_id": activity_id, "entity_id": entity_id, "role": role, "time": None},
        )
    rows.add(
        t.prov_association,
        {"activity_id": activity_id, "agent_id": 1 + step % 3, "role": "software"},
    )
    main = 0
    for output in range(graph.args.outputs):
        did_id = _file(graph, rows, f"c{chain}/s{step}/o{output}.fits")
        main = main or did_id
        role = "product" if output == 0 else "log"
        rows.add(
            t.prov_generation,
            {"entity_id": did_id, "activity_id": activity_id, "role": role, "time": None},
        )
    return main


async def build(engine: AsyncEngine, args: argparse.Namespace) -> Graph:
    """Write the synthetic graph; returns its ids."""
    rng = random.Random(args.seed)
    graph = Graph(args)
    sessions = create_sessions(engine)
    async with sessions.begin() as session:
        await session.execute(t.scope.insert().values(name=SCOPE, created_at=T0))
        await session.execute(
            t.prov_agent.insert(),
            [
                {
                    "id": i,
                    "agent_type": "SoftwareAgent",
                    "name": n,
                    "version": "0.19",
                    "affiliation": None,
                    "url": None,
                    "comment": None,
                }
                for i, n in ((1, "ctapipe"), (2, "lstchain"), (3, "gammapy"))
            ],
        )
    rows = Rows()
    graph.widely_used = _file(graph, rows, "calib/bad_pixels.h5")
    calibrations = [
        [_file(graph, rows, f"calib/n{n}/c{i}.h5") for i in range(2)] for n in range(graph.nights)
    ]
    started = time.perf_counter()
    for chain in range(graph.chains):
        used = [(_file(graph, rows, f"c{chain}/raw{i}.fits.fz"), "raw") for i in range(3)]
        if rng.random() < 0.02:
            used.append((graph.widely_used, "bad pixels"))
        for step in range(args.chain):
            if step % 3 == 0:
                used += [
                    (c, "calibration")
                    for c in calibrations[min(chain // CHAINS_PER_NIGHT, graph.nights - 1)]
                ]
            main = _step(graph, rows, chain, step, used)
            used = [(main, "input")]
        graph.last_products.append(used[0][0])
        if rows.full():
            await rows.flush(sessions)
    await rows.flush(sessions)
    await _finish(engine)
    print(
        f"built {graph.next_activity:,} activities, {graph.next_did:,} entities in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return graph


async def _finish(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in ("did", "prov_entity", "prov_activity", "prov_agent"):
                await connection.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                )
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("COMMIT"))
            await connection.execute(text("VACUUM ANALYZE"))
        else:
            await connection.execute(text("ANALYZE"))


async def reuse(engine: AsyncEngine, args: argparse.Namespace) -> Graph | None:
    """The graph already in the database, when it has the asked size."""
    async with engine.connect() as connection:
        activities = await connection.scalar(  # record() adds "merge" activities: not counted
            select(func.count())
            .select_from(t.prov_activity)
            .where(t.prov_activity.c.name.like("step%"))
        )
    graph = Graph(args)
    if activities != graph.chains * args.chain:
        return None
    async with engine.connect() as connection:
        graph.next_did = int(await connection.scalar(select(func.max(t.did.c.id))) or 0)
        graph.widely_used = int(
            await connection.scalar(select(t.did.c.id).where(t.did.c.name == "calib/bad_pixels.h5"))
            or 0
        )
        last = f"s{args.chain - 1}/o0.fits"
        names = await connection.execute(select(t.did.c.id).where(t.did.c.name.like(f"%/{last}")))
        graph.last_products = [r.id for r in names]
    print(f"reusing the graph: {activities:,} activities, {graph.next_did:,} entities", flush=True)
    return graph


# -- timing ---------------------------------------------------------------------------------


async def timed(label: str, work: Callable[[], Awaitable[Any]], args: argparse.Namespace) -> Any:
    for _ in range(2):
        await work()
    times, last = [], None
    for _ in range(args.repeat):
        start = time.perf_counter()
        last = await work()
        times.append((time.perf_counter() - start) * 1000)
    p50, p95 = synthetic.percentile(times, 0.5), synthetic.percentile(times, 0.95)
    print(f"  {label:<42} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms", flush=True)
    return last


def _cte(direction: Direction) -> str:
    near, far = ("g", "u") if direction is Direction.UPSTREAM else ("u", "g")
    return f"""
        WITH RECURSIVE walk(entity_id, depth) AS (
            SELECT CAST(:root AS BIGINT), 0
            UNION
            SELECT {far}.entity_id, w.depth + 1
            FROM walk AS w
            JOIN prov_{"generation" if near == "g" else "usage"} AS {near} ON {near}.entity_id = w.entity_id
            JOIN prov_{"usage" if far == "u" else "generation"} AS {far} ON {far}.activity_id = {near}.activity_id
            WHERE w.depth < :depth
        )
        SELECT DISTINCT entity_id FROM walk"""  # fixed text, parameters bound


async def queries(
    engine: AsyncEngine, catalogue: Catalogue, graph: Graph, args: argparse.Namespace
) -> None:
    rng = random.Random(args.seed + 1)
    sessions = create_sessions(engine)

    async def key_of(did_id: int) -> DIDKey:
        async with sessions() as session:
            name = await session.scalar(select(t.did.c.name).where(t.did.c.id == did_id))
        return DIDKey(SCOPE, str(name))

    roots = [rng.choice(graph.last_products) for _ in range(args.repeat + 2)]
    keys = [await key_of(r) for r in roots]
    calibration = await key_of(graph.widely_used)
    for direction, depth, label in (
        (Direction.UPSTREAM, 10, "upstream depth 10"),
        (Direction.DOWNSTREAM, 100, "downstream impact (calibration)"),
    ):
        print(f"{label}:", flush=True)
        roots = iter(keys * 3) if direction is Direction.UPSTREAM else None
        await _directed(catalogue, sessions, args, direction, depth, roots, calibration)


async def _directed(
    catalogue: Catalogue,
    sessions: Any,
    args: argparse.Namespace,
    direction: Direction,
    depth: int,
    roots: Any,
    calibration: DIDKey,
) -> None:
    def root_key() -> DIDKey:
        return next(roots) if roots is not None else calibration

    async def root_ids(session: Any) -> tuple[int, Any]:
        k = root_key()
        did_id = int(
            await session.scalar(
                select(t.did.c.id).where(t.did.c.scope == k.scope, t.did.c.name == k.name)
            )
            or 0
        )
        return did_id, (await entities_of_dids(session, ANONYMOUS, [did_id]))[did_id]

    async def full() -> Any:
        return await catalogue.provenance.lineage(ANONYMOUS, root_key(), direction, depth, 100_000)

    found = await timed("lineage (walk + details)", full, args)
    print(
        f"    {len(found.entities):,} entities, {len(found.activities):,} activities, "
        f"{len(found.agents)} agents, reached {found.reached}, truncated {found.truncated}"
    )

    async def walk_only() -> Any:
        async with sessions() as session:
            _, root = await root_ids(session)
            return await walker.walk(session, ANONYMOUS, root, direction, depth, 100_000)

    walked = await timed("walk alone, level by level (ids)", walk_only, args)

    async def cte() -> Any:
        async with sessions() as session:
            did_id, _ = await root_ids(session)
            rows = await session.execute(text(_cte(direction)), {"root": did_id, "depth": depth})
            return rows.all()

    ids = await timed("recursive CTE (entity ids)", cte, args)
    print(f"    walk: {len(walked.entity_levels):,} entities; CTE: {len(ids):,} entities")


async def record(catalogue: Catalogue, args: argparse.Namespace) -> None:
    print("recordActivity with 100 new output files:", flush=True)
    counter = iter(range(10**9))
    inputs = [EntityRef(did=DIDKey(SCOPE, f"c{c}/s0/o0.fits")) for c in range(3)]

    async def one() -> Any:
        n = next(counter)
        spec = ActivitySpec(
            name="merge",
            activity_type="Analysis",
            agents=[AgentSpec("gammapy", AgentType.SOFTWARE, role="software", version="1.3")],
            parameters=[Parameter("emin", 0.1, unit="TeV"), Parameter("method", "stack")],
            used=[Usage(e, role="input") for e in inputs],
            new_file_roles=["product"] * 100,
        )
        files = [
            Candidate(
                f"files[{i}]",
                FileSpec(DIDKey(SCOPE, f"bench/r{os.getpid()}/{n}/f{i}.fits"), 1000, f"{i:08x}"),
            )
            for i in range(100)
        ]
        done = await catalogue.record_activity(spec, files)
        assert done.problems == [], done.problems[:3]
        return done

    await timed("record_activity (3 inputs, 100 new files)", one, args)


def _place(args: argparse.Namespace, admin_url: str | None) -> str:
    if args.engine == "sqlite":
        if args.rebuild:
            SQLITE_PATH.unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{SQLITE_PATH}"
    assert admin_url is not None
    if args.rebuild or not synthetic.pg_database_exists(admin_url, PG_DATABASE):
        return synthetic.pg_create_database(admin_url, PG_DATABASE)
    return synthetic.database_url(admin_url, PG_DATABASE)


async def run(args: argparse.Namespace, url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
        graph = None if args.rebuild else await reuse(engine, args)
        if graph is None:
            async with engine.begin() as connection:
                for table in reversed(t.metadata.sorted_tables):
                    await connection.execute(table.delete())
            graph = await build(engine, args)
        catalogue = Catalogue(create_sessions(engine))
        await queries(engine, catalogue, graph, args)
        await record(catalogue, args)
    finally:
        await engine.dispose()
    print(f"peak RSS {synthetic.maxrss_mib():.0f} MiB")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--chain", type=int, default=12, help="steps per reduction chain")
    parser.add_argument("--outputs", type=int, default=10, help="files each step generates")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--seed", type=int, default=3)
    return parser.parse_args()


def main() -> None:
    args = _args()
    print(f"command: python bench/provenance.py {' '.join(sys.argv[1:])}".rstrip(), flush=True)
    if args.engine == "postgresql":
        with synthetic.pg_server(PG_DIR) as admin_url:
            asyncio.run(run(args, _place(args, admin_url)))
    else:
        asyncio.run(run(args, _place(args, None)))


if __name__ == "__main__":
    main()
