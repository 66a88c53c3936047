"""DIDs as index documents: the store's search documents plus what the filter language needs.

:func:`catalogue.store.search_docs.build_documents` decides what a DID looks like in search
(text, facets, extent, ancestors, RSEs). The filter language also reaches the DID's other
columns (``length``, checksums, ``updated_at``) and a collection's summary values with their
numbers, so those are read here, in the same session.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT
from catalogue.store.search_docs import SearchDocument, build_documents
from indexer.mapping import ELEMENT_FIELDS, SCALAR_FIELDS, field_key, micros
from indexer.query import moc_cells


@dataclass(frozen=True, slots=True)
class IndexBatch:
    """What one batch of DIDs does to the index: documents to write, ids to remove."""

    sources: list[tuple[int, dict[str, Any]]]
    removed: list[int]


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number" if math.isfinite(value) else None
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, str):
        return "string"
    return None  # nested lists: the filter language cannot reach them


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return micros(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metadata_fields(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata as typed fields: scalars under ``m_*``, list elements under ``l_*``."""
    fields: dict[str, Any] = {"m_keys": sorted(metadata), "m_scalar": []}
    for prefix in (*SCALAR_FIELDS.values(), *ELEMENT_FIELDS.values()):
        fields[prefix] = {}
    for key, value in metadata.items():
        name = field_key(key)
        if isinstance(value, list):
            for element in value:
                kind = _kind(element)
                if kind is not None:
                    fields[ELEMENT_FIELDS[kind]].setdefault(name, []).append(_value(element))
            continue
        fields["m_scalar"].append(key)
        kind = _kind(value)
        if kind is not None:
            fields[SCALAR_FIELDS[kind]][name] = _value(value)
    return fields


def document_source(doc: SearchDocument, extras: dict[str, Any], moc_ranges: int) -> dict[str, Any]:
    """The indexed form of one live DID (indexer/mapping.py)."""
    source: dict[str, Any] = {
        "did_id": doc.did_id,
        "scope": doc.scope,
        "name": doc.name,
        "did_type": doc.did_type.value,
        "text": doc.text,
        "size": doc.bytes,
        "created_at": micros(doc.created_at) if doc.created_at else None,
        "t_min": doc.t_min,
        "t_hi": doc.t_max if doc.t_max is not None else doc.t_min,
        "em_min": doc.em_min,
        "em_hi": doc.em_max if doc.em_max is not None else doc.em_min,
        "parents": doc.parents,
        "rses": doc.rses,
        "f": {facet.value: values for facet, values in doc.facets.items()},
        "c": {k: _value(v) for k, v in doc.characterisation.items() if v is not None},
        **extras,
        **metadata_fields(dict(doc.metadata)),
    }
    if doc.moc is not None and not doc.moc.is_empty:
        ranges, order = moc_cells(doc.moc, moc_ranges)
        source["moc"] = [{"gte": int(lo), "lt": int(hi)} for lo, hi in ranges.tolist()]
        source["moc_order"] = order
    return source


async def _extras(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The DID columns and collection summaries that search documents leave out."""
    found: dict[int, dict[str, Any]] = {i: {"summary": []} for i in ids}
    for start in range(0, len(ids), IN_LIST_LIMIT):
        chunk = list(ids[start : start + IN_LIST_LIMIT])
        names = (
            "id",
            "bytes",
            "length",
            "guid",
            "adler32",
            "md5",
            "updated_at",
            "embargo_until",
            "embargo_scope",
        )
        columns = [t.did.c[c] for c in names]
        for row in await session.execute(select(*columns).where(t.did.c.id.in_(chunk))):
            found[row.id].update(
                bytes=row.bytes,
                length=row.length,
                guid=row.guid,
                adler32=row.adler32,
                md5=row.md5,
                updated_at=micros(row.updated_at) if row.updated_at else None,
                embargo_until=micros(row.embargo_until) if row.embargo_until else None,
                embargo_scope=row.embargo_scope,
            )
        cv = t.collection_value
        statement = select(cv.c.did_id, cv.c.field, cv.c.v_text, cv.c.v_num).where(
            cv.c.did_id.in_(chunk)
        )
        for row in await session.execute(statement):
            value = {"field": row.field, "v_text": row.v_text}
            if row.v_num is not None:
                value["v_num"] = row.v_num
            found[row.did_id]["summary"].append(value)
    return found


async def read_batch(session: AsyncSession, did_ids: Sequence[int], moc_ranges: int) -> IndexBatch:
    """The index's view of some DIDs: sources of the live ones, ids of the deleted or gone."""
    documents = await build_documents(session, did_ids)
    live = [d for d in documents if not d.deleted]
    extras = await _extras(session, [d.did_id for d in live])
    present = {d.did_id for d in live}
    return IndexBatch(
        sources=[(d.did_id, document_source(d, extras[d.did_id], moc_ranges)) for d in live],
        removed=sorted(set(did_ids) - present),
    )
