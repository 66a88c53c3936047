"""Turning input records (manifest lines, FITS descriptions) into validated files to register.

Validation is per record, so a bad line is reported with its reason; coverage is computed per
batch, because mocpy builds many polygon MOCs at once several times faster than one by one.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from catalogue.coverage import Coverage, from_polygons
from catalogue.errors import InvalidInputError
from catalogue.filters import parse_value
from catalogue.models import (
    DIDKey,
    FileSpec,
    MetaValue,
    ReplicaSpec,
    ReplicaState,
    check_adler32,
    check_md5,
    check_metadata,
    check_name,
    check_scope,
)
from catalogue.obscore import FIELDS_BY_NAME, parse_characterisation, parse_timestamp
from catalogue.region import Polygon, Region, parse_stcs
from catalogue.store.files import PreparedFile

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_FILE_KEYS = {
    "scope",
    "name",
    "did",
    "bytes",
    "adler32",
    "md5",
    "guid",
    "obscore",
    "metadata",
    "replicas",
    "dataset",
}


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input that cannot be registered: where it is (line N, a path) and why."""

    where: str
    reason: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file to register, where it came from, and the dataset it should join."""

    where: str
    spec: FileSpec
    dataset: DIDKey | None = None


def parse_meta_value(value: Any) -> MetaValue:
    """A metadata value from JSON: ISO 8601 timestamps (with a time) become datetimes."""
    if isinstance(value, dict) and set(value) == {"$datetime"}:
        return parse_timestamp("metadata", value["$datetime"])
    if isinstance(value, str) and _ISO_TIME.match(value):
        return parse_timestamp("metadata", value)
    if isinstance(value, list):
        return [parse_meta_value(v) for v in value]
    return value  # type: ignore[no-any-return]


def _replica(raw: Any) -> ReplicaSpec:
    if not isinstance(raw, dict) or "rse" not in raw:
        raise InvalidInputError(f"a replica must be an object with 'rse', got {raw!r}")
    unknown = set(raw) - {"rse", "url", "path", "state"}
    if unknown:
        raise InvalidInputError(f"replica has unknown field(s) {sorted(unknown)}")
    try:
        state = ReplicaState(str(raw.get("state", "AVAILABLE")).upper())
    except ValueError as exc:
        raise InvalidInputError(
            f"replica state {raw.get('state')!r} is not one of {[s.value for s in ReplicaState]}"
        ) from exc
    return ReplicaSpec(rse=str(raw["rse"]), url=raw.get("url"), path=raw.get("path"), state=state)


def _key(record: Mapping[str, Any], default_scope: str | None) -> DIDKey:
    if "did" in record:
        return DIDKey.parse(str(record["did"]))
    scope = record.get("scope") or default_scope
    if not scope:
        raise InvalidInputError("no scope: give 'scope' in the record or --scope")
    if not record.get("name"):
        raise InvalidInputError("no 'name'")
    return DIDKey(check_scope(str(scope)), check_name(str(record["name"])))


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"bytes must be a non-negative integer, got {value!r}")
    return value


def candidate_from_record(
    record: Mapping[str, Any], default_scope: str | None, default_dataset: str | None = None
) -> tuple[FileSpec, DIDKey | None]:
    """A file from one manifest record (a JSON object), validated."""
    unknown = set(record) - _FILE_KEYS
    if unknown:
        raise InvalidInputError(f"unknown field(s) {sorted(unknown)}")
    key = _key(record, default_scope)
    if "adler32" not in record or "bytes" not in record:
        raise InvalidInputError("'bytes' and 'adler32' are required")
    obscore = record.get("obscore") or {}
    metadata = record.get("metadata") or {}
    replicas = record.get("replicas") or []
    if not isinstance(obscore, dict) or not isinstance(metadata, dict):
        raise InvalidInputError("'obscore' and 'metadata' must be objects")
    if not isinstance(replicas, list):
        raise InvalidInputError("'replicas' must be a list")
    spec = FileSpec(
        key=key,
        bytes=_size(record["bytes"]),
        adler32=check_adler32(str(record["adler32"])),
        md5=check_md5(str(record["md5"])) if record.get("md5") else None,
        guid=str(record["guid"]) if record.get("guid") else None,
        characterisation=parse_characterisation(obscore),
        metadata=check_metadata({k: parse_meta_value(v) for k, v in metadata.items()}),
        replicas=tuple(_replica(r) for r in replicas),
    )
    dataset_name = record.get("dataset") or default_dataset
    dataset = None
    if dataset_name:
        text = str(dataset_name)
        dataset = DIDKey.parse(text) if ":" in text else DIDKey(key.scope, check_name(text))
    return spec, dataset


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    """Read a CSV row as a manifest record.

    ObsCore columns by name, ``meta.KEY`` columns, and ``replicas`` as space-separated
    ``RSE=path`` or ``RSE=URL`` entries.
    """
    record: dict[str, Any] = {"obscore": {}, "metadata": {}}
    for column, raw in row.items():
        if column is None or raw is None or raw == "":
            continue
        if column in FIELDS_BY_NAME:
            kind_text = FIELDS_BY_NAME[column].kind.value == "text"
            record["obscore"][column] = raw if kind_text else _csv_number(raw)
        elif column.startswith("meta."):
            record["metadata"][column[5:]] = parse_value(raw)
        elif column == "replicas":
            record["replicas"] = [_csv_replica(entry) for entry in raw.split()]
        elif column == "bytes":
            record["bytes"] = _csv_number(raw)
        else:
            record[column] = raw
    return record


def _csv_number(raw: str) -> Any:
    value = parse_value(raw)
    return value.isoformat() if isinstance(value, datetime) else value


def _csv_replica(entry: str) -> dict[str, str]:
    rse, sep, target = entry.partition("=")
    if not sep:
        raise InvalidInputError(f"replica {entry!r} must be RSE=path or RSE=URL")
    return {"rse": rse, "url" if "://" in target else "path": target}


def _json_record(line: str) -> dict[str, Any]:
    record = json.loads(line.rstrip("\r\n"))  # so an error at the end names its column
    if not isinstance(record, dict):
        raise InvalidInputError("a line must hold one JSON object")
    return record


def read_manifest(
    stream: TextIO, fmt: str, default_scope: str | None, default_dataset: str | None = None
) -> Iterator[Candidate | Rejected]:
    """Files of a JSON Lines or CSV manifest, each valid one or the reason its line is not."""
    if fmt == "csv":
        reader = csv.DictReader(stream)
        records: Iterator[tuple[int, Any]] = ((reader.line_num, row) for row in reader)
    else:
        records = ((n, line) for n, line in enumerate(stream, start=1) if line.strip())
    for line_number, raw in records:
        where = f"line {line_number}"
        try:
            record = _csv_record(raw) if fmt == "csv" else _json_record(raw)
            spec, dataset = candidate_from_record(record, default_scope, default_dataset)
        except json.JSONDecodeError as exc:
            yield Rejected(where, f"not JSON: {exc.msg} at column {exc.colno}")
        except InvalidInputError as exc:
            yield Rejected(where, str(exc))
        else:
            yield Candidate(where, spec, dataset)


def manifest_format(path: Path, given: str | None) -> str:
    """``csv`` or ``jsonl``, from the option or the file name."""
    if given:
        return given
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def _complete(characterisation: dict[str, Any], spec: FileSpec, region: Any) -> dict[str, Any]:
    values = dict(characterisation)
    if region is not None and (
        "s_ra" not in values or "s_dec" not in values or "s_fov" not in values
    ):
        ra, dec, fov = region.centre_and_fov()
        values.setdefault("s_ra", ra)
        values.setdefault("s_dec", dec)
        values.setdefault("s_fov", fov)
    if region is not None:
        values["s_region"] = region.to_stcs()
    values.setdefault("access_estsize", -(-spec.bytes // 1000))
    return values


def footprints(
    texts: Sequence[str | None], order: int
) -> list[tuple[Region | None, Coverage | None] | InvalidInputError]:
    """Each ``s_region`` parsed, with its MOC at ``order``; polygons in one mocpy call.

    An unreadable region, or one that covers no sky, is its error instead.
    """
    regions: list[Region | InvalidInputError | None] = []
    for text in texts:
        try:
            regions.append(parse_stcs(text) if text else None)
        except InvalidInputError as exc:
            regions.append(exc)
    polygons = [r for r in regions if isinstance(r, Polygon)]
    polygon_mocs = iter(from_polygons(polygons, order))
    out: list[tuple[Region | None, Coverage | None] | InvalidInputError] = []
    for region in regions:
        if isinstance(region, InvalidInputError):
            out.append(region)
            continue
        coverage: Coverage | None = None
        if isinstance(region, Polygon):
            coverage = next(polygon_mocs)
        elif region is not None:
            coverage = Coverage.from_region(region, order)
        if coverage is not None and coverage.is_empty:
            out.append(InvalidInputError("covers no sky"))
        else:
            out.append((region, coverage))
    return out


def prepare(candidates: Sequence[Candidate], order: int) -> list[PreparedFile | Rejected]:
    """Validate regions and compute each file's MOC at ``order``."""
    texts = [c.spec.characterisation.get("s_region") for c in candidates]
    out: list[PreparedFile | Rejected] = []
    for candidate, found in zip(candidates, footprints(texts, order), strict=True):
        if isinstance(found, InvalidInputError):
            out.append(Rejected(candidate.where, f"s_region: {found}"))
            continue
        region, coverage = found
        characterisation = _complete(dict(candidate.spec.characterisation), candidate.spec, region)
        out.append(PreparedFile(candidate.spec, characterisation, coverage))
    return out


