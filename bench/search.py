"""The search port over region.py's catalogue: indexing, queries on both backends, outbox lag.

    python bench/search.py [--files 1000000] [--datasets 10000] [--repeat 20] [--warmup 2]
                           [--engines postgresql[,sqlite]] [--batch-size 1000]
                           [--index-docs 30000] [--relational-docs 50000] [--lag-seconds 30]
                           [--lag-rate 1000] [--writers 8] [--budget 300] [--seed 7] [--rebuild]
                           [--pg-set NAME=VALUE] [--sqlite-analyze] [--skip PHASE]

The catalogue is bench/region.py's (PostgreSQL database ``lakecat_bench_region`` on
$LAKECAT_BENCH_DATABASE_URL or in the cluster kept in /tmp/lakecat-bench-pg; SQLite
/tmp/lakecat-bench-region.sqlite), reused when its ``bench_marker`` matches
--files/--datasets/--seed; when region.py's database holds another size this benchmark keeps
its own (``lakecat_bench_search_FILES_DATASETS``, /tmp/lakecat-bench-search-FILES-DATASETS.sqlite),
built by region.py's ``prepare_engine``. A catalogue older than migration 0003 is migrated
first (0003 writes every DID's search document and one outbox row each): the time is printed.
The Elasticsearch side is osmem-server (the in-memory Elasticsearch-compatible server of the
tests, started here from the installed ``osmem_server`` package) through the plain-JSON client
node, as in tests/search/conftest_es.py. The code runs from a copy of catalogue/, indexer/ and
bench/'s helpers taken at the start.

Per engine:

  index       the outbox is reset to one row per live DID of the first --index-docs
              (default 30,000; 0 for all), an empty index is created behind a fresh alias, and
              ``IndexWorker.drain`` sends it all to osmem: docs/s end to end (the issue's goal
              is >= 10,000), split into build_documents, the rest of read_batch (the DID
              columns and summaries the filters need, and the JSON sources), the bulk requests,
              and the outbox reads and deletes.
  relational  ``search_docs.mark_changed`` over the first --relational-docs DIDs, 1,000 per
              transaction (what every write does, and what the relational backend's
              documents cost to rebuild): docs/s, the text reads apart.
  queries     at --repeat random values (after --warmup), taking turns between the backends:
              a  two words of the synthetic records' text + 6 facets + a 1-degree cone
              b  a metadata filter (band=<random band>) + a 3-night time window, sorted by
                 TIME, 20 a page, walked with search_after cursors to page 50: the 50th page
                 and the whole walk are timed
              p50/p95 ms each and the ratio Elasticsearch / relational; hit sets (a) and the
              50th pages (b) are compared between the backends.
  lag         a writer process (--writers connections) does set_metadata on distinct random
              files at --lag-rate writes/s for --lag-seconds, each write giving the file a
              fresh token in its text, while ``IndexWorker.run_forever`` runs in another
              process (as ``lakecat index run`` would, default poll and batch settings); this
              process polls the index every 50 ms for the tokens of every 20th write: seconds
              from the commit to the token being searchable (p50/p95/max), the write rate
              achieved and the worker's throughput. Three of the tokens are then searched
              through the port too. The writes are undone afterwards (the metadata key
              removed, the documents rewritten).

osmem indexes these documents at ~550 docs/s on one core and holds ~70 KB of RSS per
document, so a whole 1M index (~70 GB) does not fit this machine: by default only the first
30,000 DIDs are indexed, and the Elasticsearch figures of the queries are then over that part
(the report says so; totals and hits differ from the relational backend's). A query kind stops
after --budget seconds (at least 3 timed probes): a region query costs osmem ~30 s.

Prints the command line and a table; asserts nothing. --skip index,relational,queries,lag
leaves phases out (queries and lag need the index).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import region
import synthetic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_ENV, OWNER_ENV, TREE_ENV = synthetic.snapshot_vars("search")

GOAL_DOCS_PER_S = 10_000
PAGE = 20
DEEP_PAGE = 50
CONE_RADIUS = 1.0
WINDOW_NIGHTS = 3.0
FIRST_MJD = 61365.05  # the synthetic survey's first night (bench/synthetic.py)
LAG_KEY = "bench_lag"
LAG_POLL = 0.05  # seconds between the index polls of the lag phase
LAG_SAMPLE_EVERY = 20
LAG_TIMEOUT = 120.0  # a token not searchable this long after its commit counts as unseen
CHUNK = 1000  # DIDs per mark_changed transaction

# Words of the synthetic records' searchable text: every file has the first kind (its name,
# collection LSST.calexp, facility Rubin:Simonyi, instrument LSSTCam); the second narrows
# (the band and the tags of the metadata: wfd ~90% of the files, dp1 ~30%, ddf ~10%).
COMMON_WORDS = ("lsstcam", "calexp", "simonyi", "rubin", "tile", "fits")
NARROW_WORDS = ("wfd", "dp1", "ddf", "r", "i", "z", "y", "g", "u")
BANDS = ("u", "g", "r", "i", "z", "y")


# -- running on a copy of the code ---------------------------------------------------------


# -- the catalogue -------------------------------------------------------------------------


async def _revision(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as connection:
            found = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return str(found.scalar())
    except Exception:  # noqa: BLE001 - no schema yet
        return None


async def prepare(
    place: region.Place, admin_url: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    """The catalogue at ``place``, reused (migrated if older) or built by region.py."""
    from catalogue.store.engine import create_engine  # noqa: PLC0415

    if place.engine == "sqlite":
        region.SQLITE_PATH = Path(place.database)
    else:
        region.PG_DATABASE = place.database
    before = None
    if await region.place_exists(place, admin_url):
        probe = create_engine(place.url(admin_url))
        before = await _revision(probe)
        await probe.dispose()
    manifest = region.Manifest(args)
    start = time.perf_counter()
    try:
        engine, marker = await region.prepare_engine(place.engine, admin_url, manifest, args)
    finally:
        manifest.close()
    seconds = time.perf_counter() - start
    after = await _revision(engine)
    await engine.dispose()
    migrated = None
    if before not in (None, after):
        migrated = (before, after, seconds)
        print(
            f"{place.engine}: migrated the catalogue from revision {before} to {after} in "
            f"{seconds:.0f} s ({marker['files'] / seconds:,.0f} files/s; 0003 writes every "
            "DID's search document and outbox row)",
            flush=True,
        )
        if place.engine == "postgresql":
            import tap  # noqa: PLC0415 - its VACUUM ANALYZE of rewritten tables

            await tap._settle(place.url(admin_url))
    return {"marker": marker, "migrated": migrated, "revision": after}


# -- small helpers -------------------------------------------------------------------------


def pct(values: list[float], fraction: float) -> float:
    return synthetic.percentile(values, fraction) if values else float("nan")


class Stopwatch:
    """Seconds spent in named parts, summed."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, part: str, seconds: float) -> None:
        self.seconds[part] = self.seconds.get(part, 0.0) + seconds

    def wrap(self, part: str, function: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        async def timed(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return await function(*a, **k)
            finally:
                self.add(part, time.perf_counter() - start)

        return timed


@contextlib.contextmanager
def patched(module: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def es_settings(url: str, alias: str) -> Any:
    from catalogue.config import Settings  # noqa: PLC0415

    return Settings(
        elasticsearch_url=url,
        elasticsearch_plain_json=True,  # osmem does not take the compatibility media type
        elasticsearch_index=alias,
        elasticsearch_replicas=0,
        elasticsearch_timeout=300.0,
    )


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -- phase 1: indexing ---------------------------------------------------------------------


@dataclass
class Indexing:
    docs: int = 0
    seconds: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    reset_seconds: float = 0.0
    refresh_seconds: float = 0.0
    indexed: int = 0
    osmem_rss: float | None = None


async def reset_outbox(engine: AsyncEngine, limit: int) -> tuple[int, float]:
    """One outbox row per live DID (the first ``limit`` ids when given), nothing else."""
    start = time.perf_counter()
    now = datetime.now(UTC)
    if engine.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    cap = f"LIMIT {int(limit)}" if limit else ""
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM search_outbox"))
        await connection.execute(
            text(
                "INSERT INTO search_outbox (did_id, created_at) SELECT id, :now FROM did "
                f"WHERE deleted_at IS NULL ORDER BY id {cap}"
            ),
            {"now": now},
        )
        count = int((await connection.execute(text("SELECT count(*) FROM search_outbox"))).scalar())
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE search_outbox"))
            await connection.commit()
    return count, time.perf_counter() - start


async def create_empty_index(client: Any, alias: str) -> str:
    """A new index behind the alias, as a finished rebuild leaves it (1 s refresh)."""
    from indexer.mapping import index_mappings, index_settings, new_index_name  # noqa: PLC0415

    name = new_index_name(alias)
    await client.indices.create(
        index=name, settings=index_settings(1, 0), mappings=index_mappings(), aliases={alias: {}}
    )
    return name


async def index_phase(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    client: Any,
    alias: str,
    args: argparse.Namespace,
    osmem_pid: int,
) -> Indexing:
    import indexer.documents as documents_module  # noqa: PLC0415
    import indexer.worker as worker_module  # noqa: PLC0415

    result = Indexing()
    waiting, result.reset_seconds = await reset_outbox(engine, args.index_docs)
    print(
        f"  outbox reset to {waiting:,} rows in {result.reset_seconds:.1f} s; draining ...",
        flush=True,
    )
    await create_empty_index(client, alias)
    watch = Stopwatch()

    class TimedWorker(worker_module.IndexWorker):
        async def _bulk(self, operations: list[dict[str, Any]], *, loading: bool = False) -> None:
            start = time.perf_counter()
            try:
                await super()._bulk(operations, loading=loading)
            finally:
                watch.add("bulk", time.perf_counter() - start)

    worker = TimedWorker(sessions, client, alias, args.batch_size, replicas=0)
    progress_every = max(args.batch_size, 100_000)
    done = 0
    start = time.perf_counter()
    with (
        patched(worker_module, "read_batch", watch.wrap("read_batch", worker_module.read_batch)),
        patched(
            documents_module,
            "build_documents",
            watch.wrap("build_documents", documents_module.build_documents),
        ),
    ):
        while count := await worker.run_once():
            done += count
            if done % progress_every < count:
                elapsed = time.perf_counter() - start
                print(f"  {done:,} docs in {elapsed:.0f} s ({done / elapsed:,.0f}/s)", flush=True)
    result.seconds = time.perf_counter() - start
    result.docs = done
    result.parts = dict(watch.seconds)
    start = time.perf_counter()
    await client.indices.refresh(index=alias)
    result.refresh_seconds = time.perf_counter() - start
    result.indexed = int((await client.count(index=alias)).body["count"])
    result.osmem_rss = rss_mib(osmem_pid)
    return result


@dataclass
class Relational:
    docs: int = 0
    seconds: float = 0.0
    text_seconds: float = 0.0


async def relational_phase(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], count: int
) -> Relational:
    """mark_changed over the first ``count`` DIDs, CHUNK per transaction."""
    from catalogue.store import search_docs  # noqa: PLC0415

    async with engine.connect() as connection:
        ids = [
            int(i)
            for i in (
                await connection.execute(
                    text(f"SELECT id FROM did WHERE deleted_at IS NULL ORDER BY id LIMIT {count}")
                )
            ).scalars()
        ]
    watch = Stopwatch()
    start = time.perf_counter()
    with patched(search_docs, "document_texts", watch.wrap("texts", search_docs.document_texts)):
        for at in range(0, len(ids), CHUNK):
            async with sessions.begin() as session:
                await search_docs.mark_changed(session, ids[at : at + CHUNK])
    seconds = time.perf_counter() - start
    return Relational(len(ids), seconds, watch.seconds.get("texts", 0.0))


# -- phase 2: queries ----------------------------------------------------------------------


@dataclass
class Probe:
    label: str
    query: Any  # SearchQuery


def make_probes(args: argparse.Namespace, nights: float) -> tuple[list[Probe], list[Probe]]:
    from catalogue.filters import parse_rucio_filter  # noqa: PLC0415
    from catalogue.query import RegionFilter  # noqa: PLC0415
    from catalogue.region import Circle  # noqa: PLC0415
    from catalogue.search import SearchFacet, SearchQuery, SearchSort, TextQuery  # noqa: PLC0415

    facets = (
        SearchFacet.COLLECTION,
        SearchFacet.FACILITY,
        SearchFacet.INSTRUMENT,
        SearchFacet.BAND,
        SearchFacet.RSE,
        SearchFacet.TYPE,
    )
    rng = random.Random(args.seed + 2000)
    a: list[Probe] = []
    b: list[Probe] = []
    for _ in range(args.warmup + args.repeat):
        ra, dec = synthetic.random_position(rng)
        words = f"{rng.choice(COMMON_WORDS)} {rng.choice(NARROW_WORDS)}"
        cone = RegionFilter.from_shape(Circle(ra, dec, CONE_RADIUS), region.ORDER)
        query = SearchQuery(text=TextQuery.parse(words), region=cone, facets=facets, limit=PAGE)
        a.append(Probe(f"{words!r} @ ({ra:.2f}, {dec:.2f})", query))
        band = rng.choice(BANDS)
        t0 = FIRST_MJD - 0.05 + rng.uniform(0.0, max(0.0, nights - WINDOW_NIGHTS))
        window = (round(t0, 4), round(t0 + WINDOW_NIGHTS, 4))
        query = SearchQuery(
            filter=parse_rucio_filter(f"band={band}"),
            time=window,
            sort=SearchSort.TIME,
            limit=PAGE,
        )
        b.append(Probe(f"band={band} t={window}", query))
    return a, b


@dataclass
class Timings:
    ms: list[float] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    walk_ms: list[float] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)  # pages a walk reached
    hits: list[list[int]] = field(default_factory=list)


async def time_a(backend: Any, probe: Probe, out: Timings | None) -> None:
    start = time.perf_counter()
    result = await backend.search(probe.query)
    ms = (time.perf_counter() - start) * 1000
    if out is not None:
        out.ms.append(ms)
        out.totals.append(result.total)
        out.hits.append(sorted(h.did_id for h in result.hits))


async def time_b(backend: Any, probe: Probe, out: Timings | None) -> None:
    """Walk to page DEEP_PAGE following cursors: the last page's time and the walk's."""
    query = probe.query
    walk = 0.0
    last_ms = float("nan")
    pages = 0
    result = None
    for _ in range(DEEP_PAGE):
        start = time.perf_counter()
        result = await backend.search(query)
        last_ms = (time.perf_counter() - start) * 1000
        walk += last_ms
        pages += 1
        if result.next_cursor is None:
            break
        query = replace(query, after=result.next_cursor)
    if out is not None and result is not None:
        if pages == DEEP_PAGE:
            out.ms.append(last_ms)
        out.walk_ms.append(walk)
        out.pages.append(pages)
        out.totals.append(result.total)
        out.hits.append([h.did_id for h in result.hits])


async def query_phase(
    backends: dict[str, Any], probes: dict[str, list[Probe]], args: argparse.Namespace
) -> dict[str, dict[str, Timings]]:
    runners = {"a": time_a, "b": time_b}
    out: dict[str, dict[str, Timings]] = {k: {n: Timings() for n in backends} for k in probes}
    names = list(backends)
    for kind, items in probes.items():
        start = time.perf_counter()
        for i, probe in enumerate(items):
            timed = i - args.warmup
            if timed >= 3 and time.perf_counter() - start > args.budget:
                print(f"  query {kind}: budget spent after {timed} timed probes", flush=True)
                break
            order = names if i % 2 == 0 else names[::-1]  # taking turns
            for name in order:
                target = out[kind][name] if i >= args.warmup else None
                await runners[kind](backends[name], probe, target)
        spent = ", ".join(
            f"{n} {sum(out[kind][n].walk_ms or out[kind][n].ms) / 1000:.1f} s" for n in names
        )
        print(
            f"  query {kind}: {len(items)} probes in {time.perf_counter() - start:.0f} s "
            f"(timed ones: {spent})",
            flush=True,
        )
    return out


# -- phase 3: outbox lag -------------------------------------------------------------------


async def lag_writer(args: argparse.Namespace) -> None:
    """Child: set_metadata on distinct random files at the asked rate; report samples."""
    from catalogue.models import DIDKey  # noqa: PLC0415
    from catalogue.service import Catalogue  # noqa: PLC0415
    from catalogue.store.engine import create_engine, create_sessions  # noqa: PLC0415

    engine = create_engine(args.url)
    total = int(args.lag_rate * args.lag_seconds)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    f"SELECT scope, name FROM did WHERE did_type = 'FILE' AND deleted_at IS NULL "
                    f"ORDER BY random() LIMIT {total}"
                )
            )
        ).all()
    keys = [DIDKey(r.scope, r.name) for r in rows]
    catalogue = Catalogue(create_sessions(engine))
    run = uuid.uuid4().hex[:6]
    print(json.dumps({"ready": len(keys)}), flush=True)
    next_index = 0
    start = time.perf_counter()
    done = 0
    errors = 0

    async def one() -> None:
        nonlocal next_index, done, errors
        while True:
            i = next_index
            if i >= len(keys) or time.perf_counter() - start > args.lag_seconds:
                return
            next_index += 1
            due = start + i / args.lag_rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            token = f"lag{run}x{i:07d}"
            try:
                await catalogue.set_metadata(keys[i], {LAG_KEY: token})
            except Exception as exc:  # noqa: BLE001 - report and go on
                errors += 1
                if errors <= 3:
                    print(json.dumps({"error": repr(exc)[:300]}), flush=True)
                continue
            done += 1
            if i % LAG_SAMPLE_EVERY == 0:
                print(json.dumps({"token": token, "t": time.time()}), flush=True)

    await asyncio.gather(*(one() for _ in range(args.writers)))
    seconds = time.perf_counter() - start
    print(json.dumps({"done": done, "errors": errors, "seconds": seconds}), flush=True)
    await engine.dispose()


