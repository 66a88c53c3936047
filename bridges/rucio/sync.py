"""``lakecat rucio sync``: keep the catalogue in step with a Rucio server (docs/rucio.md).

A run reads the RSEs, then each followed scope in four phases, each resumable:

``dids``
    The DIDs to read — every DID on a full run; on an incremental one those created since the
    last run (``created_after``) and those whose JSON metadata changed (``updated_at.gte``,
    which Rucio answers from its JSON plugin) — in name order, a chunk per transaction (three
    requests per chunk, :mod:`bridges.rucio.reading`); the next chunk is read while one is
    written. The checkpoint is the chunk's last name.
``content``
    Attachments: a full run lists the content of every collection and makes lakecat's the
    same (attaching and detaching); an incremental one asks the parents of each new DID and
    the content of each new collection, and only attaches.
``replicas``
    Incremental runs only: ``list_replicas(updated_after)`` over the scope's top collections
    and lone files, in batches; each replica listed is applied.
``removals``
    The scope's DID names (one streamed listing) against lakecat's: a DID Rucio no longer has
    is deleted; a DID only lakecat has in the scope is reported as a conflict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bridges.rucio.client import RucioClient, RucioError, filter_date
from bridges.rucio.mapping import ObsCoreMapping
from bridges.rucio.reading import DIDReader, did_type, read_rses, replicas_of
from catalogue.models import LOCAL_OPERATOR, Caller, DIDKey, DIDType
from catalogue.rucio import RucioDID, SyncMode, SyncProblem, SyncRun
from catalogue.service import Catalogue
from catalogue.syncing import RucioSync

PHASES = ("dids", "content", "replicas", "removals", "done")
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """What to follow and how: scopes (none: all), full or incremental, sizes."""

    scopes: Sequence[str] = ()
    full: bool = False
    resume: bool = True
    chunk_size: int = 1000
    collections_per_step: int = 200
    concurrency: int = 4
    margin: timedelta = timedelta(seconds=60)
    mapping: ObsCoreMapping = field(default_factory=ObsCoreMapping)


@dataclass(slots=True)
class Listing:
    """A scope's DIDs as Rucio lists them: name -> type, and those to read in this run."""

    alive: dict[str, DIDType]
    wanted: list[str]


async def run_sync(
    catalogue: Catalogue,
    client: RucioClient,
    options: SyncOptions,
    *,
    caller: Caller = LOCAL_OPERATOR,
    progress: Progress | None = None,
) -> SyncRun:
    """One recorded run; a failure of Rucio ends it FAILED and resumable."""
    server_time = await client.server_time()
    run = await catalogue.start_rucio_sync(
        url=client.url,
        account=client.account,
        scopes=sorted(options.scopes),
        full=options.full,
        resume=options.resume,
        server_time=server_time,
        margin=options.margin,
        caller=caller,
    )
    try:
        await client.authenticate()
        scopes = await _scopes(client, options.scopes)
        await run.add_rses(await read_rses(client))
        await run.add_scopes(scopes)
        # Phase by phase across the scopes: a collection may hold another scope's DIDs.
        syncs = [ScopeSync(run, client, scope, options, progress) for scope in scopes]
        for index in range(len(PHASES) - 1):
            for scope_sync in syncs:
                await scope_sync.step(index)
    except RucioError as exc:
        return await run.fail(str(exc))
    except Exception as exc:
        await run.fail(f"{type(exc).__name__}: {exc}")
        raise
    return await run.finish()


async def _scopes(client: RucioClient, wanted: Sequence[str]) -> list[str]:
    known = set(await client.scopes())
    missing = sorted(set(wanted) - known)
    if missing:
        raise RucioError(f"{client.url}: no scope {', '.join(missing)} in Rucio")
    return sorted(wanted) if wanted else sorted(known)