def _fits_candidate(
    path: Path, root: Path, key_scope: str, rse: str, dataset: DIDKey | None
) -> Candidate:
    from catalogue.fits import describe_fits  # noqa: PLC0415 - astropy.io.fits only for FITS

    description = describe_fits(path)
    relative = path.resolve().relative_to(root.resolve()).as_posix()
    spec = FileSpec(
        key=DIDKey(key_scope, check_name(relative)),
        bytes=description.bytes,
        adler32=description.adler32,
        md5=description.md5,
        characterisation=parse_characterisation(description.characterisation),
        replicas=(ReplicaSpec(rse=rse, path=relative),),
    )
    return Candidate(str(path), spec, dataset)


def read_fits(
    paths: Sequence[Path], scope: str, rse: str, dataset: str | None, root: Path | None = None
) -> Iterator[Candidate | Rejected]:
    """FITS files under ``paths``, each described from its headers, or why it cannot be.

    A file's DID name and its replica path are its path relative to ``root`` (by default the
    directory given, or a given file's own directory), so the replica URL is the RSE's base URL
    joined with it.
    """
    from catalogue.fits import find_fits  # noqa: PLC0415

    check_scope(scope)
    dataset_key = (
        (DIDKey.parse(dataset) if ":" in dataset else DIDKey(scope, check_name(dataset)))
        if dataset
        else None
    )
    for given in paths:
        base = root or (given if given.is_dir() else given.parent)
        if not given.exists():
            yield Rejected(str(given), "no such file or directory")
            continue
        for path in find_fits([given]):
            try:
                yield _fits_candidate(path, base, scope, rse, dataset_key)
            except InvalidInputError as exc:
                yield Rejected(str(path), str(exc))
            except ValueError as exc:  # a path outside --root
                yield Rejected(str(path), f"not under --root {base}: {exc}")
