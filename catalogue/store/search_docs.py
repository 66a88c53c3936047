"""What a DID looks like in search, and the outbox that tells the search index what changed.

The one place that decides a DID's searchable text and its search document (docs/search.md):
the relational backend matches the text kept in ``search_document``; the Elasticsearch worker
(``indexer/``) indexes :func:`build_documents` for the ids it reads from the outbox.

Every write that changes how some DIDs look calls :func:`mark_changed` with their ids in its
own transaction, so the text and the outbox rows commit, or roll back, with the write.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import RowMapping, Select, delete, func, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.bands import BAND_RANGES
from catalogue.coverage import Coverage
from catalogue.harvest import LAKE_SOURCE
from catalogue.models import DIDType, MetaValue
from catalogue.search import SearchFacet, tokens
from catalogue.store import batch
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT, insert_rows
from catalogue.store.harvest import source_names

_T = TypeVar("_T")
TEXT_FIELDS = (
    "obs_title",
    "target_name",
    "obs_collection",
    "facility_name",
    "instrument_name",
    "obs_id",
)
# A collection has no characterisation of its own; its members' values (collection_value)
# make it findable by the targets, collections and facilities it holds, as the filter
# language lets "target_name=Crab" select the datasets holding Crab files.
SUMMARY_TEXT_FIELDS = ("target_name", "obs_collection", "facility_name", "instrument_name")
# Facets read from the characterisation (files) or the collection's summary (collections).
CHARACTERISED_FACETS = (
    SearchFacet.COLLECTION,
    SearchFacet.FACILITY,
    SearchFacet.INSTRUMENT,
    SearchFacet.DATAPRODUCT_TYPE,
    SearchFacet.CALIB_LEVEL,
    SearchFacet.DATA_RIGHTS,
)
_STRING_TYPES = ("string", "list:string")


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """A DID as a search index holds it; a tombstone (``deleted``) is to be removed.

    ``bytes`` is the SIZE sort key: a file's size, ``None`` for collections (they sort last).
    ``t_min`` … ``em_max`` come from the DID's extent (aggregated for collections).
    """

    did_id: int
    scope: str
    name: str
    did_type: DIDType
    deleted: bool = False
    text: str = ""
    bytes: int | None = None
    created_at: datetime | None = None
    t_min: float | None = None
    t_max: float | None = None
    em_min: float | None = None
    em_max: float | None = None
    moc: Coverage | None = None
    moc_order: int | None = None
    facets: dict[SearchFacet, list[str]] = field(default_factory=dict)
    parents: list[str] = field(default_factory=list)  # scope:name of every ancestor
    rses: list[str] = field(default_factory=list)
    metadata: dict[str, MetaValue] = field(default_factory=dict)
    characterisation: dict[str, Any] = field(default_factory=dict)


def _chunks(ids: Iterable[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + IN_LIST_LIMIT] for i in range(0, len(unique), IN_LIST_LIMIT)]


def bands_of(em_min: float | None, em_max: float | None) -> list[str]:
    """Names of the bands a wavelength range (m) overlaps, bounds included.

    The same rule as the spectral filter: a range without ``em_max`` is ``em_min`` alone.
    """
    if em_min is None:
        return []
    high = em_max if em_max is not None else em_min
    return [
        band.value
        for band, (low, top) in BAND_RANGES.items()
        if (low is None or high >= low) and (top is None or em_min <= top)
    ]


def searchable_text(parts: Iterable[str | None]) -> str:
    """The token string of some texts, in order (what ``search_document.text`` holds)."""
    return " ".join(tokens(" ".join(part for part in parts if part)))


# -- reading what the text is made of -------------------------------------------------------
# Written once as generators that yield statements and are sent their rows, so that async
# sessions and the (synchronous) migration run the same reads.

Rows = Sequence[Row[Any]]
Reads = Generator[Select[Any], Rows, _T]


def _read_ancestors(
    ids: Sequence[int], *, embargoes: bool = True
) -> Reads[dict[int, list[tuple[str, str]]]]:
    """(scope, name) of every collection above each DID, sorted, but embargoed ones.

    A public file's text and ``parents`` must not name a collection hidden by its other
    members' embargo (docs/security.md); such a collection is left out for good, even once
    released, until the file is next marked changed.

    Level by level with index lookups: a recursive CTE was half the cost of marking a
    registration batch on PostgreSQL, whose planner misjudges it inside a long transaction.
    """
    edges = t.attachment
    parents: dict[int, set[int]] = {}
    frontier, walked = set(ids), set[int]()
    while frontier:
        walked |= frontier
        found: list[Row[Any]] = []
        for chunk in _chunks(frontier):
            statement = select(edges.c.child_id, edges.c.parent_id).where(
                edges.c.child_id.in_(chunk)
            )
            found += yield statement
        for row in found:
            parents.setdefault(row.child_id, set()).add(row.parent_id)
        frontier = {row.parent_id for row in found} - walked
    names: dict[int, tuple[str, str]] = {}
    for chunk in _chunks({p for above in parents.values() for p in above}):
        named = select(t.did.c.id, t.did.c.scope, t.did.c.name).where(t.did.c.id.in_(chunk))
        rows = yield named.where(t.did.c.embargo_until.is_(None)) if embargoes else named
        names.update({r.id: (r.scope, r.name) for r in rows})
    found_above: dict[int, list[tuple[str, str]]] = {}
    for origin in ids:
        above: set[int] = set()
        pending = list(parents.get(origin, ()))
        while pending:
            did_id = pending.pop()
            if did_id not in above:
                above.add(did_id)
                pending.extend(parents.get(did_id, ()))
        if above:
            found_above[origin] = sorted(names[i] for i in above if i in names)
    return found_above


def _read_texts(chunk: Sequence[int], *, embargoes: bool = True) -> Reads[dict[int, str]]:
    char, meta, cv = t.characterisation, t.did_meta, t.collection_value
    own = yield (
        select(t.did.c.id, t.did.c.scope, t.did.c.name, *(char.c[f] for f in TEXT_FIELDS))
        .outerjoin(char, char.c.did_id == t.did.c.id)
        .where(t.did.c.id.in_(chunk), t.did.c.deleted_at.is_(None))
    )
    strings: dict[int, list[tuple[str, str]]] = {}
    for r in (
        yield select(meta.c.did_id, meta.c.key, meta.c.v_text)
        .where(meta.c.did_id.in_(chunk), meta.c.value_type.in_(_STRING_TYPES))
        .order_by(meta.c.did_id, meta.c.key, meta.c.position)
    ):
        strings.setdefault(r.did_id, []).append((r.key, r.v_text))
    held: dict[int, list[str]] = {}
    for r in (
        yield select(cv.c.did_id, cv.c.v_text)
        .where(cv.c.did_id.in_(chunk), cv.c.field.in_(SUMMARY_TEXT_FIELDS))
        .order_by(cv.c.did_id, cv.c.field, cv.c.v_text)
    ):
        held.setdefault(r.did_id, []).append(r.v_text)
    above = yield from _read_ancestors([r.id for r in own], embargoes=embargoes)
    texts: dict[int, str] = {}
    for r in own:
        pairs = strings.get(r.id, [])
        texts[r.id] = searchable_text(
            [
                r.name,
                r.scope,
                *(getattr(r, f) for f in TEXT_FIELDS),
                *(v for k, v in pairs if k == "description"),
                *(v for k, v in pairs if k != "description"),
                *held.get(r.id, []),
                *(name for _, name in above.get(r.id, [])),
            ]
        )
    return texts


async def _run(session: AsyncSession, reads: Reads[_T]) -> _T:
    try:
        statement = next(reads)
        while True:
            statement = reads.send((await session.execute(statement)).all())
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _run_sync(connection: Connection, reads: Reads[_T]) -> _T:
    try:
        statement = next(reads)
        while True:
            statement = reads.send(connection.execute(statement).all())
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def document_texts(session: AsyncSession, did_ids: Iterable[int]) -> dict[int, str]:
    """The searchable text of each live DID among the ids (tombstones have none)."""
    texts: dict[int, str] = {}
    for chunk in _chunks(did_ids):
        texts.update(await _run(session, _read_texts(chunk)))
    return texts


def document_texts_sync(
    connection: Connection, did_ids: Iterable[int], *, embargoes: bool = True
) -> dict[int, str]:
    """:func:`document_texts` on a synchronous connection (migrations run on one).

    ``embargoes=False`` for migrations older than 0008, whose ``did`` has no embargo yet.
    """
    texts: dict[int, str] = {}
    for chunk in _chunks(did_ids):
        texts.update(_run_sync(connection, _read_texts(chunk, embargoes=embargoes)))
    return texts


# -- writing: the text and the outbox, in the caller's transaction --------------------------


async def mark_changed(session: AsyncSession, did_ids: Iterable[int]) -> None:
    """Record that these DIDs look different in search, in the caller's transaction.

    One outbox row each, and their ``search_document`` rewritten (removed for a tombstone).
    """
    chunks = _chunks(did_ids)
    if not chunks:
        return
    now = datetime.now(UTC)
    ids = [i for chunk in chunks for i in chunk]
    await insert_rows(session, t.search_outbox, [{"did_id": i, "created_at": now} for i in ids])
    texts = await document_texts(session, ids)
    for chunk in chunks:
        await session.execute(
            delete(t.search_document).where(t.search_document.c.did_id.in_(chunk))
        )
    rows = [{"did_id": i, "text": texts[i]} for i in ids if i in texts]
    await insert_rows(session, t.search_document, rows)


async def _closure(session: AsyncSession, did_ids: Iterable[int], *, down: bool) -> set[int]:
    near, far = (
        (t.attachment.c.parent_id, t.attachment.c.child_id)
        if down
        else (t.attachment.c.child_id, t.attachment.c.parent_id)
    )
    found = set(did_ids)
    for chunk in _chunks(found):
        walk = select(far.label("id")).where(near.in_(chunk)).cte("walk", recursive=True)
        walk = walk.union(select(far).where(near == walk.c.id))
        found.update((await session.scalars(select(walk.c.id))).all())
    return found


async def with_ancestors(session: AsyncSession, did_ids: Iterable[int]) -> set[int]:
    """The ids and every collection above them (whose extents a change below alters)."""
    return await _closure(session, did_ids, down=False)


async def with_descendants(session: AsyncSession, did_ids: Iterable[int]) -> set[int]:
    """The ids and everything below them (whose ancestors' names are in their text)."""
    return await _closure(session, did_ids, down=True)


# -- the Elasticsearch worker's reads ------------------------------------------------------


async def outbox_batch(session: AsyncSession, limit: int) -> list[tuple[int, int]]:
    """The oldest waiting outbox rows as (seq, did_id), oldest first."""
    rows = await session.execute(
        select(t.search_outbox.c.seq, t.search_outbox.c.did_id)
        .order_by(t.search_outbox.c.seq)
        .limit(limit)
    )
    return [(int(r.seq), int(r.did_id)) for r in rows]


async def outbox_done(session: AsyncSession, seqs: Sequence[int]) -> None:
    """Delete exactly the outbox rows that were indexed.

    Not "every row up to the last seq": on PostgreSQL a transaction that took a lower seq
    may commit after the batch was read, and its row must survive for the next batch.
    """
    for start in range(0, len(seqs), IN_LIST_LIMIT):
        chunk = list(seqs[start : start + IN_LIST_LIMIT])
        await session.execute(delete(t.search_outbox).where(t.search_outbox.c.seq.in_(chunk)))


async def outbox_lag(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many outbox rows wait, and when the oldest was written."""
    outbox = t.search_outbox
    waiting = await session.scalar(select(func.count()).select_from(outbox))
    oldest = await session.scalar(select(outbox.c.created_at).order_by(outbox.c.seq).limit(1))
    return int(waiting or 0), oldest


def _searchable(row: RowMapping) -> bool:
    """Deleted and withdrawn DIDs leave the index (a withdrawn one may come back)."""
    return row["deleted_at"] is None and row["withdrawn_at"] is None


async def build_documents(session: AsyncSession, did_ids: Sequence[int]) -> list[SearchDocument]:
    """The search documents of the ids, in id order; ids never stored are left out."""
    documents: list[SearchDocument] = []
    for chunk in _chunks(did_ids):
        rows = (await session.execute(select(t.did).where(t.did.c.id.in_(chunk)))).mappings()
        by_id = {r["id"]: r for r in rows}
        live = [i for i in chunk if i in by_id and _searchable(by_id[i])]
        scopes = sorted({by_id[i]["scope"] for i in live})
        parts = await _DocumentParts.read(session, live, scopes)
        for did_id in chunk:
            if did_id not in by_id:
                continue
            row = by_id[did_id]
            if not _searchable(row):
                documents.append(
                    SearchDocument(
                        did_id, row["scope"], row["name"], DIDType(row["did_type"]), deleted=True
                    )
                )
            else:
                documents.append(parts.document(row))
    return documents


@dataclass(slots=True)
class _DocumentParts:
    """Everything about some live DIDs that goes into their documents, read in bulk."""

    texts: dict[int, str]
    characterisation: dict[int, dict[str, Any]]
    metadata: dict[int, dict[str, MetaValue]]
    rses: dict[int, list[str]]
    extents: dict[int, Any]
    summaries: dict[int, dict[str, list[str]]]
    parents: dict[int, list[str]]
    sources: dict[str, str]  # scope -> "lake" or its harvest source

    @classmethod
    async def read(
        cls, session: AsyncSession, ids: list[int], scopes: Sequence[str]
    ) -> _DocumentParts:
        stored = await session.execute(
            select(t.search_document).where(t.search_document.c.did_id.in_(ids))
        )
        texts = {r.did_id: r.text for r in stored}
        missing = [i for i in ids if i not in texts]
        if missing:  # mark_changed and migration 0003 write every one; never trust a gap
            texts.update(await document_texts(session, missing))
        summaries: dict[int, dict[str, list[str]]] = {}
        cv = t.collection_value
        for r in await session.execute(
            select(cv.c.did_id, cv.c.field, cv.c.v_text).where(cv.c.did_id.in_(ids))
        ):
            summaries.setdefault(r.did_id, {}).setdefault(r.field, []).append(r.v_text)
        above = await _run(session, _read_ancestors(ids))
        parents = {i: [f"{scope}:{name}" for scope, name in keys] for i, keys in above.items()}
        replicas = await batch.replicas_of(session, ids)
        return cls(
            texts=texts,
            characterisation=await batch.characterisation_of(session, ids),
            metadata=await batch.metadata_of(session, ids),
            rses={i: sorted({r.rse for r in found}) for i, found in replicas.items()},
            extents=await batch.extents_of(session, ids),
            summaries=summaries,
            parents=parents,
            sources=await source_names(session, scopes),
        )

    def document(self, row: RowMapping) -> SearchDocument:
        did_id = row["id"]
        did_type = DIDType(row["did_type"])
        extent, moc = self.extents.get(did_id) or (None, None)
        char = self.characterisation.get(did_id, {})
        rses = self.rses.get(did_id, [])
        return SearchDocument(
            did_id=did_id,
            scope=row["scope"],
            name=row["name"],
            did_type=did_type,
            text=self.texts.get(did_id, ""),
            bytes=row["bytes"] if did_type is DIDType.FILE else None,
            created_at=row["created_at"],
            t_min=extent.t_min if extent else None,
            t_max=extent.t_max if extent else None,
            em_min=extent.em_min if extent else None,
            em_max=extent.em_max if extent else None,
            moc=moc,
            moc_order=moc.order if moc is not None else None,
            facets=self._facets(row, char, extent, rses),
            parents=sorted(self.parents.get(did_id, [])),
            rses=rses,
            metadata=self.metadata.get(did_id, {}),
            characterisation=char,
        )

    def _facets(
        self, row: RowMapping, char: Mapping[str, Any], extent: Any, rses: list[str]
    ) -> dict[SearchFacet, list[str]]:
        summary = self.summaries.get(row["id"], {})
        facets: dict[SearchFacet, list[str]] = {}
        for facet in CHARACTERISED_FACETS:
            values = set(summary.get(facet.value, []))
            if char.get(facet.value) is not None:
                values.add(str(char[facet.value]))
            facets[facet] = sorted(values)
        facets[SearchFacet.BAND] = bands_of(
            extent.em_min if extent else None, extent.em_max if extent else None
        )
        facets[SearchFacet.RSE] = rses
        facets[SearchFacet.SCOPE] = [row["scope"]]
        facets[SearchFacet.SOURCE] = [self.sources.get(row["scope"], LAKE_SOURCE)]
        facets[SearchFacet.TYPE] = [row["did_type"]]
        return facets
