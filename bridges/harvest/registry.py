"""Harvest VO resources from a RegTAP registry: one DATASET per resource (docs/harvest.md).

pyvo builds the registry query from the constraints (servicetype, data model, keywords,
sky region), as ``pyvo.registry.search`` would, and the registry answers it in one
request: a RegTAP answer is thousands of resources, not millions. The answer is sorted by
ivoid and committed in chunks; each chunk costs one more query, for its resources'
MOCs in ``rr.stc_spatial`` (the RegTAP 1.2 extension), when the registry has that table.

A registry that truncates its answer (a MAXREC overflow) gives an incomplete run: what it
sent is kept, nothing is withdrawn. A failed run resumes after the last committed ivoid,
re-reading the answer and skipping what the failed attempt already wrote.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any

import numpy as np
import requests
from pyvo.dal import TAPService
from pyvo.dal.exceptions import DALQueryError
from pyvo.registry import rtcons
from pyvo.registry.regtap import RegistryQuery, RegistryResults

from bridges.harvest.errors import RemoteError, describe
from bridges.harvest.http import DEFAULT_TIMEOUT, RemoteSession
from bridges.harvest.run import Chunk
from catalogue.coverage import Coverage
from catalogue.errors import InvalidInputError
from catalogue.harvest import (
    HarvestedRecord,
    RecordProblem,
    SourceKind,
    SourceSpec,
    default_source_name,
)
from catalogue.models import DIDType, Intersect, MetaValue, check_metadata
from catalogue.region import Circle, Region

DEFAULT_REGISTRY = "https://reg.g-vo.org/tap"
DEFAULT_CHUNK = 500
STC_SPATIAL = "rr.stc_spatial"
#: rr.resource columns kept as they are: (column, metadata key).
_TEXT_COLUMNS = (
    ("ivoid", "ivoid"),
    ("res_type", "res_type"),
    ("short_name", "short_name"),
    ("res_description", "description"),  # full-text search ranks "description" first
    ("reference_url", "reference_url"),
    ("rights", "rights"),
    ("source_format", "source_format"),
    ("source_value", "source_value"),
    ("alt_identifier", "alt_identifier"),  # older pyvo versions ask for it; DOIs are worth keeping
)
#: RegTAP keeps these vocabulary lists as one '#'-separated string.
_HASH_LISTS = ("content_level", "content_type", "waveband")
_DATES = ("created", "updated")
#: The parallel per-interface lists pyvo's query aggregates (one element per interface).
_INTERFACE_LISTS = ("access_urls", "standard_ids", "intf_types", "intf_roles", "cap_descriptions")


def adql_string(value: str) -> str:
    """An ADQL character literal: quoted, with its quotes doubled as ADQL writes them."""
    if "\x00" in value:
        msg = f"{value!r} holds a NUL character and cannot be sent to a registry"
        raise RemoteError(msg)
    return "'" + value.replace("'", "''") + "'"


def coverage_query(ivoids: Sequence[str]) -> str:
    """The ADQL asking for the MOCs of some resources; the ivoids are escaped literals."""
    literals = ", ".join(adql_string(i) for i in ivoids)
    return f"SELECT ivoid, coverage FROM {STC_SPATIAL} WHERE ivoid IN ({literals})"  # noqa: S608


def _remote_error(url: str, exc: Exception, timeout: float) -> RemoteError:
    """:func:`describe` on one line, of what really failed.

    pyvo reports a dropped connection as a VOTable format error, and an unreachable
    ``/capabilities`` with a paragraph of advice after the line that says what happened.
    """
    cause = getattr(exc, "cause", None)
    error = describe(url, cause if isinstance(cause, requests.RequestException) else exc, timeout)
    return RemoteError(" ".join(str(error).split("\n\n", 1)[0].split()))


class _Answer(RegistryResults):  # type: ignore[misc]  # pyvo is untyped
    """A registry's answer; an overflow is reported through :attr:`RegistryReader.complete`."""

    def _handle_overflow_warning(self, client_set_maxrec: int | None = None) -> None:
        del client_set_maxrec

    @property
    def overflowed(self) -> bool:
        """Whether the registry cut the answer short (DALI ``QUERY_STATUS=OVERFLOW``)."""
        return str(self.status[0]).upper() == "OVERFLOW"


