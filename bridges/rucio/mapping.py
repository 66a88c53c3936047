"""Rucio's DID metadata as lakecat holds it, and the table that maps keys onto ObsCore fields.

Every generic metadata key a DID has in Rucio — the JSON plugin's keys, and the DID columns
Rucio users set (``project``, ``datatype``, ``run_number``, …) — becomes lakecat metadata
under the same key. A nested object is flattened (``{"obs": {"id": 1}}`` → ``obs.id``: Rucio
keys never hold ``.``), ISO 8601 times become times. On top of that, the keys of the
*ObsCore mapping* give the file's characterisation (the ``ivoa.obscore`` row, its coverage
MOC from ``s_region``): by default each ObsCore field name maps to itself, so a Rucio user
who sets ``s_ra``, ``s_dec``, ``s_region``, ``t_min``, ``obs_collection``, … gets them
searchable by region, time and ObsCore filters. A JSON file adds or replaces entries
(``{"RA": "s_ra", "DEC": "s_dec", "s_fov": null}``; ``null`` drops a default); the
table in docs/rucio.md lists the defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalogue.errors import InvalidInputError
from catalogue.ingest import parse_meta_value
from catalogue.models import MetaValue, check_metadata
from catalogue.obscore import FIELDS_BY_NAME, OBSCORE_FIELDS, parse_characterisation
from catalogue.rucio import SyncProblem

#: ObsCore fields that describe access, filled by lakecat itself, not mapped by default.
_NOT_MAPPED = frozenset({"access_url", "access_format", "access_estsize", "preview"})
DEFAULT_MAPPING: Mapping[str, str] = {
    f.name: f.name for f in OBSCORE_FIELDS if f.name not in _NOT_MAPPED
}

#: Rucio's DID columns that are Rucio's own bookkeeping, not metadata a user sets.
SYSTEM_COLUMNS = frozenset(
    {
        "scope",
        "name",
        "account",
        "did_type",
        "type",
        "is_open",
        "monotonic",
        "hidden",
        "obsolete",
        "complete",
        "is_new",
        "availability",
        "suppressed",
        "bytes",
        "length",
        "md5",
        "adler32",
        "guid",
        "expired_at",
        "purge_replicas",
        "deleted_at",
        "created_at",
        "updated_at",
        "accessed_at",
        "access_cnt",
        "closed_at",
        "eol_at",
        "is_archive",
        "constituent",
        "transient",
        "events",  # summed over a collection's files by Rucio when it closes
    }
)


@dataclass(frozen=True, slots=True)
class ObsCoreMapping:
    """Rucio metadata key -> ObsCore field."""

    keys: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_MAPPING))

    def __post_init__(self) -> None:
        unknown = sorted({f for f in self.keys.values() if f not in FIELDS_BY_NAME})
        if unknown:
            raise InvalidInputError(f"the ObsCore mapping names unknown fields {unknown}")

    @classmethod
    def load(cls, path: Path | None) -> ObsCoreMapping:
        """The defaults, with a JSON file's entries added (``null`` drops a default)."""
        keys = dict(DEFAULT_MAPPING)
        if path is None:
            return cls(keys)
        try:
            given = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read the ObsCore mapping {path}: {exc}") from exc
        if not isinstance(given, dict) or not all(
            isinstance(v, str) or v is None for v in given.values()
        ):
            raise InvalidInputError(f"{path}: write a JSON object of key -> ObsCore field or null")
        for key, target in given.items():
            if target is None:
                keys.pop(key, None)
            else:
                keys[key] = target
        return cls(keys)

    def characterise(
        self, where: str, metadata: Mapping[str, MetaValue]
    ) -> tuple[dict[str, Any], list[SyncProblem]]:
        """The ObsCore values of a DID's metadata; a value that does not read is reported."""
        raw: dict[str, Any] = {}
        for key, target in self.keys.items():
            if key in metadata:
                value = metadata[key]
                raw[target] = value.isoformat() if hasattr(value, "isoformat") else value
        if not raw:
            return {}, []
        try:
            return parse_characterisation(raw), []
        except InvalidInputError:
            pass
        values: dict[str, Any] = {}
        problems: list[SyncProblem] = []
        for name, value in raw.items():
            try:
                values.update(parse_characterisation({name: value}))
            except InvalidInputError as exc:
                problems.append(SyncProblem(where, f"ObsCore {name}: {exc}; left out"))
        return values, problems


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    else:
        out[prefix] = value


def _value(value: Any) -> MetaValue:
    if isinstance(value, list):
        if all(isinstance(v, str | int | float | bool) for v in value):
            return [parse_meta_value(v) for v in value]
        return json.dumps(value, sort_keys=True)
    return parse_meta_value(value)


def read_metadata(
    where: str, json_meta: Mapping[str, Any], columns: Mapping[str, Any]
) -> tuple[dict[str, MetaValue], list[SyncProblem]]:
    """Lakecat metadata from Rucio's JSON-plugin keys and its user-set DID columns.

    A key lakecat cannot hold is left out and reported; nulls are absent keys.
    """
    flat: dict[str, Any] = {
        key: value
        for key, value in columns.items()
        if key not in SYSTEM_COLUMNS and value is not None
    }
    for key, value in json_meta.items():
        if key not in ("scope", "name"):
            _flatten(key, value, flat)
    metadata: dict[str, MetaValue] = {}
    problems: list[SyncProblem] = []
    for key, value in sorted(flat.items()):
        if value is None:
            continue
        try:
            metadata.update(check_metadata({key: _value(value)}))
        except InvalidInputError as exc:
            problems.append(SyncProblem(where, f"metadata: {exc}; left out"))
    return metadata, problems
