"""What a Rucio sync writes, step by step, in the caller's transaction (catalogue/syncing.py).

New files go through the bulk registration path (``store/files.py``): the same checks,
characterisation, coverage and replicas as an ingest. A DID lakecat already has is compared
with Rucio's: the same identity with other checksums, another type or a tombstone is a
conflict, reported and left; otherwise its replicas on Rucio's RSEs, its open state, its
metadata (the keys a sync wrote; lakecat's own keys stay) and its mapped characterisation
follow Rucio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.errors import CatalogueError
from catalogue.ingest import Candidate, Rejected, prepare
from catalogue.models import DIDKey, DIDType, FileSpec, ReplicaSpec, check_metadata
from catalogue.rucio import RucioDID, RucioReplica, SyncCounts, SyncProblem
from catalogue.store import dids, files, harvest, rses, search_docs
from catalogue.store import rucio as store
from catalogue.store import tables as t
from catalogue.store.bulk import insert_rows
from catalogue.store.extents import parents_of, recompute_upward
from catalogue.store.files import Details, PreparedFile, ensure_scopes, find_dids, insert_details
from catalogue.store.rows import meta_rows

_MEMBERS = {
    DIDType.FILE: frozenset[DIDType](),
    DIDType.DATASET: frozenset({DIDType.FILE}),
    DIDType.CONTAINER: frozenset({DIDType.DATASET, DIDType.CONTAINER}),
}


class EventKind(StrEnum):
    """Rucio messages a listener applies (the others need no change here)."""

    ATTACH = "attach"  # REGISTER_CNT: a collection attached to a container
    DETACH = "detach"
    CLOSE = "close"
    OPEN = "open"
    ERASE = "erase"


@dataclass(frozen=True, slots=True)
class Event:
    """One message: what happened to which DID (and which member, for attach and detach)."""

    kind: EventKind
    key: DIDKey
    child: DIDKey | None = None


@dataclass(slots=True)
class StepResult:
    """What a step did, what it could not do, and the DIDs whose documents changed."""

    counts: SyncCounts = field(default_factory=SyncCounts)
    problems: list[SyncProblem] = field(default_factory=list)
    changed: set[int] = field(default_factory=set)

    def refuse(self, where: str, reason: str, *, conflict: bool = False) -> None:
        """Count and report one thing not taken."""
        self.problems.append(SyncProblem(where, reason, conflict))
        if conflict:
            self.counts.conflicts += 1
        else:
            self.counts.failed += 1


def _added(
    did_id: int,
    did: RucioDID,
    out: StepResult,
    records: list[tuple[int, str, Sequence[str]]],
    fresh: set[int],
) -> None:
    """Book a DID the step created: counted, recorded as synced, indexed."""
    out.counts.added += 1
    records.append((did_id, did.digest(), list(did.metadata)))
    fresh.add(did_id)
    out.changed.add(did_id)


def _conflict(did: RucioDID, known: store.Known) -> str | None:
    if known.deleted:
        return "deleted in lakecat; a DID name is never reused, so Rucio's is not followed"
    if known.type is not did.type:
        return f"a {known.type} in lakecat, a {did.type} in Rucio"
    differing = [
        f"{name} {getattr(known, name)} in lakecat, {getattr(did, name)} in Rucio"
        for name in ("bytes", "adler32", "md5")
        if getattr(known, name) is not None
        and getattr(did, name) is not None
        and getattr(known, name) != getattr(did, name)
    ]
    return "; ".join(differing) if differing else None


def _file_candidate(did: RucioDID, characterisation: Mapping[str, Any]) -> Candidate:
    spec = FileSpec(
        key=did.key,
        bytes=did.bytes or 0,
        adler32=did.adler32 or "",
        md5=did.md5,
        guid=did.guid,
        characterisation=characterisation,
        metadata=did.metadata,
        replicas=tuple(ReplicaSpec(r.rse, url=r.url, state=r.state) for r in did.replicas),
    )
    return Candidate(str(did.key), spec)


class Writes:
    """The writes of one run, with the store's settings."""

    def __init__(self, *, moc_order: int, index_cells: int) -> None:
        self._order = moc_order
        self._cells = index_cells

    # -- DIDs -------------------------------------------------------------------------------

    def _valid(self, items: Sequence[RucioDID | SyncProblem], out: StepResult) -> list[RucioDID]:
        seen: set[DIDKey] = set()
        valid: list[RucioDID] = []
        for item in items:
            if isinstance(item, SyncProblem):
                out.refuse(item.where, item.reason, conflict=item.conflict)
                continue
            where = str(item.key)
            if item.key in seen:
                continue
            seen.add(item.key)
            try:
                check_metadata(item.metadata)
            except CatalogueError as exc:
                out.refuse(where, str(exc))
                continue
            if item.type is DIDType.FILE and (item.bytes is None or not item.adler32):
                out.refuse(where, "Rucio gives no size or no adler32; lakecat needs both")
                continue
            valid.append(item)
        return valid

    async def write(
        self,
        session: AsyncSession,
        items: Sequence[RucioDID | SyncProblem],
        run_id: int,
        now: datetime,
    ) -> StepResult:
        """Add, update or confirm a chunk of DIDs."""
        out = StepResult()
        valid = self._valid(items, out)
        taken = await harvest.harvested_scopes(session, {d.key.scope for d in valid})
        for did in [d for d in valid if d.key.scope in taken]:
            out.refuse(str(did.key), harvest.harvested_scope_problem(did.key.scope))
        valid = [d for d in valid if d.key.scope not in taken]
        await ensure_scopes(session, {d.key.scope for d in valid}, now)
        known = await store.known_dids(session, [d.key for d in valid])
        rse_ids = await rses.find_rses(session, {r.rse for d in valid for r in d.replicas})
        fresh_files: list[RucioDID] = []
        fresh_collections: list[RucioDID] = []
        existing: list[tuple[RucioDID, store.Known]] = []
        for given in valid:
            did = self._drop_unknown_rses(given, rse_ids, out)
            stored = known.get(did.key)
            if stored is None:
                (fresh_files if did.type is DIDType.FILE else fresh_collections).append(did)
            elif problem := _conflict(did, stored):
                out.refuse(str(did.key), problem, conflict=True)
            elif stored.digest == did.digest():
                out.counts.unchanged += 1
            else:
                existing.append((did, stored))
        records: list[tuple[int, str, Sequence[str]]] = []
        fresh: set[int] = set()
        await self._add_files(session, fresh_files, rse_ids, now, out, records, fresh)
        await self._add_collections(session, fresh_collections, now, out, records, fresh)
        await self._update(session, existing, rse_ids, now, out, records, fresh)
        await store.save_records(session, records, fresh, run_id, now)
        return out

    def _drop_unknown_rses(
        self, did: RucioDID, rse_ids: Mapping[str, Any], out: StepResult
    ) -> RucioDID:
        unknown = sorted({r.rse for r in did.replicas} - set(rse_ids))
        if not unknown:
            return did
        out.problems.append(
            SyncProblem(str(did.key), f"replicas on RSEs lakecat does not have: {unknown}")
        )
        kept = tuple(r for r in did.replicas if r.rse in rse_ids)
        return RucioDID(
            did.key,
            did.type,
            did.bytes,
            did.adler32,
            did.md5,
            did.guid,
            did.is_open,
            did.metadata,
            did.characterisation,
            kept,
        )

    def _prepare(self, dids_: Sequence[RucioDID], out: StepResult) -> list[PreparedFile]:
        """Characterisation and coverage; a footprint that does not read is left out."""
        candidates = [_file_candidate(d, d.characterisation) for d in dids_]
        prepared: list[PreparedFile] = []
        for did, item in zip(dids_, prepare(candidates, self._order), strict=True):
            if isinstance(item, Rejected):
                out.problems.append(SyncProblem(item.where, f"{item.reason}; synced without it"))
                char = {k: v for k, v in did.characterisation.items() if k != "s_region"}
                retry = prepare([_file_candidate(did, char)], self._order)[0]
                assert isinstance(retry, PreparedFile)  # noqa: S101 - no region, nothing to refuse
                prepared.append(retry)
            else:
                prepared.append(item)
        return prepared

    async def _add_files(
        self,
        session: AsyncSession,
        fresh_files: Sequence[RucioDID],
        rse_ids: Mapping[str, tuple[int, str, bool]],
        now: datetime,
        out: StepResult,
        records: list[tuple[int, str, Sequence[str]]],
        fresh: set[int],
    ) -> None:
        if not fresh_files:
            return
        prepared = self._prepare(fresh_files, out)
        by_name = {name: (found[0], found[1]) for name, found in rse_ids.items()}
        outcomes = await files.add_files(session, prepared, by_name, now, self._cells)
        for did, outcome in zip(fresh_files, outcomes, strict=True):
            if outcome.outcome is files.Outcome.CONFLICT or outcome.did_id is None:
                out.refuse(str(did.key), outcome.message, conflict=True)
                continue
            _added(outcome.did_id, did, out, records, fresh)

    async def _add_collections(
        self,
        session: AsyncSession,
        collections: Sequence[RucioDID],
        now: datetime,
        out: StepResult,
        records: list[tuple[int, str, Sequence[str]]],
        fresh: set[int],
    ) -> None:
        if not collections:
            return
        rows = [(d.key, d.type, d.is_open is not False) for d in collections]
        ids = await store.insert_collections(session, rows, now)
        meta = [
            row for i, d in zip(ids, collections, strict=True) for row in meta_rows(i, d.metadata)
        ]
        await insert_rows(session, t.did_meta, meta)
        for did_id, did in zip(ids, collections, strict=True):
            _added(did_id, did, out, records, fresh)

    async def _update(
        self,
        session: AsyncSession,
        existing: Sequence[tuple[RucioDID, store.Known]],
        rse_ids: Mapping[str, tuple[int, str, bool]],
        now: datetime,
        out: StepResult,
        records: list[tuple[int, str, Sequence[str]]],
        fresh: set[int],
    ) -> None:
        if not existing:
            return
        followed = await store.synced_rse_ids(session)
        replicas = await store.stored_replicas(
            session, [k.id for d, k in existing if d.type is DIDType.FILE]
        )
        meta_changes = []
        recharacterised: list[int] = []
        for did, known in existing:
            if did.type is DIDType.FILE:
                wanted = {rse_ids[r.rse][0]: r for r in did.replicas}
                await store.mirror_replicas(
                    session, known.id, wanted, replicas.get(known.id, {}), followed, now
                )
                await store.set_guid(session, known.id, did.guid)
                if did.characterisation and await self._recharacterise(session, known.id, did):
                    recharacterised.append(known.id)
            elif did.is_open is not None:
                await store.set_open(session, [known.id], did.is_open, now)
            meta_changes.append((known.id, known.meta_keys, did.metadata))
            records.append((known.id, did.digest(), list(did.metadata)))
            if known.digest is None:
                fresh.add(known.id)  # lakecat's own DID, now followed
            out.counts.updated += 1
            out.changed.add(known.id)
        await store.replace_metadata(session, meta_changes, now)
        if recharacterised:
            out.changed |= await search_docs.with_ancestors(session, recharacterised)

    async def _recharacterise(self, session: AsyncSession, did_id: int, did: RucioDID) -> bool:
        """Rewrite a file's mapped ObsCore values when Rucio's changed; True if they did.

        Values from elsewhere (a FITS scan) that Rucio's metadata does not map stay.
        """
        item = self._prepare([did], StepResult())[0]
        row = (
            (
                await session.execute(
                    select(t.characterisation).where(t.characterisation.c.did_id == did_id)
                )
            )
            .mappings()
            .first()
        )
        stored = {k: v for k, v in (row or {}).items() if k not in t.CHARACTERISATION_INTERNAL}
        wanted = {
            k: item.characterisation[k] for k in did.characterisation if k in item.characterisation
        }
        if all(stored.get(k) == v for k, v in wanted.items()):
            return False
        merged = {k: v for k, v in stored.items() if v is not None} | wanted
        coverage = item.coverage if "s_region" in wanted else None
        if coverage is None and "s_region" not in wanted:
            coverage = await dids.get_coverage(session, did_id)
        for table in (t.characterisation, t.coverage, t.coverage_cell):
            await session.execute(delete(table).where(table.c.did_id == did_id))
        await insert_details(
            session, [Details(did_id, merged, coverage, {})], self._cells, replacing=True
        )
        for parent in await parents_of(session, did_id):
            await recompute_upward(session, parent, self._cells)
        return True

    # -- attachments ------------------------------------------------------------------------

    async def contents(
        self,
        session: AsyncSession,
        contents: Mapping[DIDKey, Sequence[DIDKey]],
        *,
        exact: bool,
        now: datetime,
    ) -> StepResult:
        """Attach members to collections; with ``exact`` detach the others."""
        out = StepResult()
        keys = list(contents) + [m for members in contents.values() for m in members]
        rows = {
            k: r for k, r in (await find_dids(session, keys)).items() if r["deleted_at"] is None
        }
        for parent, members in contents.items():
            prow = rows.get(parent)
            if prow is None or prow["did_type"] == DIDType.FILE:
                out.refuse(str(parent), "not a collection in lakecat; its content is not synced")
                continue
            wanted: dict[int, Any] = {}
            for member in members:
                if (row := rows.get(member)) is None:
                    out.refuse(
                        str(member), f"in {parent} in Rucio, not in lakecat (scope not followed?)"
                    )
                else:
                    wanted[row["id"]] = row
            await self._set_members(session, prow, wanted, exact=exact, now=now, out=out)
        return out

    async def _set_members(
        self,
        session: AsyncSession,
        parent: Any,
        wanted: Mapping[int, Any],
        *,
        exact: bool,
        now: datetime,
        out: StepResult,
    ) -> None:
        current = await store.children(session, parent["id"])
        added = [i for i in wanted if i not in current]
        removed = [i for i in current if i not in wanted] if exact else []
        for child_id in list(added):
            child = wanted[child_id]
            if DIDType(child["did_type"]) not in _MEMBERS[DIDType(parent["did_type"])]:
                added.remove(child_id)
                out.refuse(
                    f"{child['scope']}:{child['name']}",
                    f"a {child['did_type']} cannot be in the {parent['did_type']} "
                    f"{parent['scope']}:{parent['name']}",
                )
        if added:
            out.counts.attached += await dids.attach_ids(session, parent, added, now, self._cells)
        if removed:
            gone = await find_dids(session, [current[i] for i in removed])
            out.counts.detached += await dids.detach(
                session, parent, list(gone.values()), now, self._cells
            )
        if added or removed:
            out.changed |= await search_docs.with_descendants(session, added + removed)
            out.changed |= await search_docs.with_ancestors(session, [parent["id"]])

    # -- replicas, removals, events -----------------------------------------------------------

    async def replicas(
        self,
        session: AsyncSession,
        updates: Sequence[tuple[DIDKey, Sequence[RucioReplica]]],
        now: datetime,
    ) -> StepResult:
        """Apply replicas Rucio changed: each one listed becomes as listed."""
        out = StepResult()
        known = await store.known_dids(session, [k for k, _ in updates])
        rse_ids = await rses.find_rses(session, {r.rse for _, reps in updates for r in reps})
        followed = await store.synced_rse_ids(session)
        stored = await store.stored_replicas(session, [k.id for k in known.values()])
        for key, replicas in updates:
            found = known.get(key)
            if found is None or found.deleted or found.digest is None:
                out.refuse(str(key), "a replica changed in Rucio of a file lakecat does not follow")
                continue
            wanted = {rse_ids[r.rse][0]: r for r in replicas if r.rse in rse_ids}
            changed = await store.mirror_replicas(
                session, found.id, wanted, stored.get(found.id, {}), followed, now, exact=False
            )
            if changed:  # replicas a run finds unchanged are not counted: the DIDs are
                out.counts.updated += 1
                out.changed.add(found.id)
                await store.forget_digests(session, [found.id])
        return out

    async def remove_missing(
        self, session: AsyncSession, scope: str, alive: set[str], now: datetime
    ) -> StepResult:
        """Delete the scope's Rucio DIDs that Rucio no longer has; report lakecat's own."""
        out = StepResult()
        entries = await store.scope_entries(session, scope)
        for name, entry in sorted(entries.items()):
            if name not in alive and not entry.synced:
                out.refuse(
                    f"{scope}:{name}",
                    "only in lakecat, in a scope that follows Rucio; left as is",
                    conflict=True,
                )
        gone = [DIDKey(scope, n) for n, e in sorted(entries.items()) if e.synced and n not in alive]
        await self._delete(session, gone, now, out)
        return out

    async def _delete(
        self, session: AsyncSession, keys: Sequence[DIDKey], now: datetime, out: StepResult
    ) -> None:
        rows = await find_dids(session, keys)
        ids = [r["id"] for r in rows.values() if r["deleted_at"] is None]
        out.changed |= await search_docs.with_ancestors(session, ids)
        for key in keys:
            row = await dids.get_did_row(session, key)
            if row is None:
                continue
            members = await store.children(session, row["id"])
            if members:
                held = await find_dids(session, list(members.values()))
                await dids.detach(session, row, list(held.values()), now, self._cells)
            await dids.delete_did(session, row, now, self._cells)
            out.counts.deleted += 1

    async def event(self, session: AsyncSession, event: Event, now: datetime) -> StepResult:
        """Apply one message."""
        out = StepResult()
        row = await dids.get_did_row(session, event.key)
        if event.kind is EventKind.ERASE:
            await self._delete(session, [event.key], now, out)
        elif row is None:
            out.refuse(str(event.key), f"{event.kind} of a DID lakecat does not have")
        elif event.kind in (EventKind.CLOSE, EventKind.OPEN):
            await store.set_open(session, [row["id"]], event.kind is EventKind.OPEN, now)
            out.counts.updated += 1
            out.changed.add(row["id"])
        elif event.child is not None:
            await self._member_event(session, row, event, now, out)
        return out

    async def _member_event(
        self, session: AsyncSession, parent: Any, event: Event, now: datetime, out: StepResult
    ) -> None:
        assert event.child is not None  # noqa: S101 - the caller checked
        child = await dids.get_did_row(session, event.child)
        if child is None:
            out.refuse(str(event.child), f"{event.kind} to {event.key}: not in lakecat")
            return
        current = await store.children(session, parent["id"])
        if event.kind is EventKind.ATTACH and child["id"] not in current:
            await self._set_members(
                session, parent, {child["id"]: child}, exact=False, now=now, out=out
            )
        elif event.kind is EventKind.DETACH and child["id"] in current:
            out.counts.detached += await dids.detach(session, parent, [child], now, self._cells)
            out.changed |= await search_docs.with_descendants(session, [child["id"]])
            out.changed |= await search_docs.with_ancestors(session, [parent["id"]])