def _value(resource: Any, column: str) -> Any:
    """A cell as plain Python: masked, NaN and empty values are ``None`` (VOTable nulls)."""
    value = resource.get(column, None, decode=True)
    if value is np.ma.masked:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _date(text: str) -> datetime | str:
    """RegTAP's ISO 8601 ``created``/``updated`` as a UTC time; other spellings are kept."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _interfaces(resource: Any) -> dict[str, MetaValue]:
    """The per-interface lists, each interface once (a registry's joins may repeat them)."""
    rows = list(zip_longest(*(resource[name] for name in _INTERFACE_LISTS), fillvalue=""))
    unique = list(dict.fromkeys(rows))
    if not unique:
        return {}
    found: dict[str, MetaValue] = {
        name: [row[i] for row in unique] for i, name in enumerate(_INTERFACE_LISTS)
    }
    found["capabilities"] = sorted(resource.access_modes())
    return found


def resource_record(resource: Any, row: int) -> HarvestedRecord | RecordProblem:
    """One ``pyvo.registry.RegistryResource`` as a harvested DATASET (the docs' mapping table).

    ``row`` (from 1) names a resource without an ivoid in the problem reported for it.
    """
    ivoid = _value(resource, "ivoid")
    if ivoid is None:
        return RecordProblem(f"row {row}", "no ivoid")
    metadata: dict[str, Any] = {}
    for column, key in _TEXT_COLUMNS:
        metadata[key] = _value(resource, column)
    for column in _HASH_LISTS:
        text = _value(resource, column)
        metadata[column] = [t for t in text.split("#") if t] if text else None
    for column in _DATES:
        text = _value(resource, column)
        metadata[column] = _date(text) if text else None
    creators = _value(resource, "creator_seq")
    metadata["creators"] = [c.strip() for c in creators.split(";") if c.strip()] or None
    metadata["region_of_regard"] = _value(resource, "region_of_regard")
    metadata.update(_interfaces(resource))
    title = _value(resource, "res_title")
    try:
        values = check_metadata({k: v for k, v in metadata.items() if v not in (None, [])})
    except InvalidInputError as exc:
        return RecordProblem(str(ivoid), str(exc))
    return HarvestedRecord(
        remote_id=str(ivoid),
        did_type=DIDType.DATASET,
        characterisation={"obs_title": str(title)} if title else {},
        metadata=values,
    )


def _constraints(
    servicetype: str | None,
    datamodel: str | None,
    keywords: Sequence[str],
    region: Region | None,
    intersect: Intersect,
) -> list[Any]:
    """The query's pyvo constraints; a value pyvo refuses is the operator's error."""
    if any(not k.strip() for k in keywords):
        msg = "registry keywords must not be empty"
        raise InvalidInputError(msg)
    found: list[Any] = []
    try:
        if servicetype:
            found.append(rtcons.Servicetype(servicetype))
        if datamodel:
            found.append(rtcons.Datamodel(datamodel))
        if keywords:
            found.append(rtcons.Freetext(*keywords))
        if region is not None:
            shape = (
                (region.ra, region.dec, region.radius)
                if isinstance(region, Circle)
                else [c for vertex in region.vertices for c in vertex]
            )
            found.append(rtcons.Spatial(shape, intersect=intersect.value))
    except DALQueryError as exc:
        raise InvalidInputError(str(exc)) from exc
    if not found:
        msg = "a registry harvest needs a servicetype, a data model, keywords or a region"
        raise InvalidInputError(msg)
    return found


class RegistryReader:
    """The resources a RegTAP registry returns for a query (bridges/harvest/run.py)."""

    def __init__(
        self,
        url: str = DEFAULT_REGISTRY,
        *,
        servicetype: str | None = None,
        datamodel: str | None = None,
        keywords: Sequence[str] = (),
        region: Region | None = None,
        intersect: Intersect = Intersect.OVERLAPS,
        source: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        chunk_size: int = DEFAULT_CHUNK,
        maxrec: int | None = None,
    ) -> None:
        if chunk_size < 1:
            msg = f"chunk size {chunk_size} must be at least 1"
            raise InvalidInputError(msg)
        self.url = url.rstrip("/")
        self._constraints = _constraints(servicetype, datamodel, keywords, region, intersect)
        self.chunk_size = chunk_size
        self.timeout = timeout
        self.maxrec = maxrec  # TAP's MAXREC; the registry's default limit otherwise
        parameters = {
            "servicetype": servicetype,
            "datamodel": datamodel,
            "keywords": list(keywords),
            "region": region.to_stcs() if region is not None else None,
            "intersect": intersect.value if region is not None else None,
        }
        name = source or default_source_name(self.url, SourceKind.REGISTRY)
        self.spec = SourceSpec(name, SourceKind.REGISTRY, self.url, parameters)
        self._complete = False
        #: Whether the last read met a MAXREC overflow (the CLI says so).
        self.overflow = False

    @property
    def complete(self) -> bool:
        """Whether the last read got the registry's whole answer."""
        return self._complete

    def chunks(self, resume_after: str | None) -> Iterator[Chunk]:
        """The resources in ivoid order, after ``resume_after``, each chunk with its MOCs."""
        self._complete = self.overflow = False
        service = TAPService(self.url, session=RemoteSession(self.timeout))
        resources = self._resources(service)
        rows = sorted(
            ((_value(r, "ivoid") or "", n, r) for n, r in enumerate(resources, start=1)),
            key=lambda row: (row[0], row[1]),
        )
        if resume_after is not None:
            rows = [row for row in rows if row[0] > resume_after]
        with_moc = bool(rows) and self._has_stc_spatial(service)
        for start in range(0, len(rows), self.chunk_size):
            part = rows[start : start + self.chunk_size]
            records = [resource_record(r, n) for _, n, r in part]
            if with_moc:
                records = self._with_coverages(service, records)
            yield Chunk(records, resume_after=part[-1][0] or None)
        self._complete = not self.overflow

    def _query(self, service: TAPService, adql: str, maxrec: int | None = None) -> _Answer:
        """Run one ADQL query; any failure becomes a :class:`RemoteError` naming the URL."""
        query = RegistryQuery(self.url, adql, maxrec=maxrec, session=service._session)  # noqa: SLF001
        try:
            return _Answer(query.execute_votable(), url=query.queryurl)
        except Exception as exc:
            raise _remote_error(query.queryurl, exc, self.timeout) from exc

    def _resources(self, service: TAPService) -> list[Any]:
        """The registry's answer as ``RegistryResource`` records."""
        try:
            adql = rtcons.build_regtap_query(self._constraints, service)
        except Exception as exc:  # capabilities or tables the constraints needed
            raise _remote_error(self.url, exc, self.timeout) from exc
        answer = self._query(service, adql, self.maxrec)
        missing = sorted({"ivoid", "res_title", *_INTERFACE_LISTS} - set(answer.fieldnames))
        if missing:
            msg = f"{answer.queryurl}: the registry's answer lacks the columns {missing}"
            raise RemoteError(msg)
        self.overflow = answer.overflowed
        return list(answer)

    def _has_stc_spatial(self, service: TAPService) -> bool:
        """Whether the registry has RegTAP 1.2's coverage table, as its TAP_SCHEMA says."""
        adql = f"SELECT table_name FROM TAP_SCHEMA.tables WHERE table_name = '{STC_SPATIAL}'"  # noqa: S608
        return len(self._query(service, adql)) > 0

    def _with_coverages(
        self, service: TAPService, records: list[HarvestedRecord | RecordProblem]
    ) -> list[HarvestedRecord | RecordProblem]:
        """The records with their MOCs; a malformed MOC is reported and the resource kept."""
        wanted = [r.remote_id for r in records if isinstance(r, HarvestedRecord)]
        if not wanted:
            return records
        answer = self._query(service, coverage_query(wanted))
        if answer.overflowed:
            msg = (
                f"{answer.queryurl}: the registry truncated the coverages of {len(wanted)} "
                "resources (MAXREC overflow); use a smaller chunk size"
            )
            raise RemoteError(msg)
        if not {"ivoid", "coverage"} <= set(answer.fieldnames):
            msg = f"{answer.queryurl}: the registry's coverages lack ivoid or coverage"
            raise RemoteError(msg)
        texts: dict[str, list[str]] = {}
        table = answer.to_table()
        for ivoid, text in zip(table["ivoid"], table["coverage"], strict=True):
            if text is not np.ma.masked and str(text).strip():
                texts.setdefault(str(ivoid), []).append(str(text))
        out: list[HarvestedRecord | RecordProblem] = []
        for record in records:
            if isinstance(record, HarvestedRecord) and record.remote_id in texts:
                found = _coverage(record.remote_id, texts[record.remote_id])
                if isinstance(found, RecordProblem):
                    out.append(found)
                elif found is not None:
                    record = replace(record, coverage=found)  # noqa: PLW2901 - now with its MOC
            out.append(record)
        return out


def _coverage(ivoid: str, texts: list[str]) -> Coverage | RecordProblem | None:
    """A resource's MOC (the union when the registry gives several); empty means none."""
    try:
        coverages = [Coverage.from_string(t) for t in texts]
    except InvalidInputError as exc:
        reason = " ".join(str(exc).split())  # mocpy's parse errors span lines
        return RecordProblem(ivoid, f"coverage in {STC_SPATIAL}: {reason}; harvested without it")
    coverage = coverages[0].union(*coverages[1:])
    return None if coverage.is_empty else coverage


__all__: Sequence[str] = ["RegistryReader", "adql_string", "coverage_query", "resource_record"]
