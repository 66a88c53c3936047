"""Conversions between stored rows and domain objects, shared by the store's modules."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping

from catalogue.coverage import Coverage
from catalogue.filters import value_type
from catalogue.models import DID, DIDKey, DIDType, Extent, MetaValue
from catalogue.obscore import parse_timestamp


def did_from_row(row: RowMapping) -> DID:
    """A DID from a ``did`` row."""
    return DID(
        id=row["id"],
        key=DIDKey(row["scope"], row["name"]),
        type=DIDType(row["did_type"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        bytes=row["bytes"],
        adler32=row["adler32"],
        md5=row["md5"],
        guid=row["guid"],
        is_open=row["is_open"],
        length=row["length"],
    )


def extent_from_row(row: RowMapping) -> Extent:
    """An Extent from a ``coverage`` row."""
    return Extent(
        sky_fraction=row["sky_fraction"],
        moc_order=row["moc_order"],
        t_min=row["t_min"],
        t_max=row["t_max"],
        em_min=row["em_min"],
        em_max=row["em_max"],
    )


def coverage_from_row(row: RowMapping) -> Coverage | None:
    """The MOC stored in a ``coverage`` row, if any."""
    if row["moc"] is None:
        return None
    return Coverage.from_bytes(row["moc"], row["moc_order"])


def _typed_columns(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"v_num": float(value), "v_text": "true" if value else "false"}
    if isinstance(value, int | float):
        return {"v_num": float(value), "v_text": None}
    if isinstance(value, datetime):
        return {"v_time": value, "v_text": None}
    return {"v_text": str(value)}


def _encode(value: Any) -> str:
    if isinstance(value, datetime):
        return json.dumps({"$datetime": value.isoformat()})
    if isinstance(value, list):
        return json.dumps([json.loads(_encode(v)) for v in value])
    return json.dumps(value)


def _decode(data: Any) -> MetaValue:
    if isinstance(data, dict) and set(data) == {"$datetime"}:
        return parse_timestamp("metadata", data["$datetime"])
    if isinstance(data, list):
        return [_decode(v) for v in data]
    return data  # type: ignore[no-any-return]


def meta_rows(did_id: int, metadata: Mapping[str, MetaValue]) -> list[dict[str, Any]]:
    """``did_meta`` rows for a DID's metadata: one per scalar, one per list element."""
    rows: list[dict[str, Any]] = []
    for key, value in metadata.items():
        base = {"did_id": did_id, "key": key, "value_type": value_type(value)}
        empty = {"v_text": None, "v_num": None, "v_time": None}
        if isinstance(value, list):
            encoded = _encode(value)
            elements = value or [None]
            for position, element in enumerate(elements):
                typed = _typed_columns(element) if element is not None else {}
                kind = f"list:{value_type(element)}" if element is not None else "list"
                rows.append(
                    {
                        **base,
                        **empty,
                        **typed,
                        "value_type": kind,
                        "position": position,
                        "value": encoded,
                    }
                )
        else:
            rows.append(
                {**base, **empty, **_typed_columns(value), "position": 0, "value": _encode(value)}
            )
    return rows


def metadata_from_rows(rows: list[RowMapping]) -> dict[str, MetaValue]:
    """Rebuild a DID's metadata from its ``did_meta`` rows."""
    return {row["key"]: _decode(json.loads(row["value"])) for row in rows if row["position"] == 0}