class ScopeSync:
    """The phases of one scope in one run."""

    def __init__(
        self,
        run: RucioSync,
        client: RucioClient,
        scope: str,
        options: SyncOptions,
        progress: Progress | None,
    ) -> None:
        self._run = run
        self._client = client
        self._scope = scope
        self._options = options
        self._progress = progress
        self._reader = DIDReader(client, options.mapping)
        self._limit = asyncio.Semaphore(options.concurrency)
        state = run.checkpoint.get(scope) or {"phase": "dids", "after": None}
        self._phase = PHASES.index(state["phase"])
        self._after: str | None = state["after"]
        self._incremental = run.mode is SyncMode.INCREMENTAL and run.since is not None
        self._listing: Listing | None = None

    async def step(self, index: int) -> None:
        """Run phase ``index`` unless the checkpoint says it is done."""
        if index < self._phase:
            return
        if self._listing is None:
            self._listing = await self._list()
        steps = (self._dids, self._content, self._replicas, self._removals)
        await steps[index](self._listing)
        await self._run.mark_done(self._scope, PHASES[index + 1])
        self._phase = index + 1

    async def _list(self) -> Listing:
        alive = {
            str(d["name"]): did_type(str(d["did_type"]))
            async for d in self._client.dids(self._scope)
        }
        if not self._incremental:
            return Listing(alive, sorted(alive))
        since = filter_date(self._run.since)  # type: ignore[arg-type]
        wanted: set[str] = set()
        for filters in ({"created_after": since}, {"updated_at.gte": since}):
            wanted.update(
                [str(d["name"]) async for d in self._client.dids(self._scope, filters=filters)]
            )
        return Listing(alive, sorted(n for n in wanted if n in alive))

    async def _dids(self, listing: Listing) -> None:
        after = self._after if self._phase == 0 else None
        names = [n for n in listing.wanted if after is None or n > after]
        chunks = [
            names[i : i + self._options.chunk_size]
            for i in range(0, len(names), self._options.chunk_size)
        ]
        pending = asyncio.create_task(self._read(chunks[0], listing)) if chunks else None
        for index, chunk in enumerate(chunks):
            assert pending is not None  # noqa: S101 - one task per chunk
            items = await pending
            following = chunks[index + 1] if index + 1 < len(chunks) else None
            pending = asyncio.create_task(self._read(following, listing)) if following else None
            await self._run.add_dids(items, scope=self._scope, phase="dids", after=chunk[-1])
            if self._progress is not None:
                self._progress(len(chunk))

    async def _read(self, names: Sequence[str], listing: Listing) -> list[RucioDID | SyncProblem]:
        keys = [(DIDKey(self._scope, n), listing.alive[n]) for n in names]
        return await self._reader.read(keys)

    async def _content(self, listing: Listing) -> None:
        collections = [n for n in listing.wanted if listing.alive[n] is not DIDType.FILE]
        if not self._incremental:
            await self._contents(collections, exact=True)
            return
        await self._contents(collections, exact=True)  # new ones, and changed metadata
        parents: dict[DIDKey, list[DIDKey]] = {}
        found = await asyncio.gather(*(self._parents(n) for n in listing.wanted))
        for name, above in zip(listing.wanted, found, strict=True):
            for parent in above:
                parents.setdefault(parent, []).append(DIDKey(self._scope, name))
        await self._run.set_contents(parents, exact=False)

    async def _parents(self, name: str) -> list[DIDKey]:
        async with self._limit:
            found = await self._client.parents(self._scope, name)
        return [DIDKey(str(p["scope"]), str(p["name"])) for p in found]

    async def _members(self, name: str) -> tuple[DIDKey, list[DIDKey]]:
        async with self._limit:
            found = await self._client.content(self._scope, name)
        return DIDKey(self._scope, name), [DIDKey(str(c["scope"]), str(c["name"])) for c in found]

    async def _contents(self, names: Sequence[str], *, exact: bool) -> None:
        step = self._options.collections_per_step
        for start in range(0, len(names), step):
            found = await asyncio.gather(*(self._members(n) for n in names[start : start + step]))
            await self._run.set_contents(dict(found), exact=exact)

    async def _replicas(self, _listing: Listing) -> None:
        if not self._incremental:
            return
        roots = await self._run.roots(self._scope)
        step = max(1, self._options.collections_per_step // 2)
        for start in range(0, len(roots), step):
            refs = [{"scope": k.scope, "name": k.name} for k in roots[start : start + step]]
            changed = await self._client.replicas(refs, updated_after=self._run.since)
            updates = [(DIDKey(str(e["scope"]), str(e["name"])), replicas_of(e)) for e in changed]
            if updates:
                await self._run.update_replicas(updates)

    async def _removals(self, listing: Listing) -> None:
        await self._run.remove_missing(self._scope, set(listing.alive))