async def lag_worker(args: argparse.Namespace) -> None:
    """Child: IndexWorker.run_forever with the default poll and batch, until stdin closes."""
    from catalogue.store.engine import create_engine, create_sessions  # noqa: PLC0415
    from indexer.client import create_client  # noqa: PLC0415
    from indexer.worker import IndexWorker  # noqa: PLC0415

    engine = create_engine(args.url)
    settings = es_settings(args.es_url, args.alias)
    client = create_client(settings)
    sessions = create_sessions(engine)
    worker = IndexWorker.from_settings(settings, sessions, client)
    done = 0
    original = worker.run_once

    async def counted() -> int:
        nonlocal done
        count = await original()
        done += count
        return count

    worker.run_once = counted  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), stop.set)  # the parent closes our stdin to stop us

    async def report() -> None:
        while not stop.is_set():
            print(json.dumps({"t": time.time(), "done": done}), flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    await asyncio.gather(worker.run_forever(stop), report())
    print(json.dumps({"t": time.time(), "done": done, "final": True}), flush=True)
    await client.close()
    await engine.dispose()


@dataclass
class Lag:
    target_rate: float = 0.0
    writes: int = 0
    write_seconds: float = 0.0
    errors: int = 0
    lags: list[float] = field(default_factory=list)
    unseen: int = 0
    samples: int = 0
    worker_rate: float = 0.0
    max_behind: int = 0  # writes committed minus outbox rows indexed, at most
    checked: str = ""
    poll_ms: list[float] = field(default_factory=list)
    poll_interval: float = 0.0
    batch_size: int = 0


def _child(*options: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *options]


async def lag_phase(
    url: str,
    es_url: str,
    client: Any,
    backend: Any,
    alias: str,
    args: argparse.Namespace,
) -> Lag:
    from catalogue.config import Settings  # noqa: PLC0415
    from catalogue.search import SearchQuery, TextQuery  # noqa: PLC0415

    defaults = Settings()
    result = Lag(target_rate=args.lag_rate, batch_size=defaults.elasticsearch_batch_size)
    result.poll_interval = 1.0  # IndexWorker's default, which from_settings keeps
    common = [f"--url={url}", f"--lag-rate={args.lag_rate}", f"--lag-seconds={args.lag_seconds}"]
    worker = await asyncio.create_subprocess_exec(
        *_child("--lag-worker", *common, f"--es-url={es_url}", f"--alias={alias}"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    writer = await asyncio.create_subprocess_exec(
        *_child("--lag-writer", *common, f"--writers={args.writers}"),
        stdout=asyncio.subprocess.PIPE,
    )
    pending: dict[str, float] = {}
    seen_tokens: list[str] = []
    indexed: list[tuple[float, int]] = []
    writer_done = asyncio.Event()
    committed = 0
    assert writer.stdout is not None and worker.stdout is not None

    async def read_writer() -> None:
        nonlocal committed
        assert writer.stdout is not None
        async for line in writer.stdout:
            message = json.loads(line)
            if "token" in message:
                pending[message["token"]] = message["t"]
                result.samples += 1
                committed += LAG_SAMPLE_EVERY
            elif "ready" in message:
                print(f"  writer ready: {message['ready']:,} distinct files to write", flush=True)
            elif "done" in message:
                result.writes = message["done"]
                result.errors = message["errors"]
                result.write_seconds = message["seconds"]
            elif "error" in message:
                print(f"  writer error: {message['error']}", flush=True)
        writer_done.set()

    async def read_worker() -> None:
        assert worker.stdout is not None
        async for line in worker.stdout:
            message = json.loads(line)
            indexed.append((message["t"], message["done"]))
            result.max_behind = max(result.max_behind, committed - message["done"])

    async def poll() -> None:
        while not (writer_done.is_set() and not pending):
            if pending:
                tokens = list(pending)
                start = time.perf_counter()
                response = await client.search(
                    index=alias,
                    query={"terms": {"text": tokens}},
                    size=len(tokens),
                    _source=["m_s"],
                )
                now = time.time()
                result.poll_ms.append((time.perf_counter() - start) * 1000)
                for hit in response.body["hits"]["hits"]:
                    token = hit["_source"].get("m_s", {}).get(LAG_KEY)
                    if token in pending:
                        result.lags.append(now - pending.pop(token))
                        seen_tokens.append(token)
                for token, at in list(pending.items()):
                    if now - at > LAG_TIMEOUT:
                        del pending[token]
                        result.unseen += 1
            await asyncio.sleep(LAG_POLL)

    reading = asyncio.create_task(read_worker())
    await asyncio.gather(read_writer(), poll())
    await writer.wait()
    assert worker.stdin is not None
    worker.stdin.close()
    await worker.wait()
    await reading
    if len(indexed) >= 2:
        busy = [(t, d) for t, d in indexed if d > 0]
        if len(busy) >= 2:
            (t0, d0), (t1, d1) = busy[0], busy[-1]
            result.worker_rate = (d1 - d0) / max(t1 - t0, 1e-9)
    found = 0
    for token in seen_tokens[:3]:  # the same tokens through the port
        page = await backend.search(SearchQuery(text=TextQuery.parse(token)))
        found += len(page.hits) == 1
    result.checked = f"{found}/{min(3, len(seen_tokens))}"
    return result


async def undo_lag_writes(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Remove the lag phase's metadata key and rewrite those DIDs' documents."""
    from catalogue.store import search_docs  # noqa: PLC0415

    async with engine.connect() as connection:
        ids = [
            int(i)
            for i in (
                await connection.execute(
                    text("SELECT DISTINCT did_id FROM did_meta WHERE key = :k"), {"k": LAG_KEY}
                )
            ).scalars()
        ]
    for at in range(0, len(ids), CHUNK):
        chunk = ids[at : at + CHUNK]
        async with sessions.begin() as session:
            await session.execute(
                text(
                    f"DELETE FROM did_meta WHERE key = :k AND did_id IN ({','.join(map(str, chunk))})"
                ),
                {"k": LAG_KEY},
            )
            await search_docs.mark_changed(session, chunk)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM search_outbox"))  # the index is thrown away
    return len(ids)


# -- one engine ----------------------------------------------------------------------------


@dataclass
class EngineResult:
    name: str
    place: region.Place
    prepared: dict[str, Any]
    sizes: dict[str, int]
    indexing: Indexing | None = None
    relational: Relational | None = None
    queries: dict[str, dict[str, Timings]] | None = None
    lag: Lag | None = None


async def run_engine(
    name: str, admin_url: str | None, es_url: str, osmem_pid: int, args: argparse.Namespace
) -> EngineResult:
    from catalogue.store.engine import create_engine, create_sessions  # noqa: PLC0415
    from catalogue.store.search_sql import RelationalSearch  # noqa: PLC0415
    from indexer.backend import ElasticsearchSearch  # noqa: PLC0415
    from indexer.client import create_client  # noqa: PLC0415

    place = await region.choose_place(name, admin_url, args, own="search")
    where = "region.py's" if place.shared else "this benchmark's own"
    print(f"{name}: {where} catalogue in {place.database}", flush=True)
    prepared = await prepare(place, admin_url, args)
    url = place.url(admin_url)
    engine = create_engine(url)
    sessions = create_sessions(engine)
    async with engine.connect() as connection:
        sizes = {
            label: int((await connection.execute(text(sql))).scalar_one())
            for label, sql in (
                ("dids", "SELECT count(*) FROM did WHERE deleted_at IS NULL"),
                ("files", "SELECT count(*) FROM did WHERE did_type = 'FILE'"),
                ("documents", "SELECT count(*) FROM search_document"),
                ("outbox", "SELECT count(*) FROM search_outbox"),
            )
        }
    print(f"{name}: {sizes}", flush=True)
    result = EngineResult(name, place, prepared, sizes)
    alias = f"lakecat-bench-{name}-{uuid.uuid4().hex[:8]}"
    client = create_client(es_settings(es_url, alias))
    try:
        if "relational" not in args.skip and args.relational_docs:
            print(f"{name}: relational documents, mark_changed ...", flush=True)
            result.relational = await relational_phase(engine, sessions, args.relational_docs)
        if "index" not in args.skip:
            print(f"{name}: indexing into osmem ...", flush=True)
            result.indexing = await index_phase(engine, sessions, client, alias, args, osmem_pid)
        else:
            await create_empty_index(client, alias)
        backends = {
            "elasticsearch": ElasticsearchSearch(client, sessions, alias),
            "relational": RelationalSearch(sessions),
        }
        if "queries" not in args.skip:
            nights = max(1.0, args.datasets / 800)
            a, b = make_probes(args, nights)
            print(f"{name}: queries ...", flush=True)
            result.queries = await query_phase(backends, {"a": a, "b": b}, args)
        if "lag" not in args.skip and args.lag_seconds > 0:
            async with engine.begin() as connection:  # a partial index leaves rows waiting
                await connection.execute(text("DELETE FROM search_outbox"))
            print(
                f"{name}: outbox lag, {args.lag_rate:.0f} writes/s for {args.lag_seconds:.0f} s ...",
                flush=True,
            )
            try:
                result.lag = await lag_phase(
                    url, es_url, client, backends["elasticsearch"], alias, args
                )
            finally:
                undone = await undo_lag_writes(engine, sessions)
                print(f"  undid the lag writes on {undone:,} DIDs", flush=True)
    finally:
        await client.options(ignore_status=404).indices.delete(
            index=f"{alias}-*", expand_wildcards="all"
        )
        await client.close()
        await engine.dispose()
    return result


# -- the report ----------------------------------------------------------------------------


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b and not math.isnan(a) and not math.isnan(b) else "-"


def report(args: argparse.Namespace, results: list[EngineResult]) -> None:
    print()
    print(f"command: python bench/search.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"{args.repeat} probes per query (after {args.warmup} warm-up), page of {PAGE}; "
        f"Elasticsearch = osmem-server (in memory, one process); 2-word text + 6 facets + "
        f"{CONE_RADIUS:g} deg cone (a); band filter + {WINDOW_NIGHTS:g}-night window, TIME "
        f"sort, page {DEEP_PAGE} (b)"
    )
    for r in results:
        marker = r.prepared["marker"]
        print()
        print(
            f"== {r.name}: {marker['files']:,} files / {marker['datasets']:,} datasets "
            f"({r.sizes['dids']:,} DIDs) in {r.place.database}, revision "
            f"{r.prepared['revision']}"
        )
        if r.prepared["migrated"]:
            before, after, seconds = r.prepared["migrated"]
            print(
                f"migration {before} -> {after}: {seconds:.0f} s "
                f"({r.sizes['dids'] / seconds:,.0f} DIDs/s of documents + outbox backfill)"
            )
        ix = r.indexing
        if ix is not None:
            rate = ix.docs / ix.seconds if ix.seconds else 0.0
            parts = ix.parts
            read = parts.get("read_batch", 0.0)
            build = parts.get("build_documents", 0.0)
            bulk = parts.get("bulk", 0.0)
            rest = ix.seconds - read - bulk
            print(
                f"index via outbox -> osmem: {ix.docs:,} docs in {ix.seconds:.1f} s = "
                f"{rate:,.0f} docs/s (goal {GOAL_DOCS_PER_S:,}: {rate / GOAL_DOCS_PER_S:.2f} of "
                f"it), batch {args.batch_size}; {ix.indexed:,} in the index after refresh "
                f"({ix.refresh_seconds:.1f} s); osmem RSS "
                + (f"{ix.osmem_rss:,.0f} MiB" if ix.osmem_rss else "?")
            )
            for label, seconds in (
                ("build_documents (store reads + SearchDocument)", build),
                ("rest of read_batch (DID columns, summaries, JSON sources)", read - build),
                ("bulk requests (serialise, send, osmem indexes)", bulk),
                ("outbox reads + deletes, alias checks", rest),
            ):
                share = seconds / ix.seconds if ix.seconds else 0.0
                alone = ix.docs / seconds if seconds else float("inf")
                print(
                    f"  {label:<58} {seconds:>8.1f} s {share:>6.0%}  {alone:>10,.0f} docs/s alone"
                )
        rel = r.relational
        if rel is not None:
            print(
                f"relational documents, mark_changed x {rel.docs:,} DIDs ({CHUNK} a transaction): "
                f"{rel.seconds:.1f} s = {rel.docs / rel.seconds:,.0f} docs/s (text reads "
                f"{rel.text_seconds:.1f} s = {rel.text_seconds / rel.seconds:.0%}; outbox and "
                "document writes the rest)"
            )
        if r.queries:
            print()
            if r.indexing is not None and r.indexing.indexed < r.sizes["dids"]:
                print(
                    f"NOTE: the index holds {r.indexing.indexed:,} of {r.sizes['dids']:,} DIDs "
                    "(--index-docs): Elasticsearch answers over that part only, so its totals "
                    "and hits differ from the relational backend's"
                )
            print(
                f"{'query':<34} {'ES p50':>8} {'ES p95':>8} {'rel p50':>8} {'rel p95':>8} "
                f"{'ES/rel p50':>10} {'p95':>6} {'mean total':>10} {'agree':>7}"
            )
            rows = [
                ("a  2 words + 6 facets + 1° cone", "a", "ms"),
                (f"b  page {DEEP_PAGE} (filter + time, TIME)", "b", "ms"),
                (f"b  walk of {DEEP_PAGE} pages", "b", "walk_ms"),
            ]
            for label, kind, attr in rows:
                es = r.queries[kind]["elasticsearch"]
                rl = r.queries[kind]["relational"]
                ev, rv = getattr(es, attr), getattr(rl, attr)
                agree = sum(x == y for x, y in zip(es.hits, rl.hits, strict=False))
                totals = sum(x == y for x, y in zip(es.totals, rl.totals, strict=False))
                same = f"{min(agree, totals)}/{len(es.hits)}"
                mean_total = sum(rl.totals) / len(rl.totals) if rl.totals else 0.0
                print(
                    f"{label:<34} {pct(ev, 0.5):>8.1f} {pct(ev, 0.95):>8.1f} "
                    f"{pct(rv, 0.5):>8.1f} {pct(rv, 0.95):>8.1f} "
                    f"{_ratio(pct(ev, 0.5), pct(rv, 0.5)):>10} "
                    f"{_ratio(pct(ev, 0.95), pct(rv, 0.95)):>6} {mean_total:>10.1f} {same:>7}"
                )
            b_es = r.queries["b"]["elasticsearch"]
            short = sum(p < DEEP_PAGE for p in b_es.pages)
            if short:
                print(f"  ({short} of the b walks ended before page {DEEP_PAGE}: too few hits)")
            print(
                "  agree: totals equal and the same hits (a: the page's set, relevance orders "
                "differ between backends; b: page 50 in order)"
            )
        lag = r.lag
        if lag is not None:
            achieved = lag.writes / lag.write_seconds if lag.write_seconds else 0.0
            print()
            print(
                f"outbox lag: {lag.writes:,} set_metadata writes in {lag.write_seconds:.1f} s = "
                f"{achieved:,.0f} writes/s (target {lag.target_rate:,.0f}, {args.writers} "
                f"connections; {lag.errors} errors); worker (own process, poll "
                f"{lag.poll_interval:g} s, batch {lag.batch_size}) indexed {lag.worker_rate:,.0f} "
                f"rows/s; at most ~{max(lag.max_behind, 0):,} writes waiting"
            )
            print(
                f"  commit -> searchable, {len(lag.lags)} of {lag.samples} sampled writes: "
                f"p50 {pct(lag.lags, 0.5):.2f} s, p95 {pct(lag.lags, 0.95):.2f} s, max "
                f"{max(lag.lags, default=float('nan')):.2f} s; not seen within "
                f"{LAG_TIMEOUT:.0f} s: {lag.unseen}; index poll every {LAG_POLL * 1000:.0f} ms "
                f"(p50 {pct(lag.poll_ms, 0.5):.1f} ms a poll); found through the port: "
                f"{lag.checked}"
            )


# -- main ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, admin_url: str | None) -> None:
    from osmem_server import OsmemServer  # noqa: PLC0415

    server = OsmemServer.start()
    print(f"osmem-server {server.version} at {server.url} (pid {server.pid})", flush=True)
    results: list[EngineResult] = []
    try:
        for name in args.engines:
            result = await run_engine(name, admin_url, server.url, server.pid, args)
            results.append(result)
    finally:
        server.close()
    report(args, results)


def main() -> None:
    synthetic.reexec_on_snapshot(
        "search", ("catalogue", "indexer"), ("synthetic.py", "region.py", "tap.py")
    )
    synthetic.PG_CLUSTER = Path(os.environ.get(TREE_ENV, str(ROOT))) / "scripts" / "pg-cluster"
    import catalogue  # noqa: PLC0415
    import indexer  # noqa: PLC0415

    snapshot = os.environ[SNAPSHOT_ENV]
    for package in (catalogue, indexer):
        if not package.__file__ or not package.__file__.startswith(snapshot):
            raise SystemExit(
                f"not running on the snapshot: {package.__name__} is {package.__file__}"
            )
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--engines", default="postgresql")
    parser.add_argument("--batch-size", type=int, default=1000, help="outbox rows per bulk")
    parser.add_argument(
        "--index-docs",
        type=int,
        default=30_000,
        help="index the first N DIDs (0: all; osmem holds ~70 KB of RSS a document)",
    )
    parser.add_argument("--relational-docs", type=int, default=50_000)
    parser.add_argument(
        "--budget", type=float, default=300.0, help="seconds per query kind (at least 3 timed)"
    )
    parser.add_argument("--lag-seconds", type=float, default=30.0)
    parser.add_argument("--lag-rate", type=float, default=1000.0, help="writes/s")
    parser.add_argument("--writers", type=int, default=8, help="the writer's connections")
    parser.add_argument("--skip", default="", help="phases to leave out: index,relational,...")
    parser.add_argument("--seed", type=int, default=7, help="region.py's default")
    parser.add_argument("--rebuild", action="store_true", help="rebuild region.py's catalogue")
    parser.add_argument("--sqlite-analyze", action="store_true")
    parser.add_argument("--pg-set", action="append", default=None, metavar="NAME=VALUE")
    parser.add_argument("--lag-writer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lag-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--es-url", help=argparse.SUPPRESS)
    parser.add_argument("--alias", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lag_writer:
        asyncio.run(lag_writer(args))
        return
    if args.lag_worker:
        asyncio.run(lag_worker(args))
        return
    if args.pg_set is None:
        args.pg_set = ["plan_cache_mode=force_custom_plan"]  # what region.py builds with
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if set(args.engines) - {"postgresql", "sqlite"}:
        parser.error("engines are postgresql and sqlite")
    if args.skip - {"index", "relational", "queries", "lag"}:
        parser.error("phases are index, relational, queries and lag")
    if args.datasets <= 0 or args.files < args.datasets:
        parser.error("need at least one file per dataset")
    print(f"command: python bench/search.py {' '.join(sys.argv[1:])}".rstrip(), flush=True)
    if "postgresql" in args.engines:
        with synthetic.pg_server(region.PG_DIR) as admin_url:
            asyncio.run(run(args, admin_url))
    else:
        asyncio.run(run(args, None))


if __name__ == "__main__":
    sys.exit(main())
