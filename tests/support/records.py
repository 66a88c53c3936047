"""Small builders of manifest records, so tests say only what matters to them."""

from __future__ import annotations

import io
import json
import math
import zlib
from typing import Any

from catalogue.ingest import Candidate, Rejected, read_manifest


def square(ra: float, dec: float, half: float = 0.1) -> str:
    """An STC-S square polygon centred on (ra, dec), ``half`` degrees of declination wide."""
    w = half / max(math.cos(math.radians(dec)), 1e-3)
    return (
        f"Polygon ICRS {ra - w} {dec - half} {ra + w} {dec - half} "
        f"{ra + w} {dec + half} {ra - w} {dec + half}"
    )


def file_record(
    name: str, *, scope: str = "lake", size: int = 1000, **extra: Any
) -> dict[str, Any]:
    """A manifest record; ``obscore``, ``metadata``, ``replicas``, ``dataset`` via keywords."""
    record: dict[str, Any] = {
        "scope": scope,
        "name": name,
        "bytes": size,
        "adler32": f"{zlib.adler32(name.encode()):08x}",
    }
    record.update(extra)
    return record


def manifest(records: list[dict[str, Any]]) -> list[Candidate | Rejected]:
    """The candidates a JSON Lines manifest of these records yields."""
    text = "\n".join(json.dumps(r) for r in records)
    return list(read_manifest(io.StringIO(text), "jsonl", None))


async def register(catalogue: Any, records: list[dict[str, Any]]) -> None:
    """Register records in one all-or-nothing run that must succeed."""
    summary = await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert summary.problems == [], summary.problems
    assert summary.failed == 0


def names(dids: Any) -> list[str]:
    """``scope:name`` of each DID, in the order given."""
    return [str(d.key) for d in dids]
