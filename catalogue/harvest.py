"""Records harvested from the Virtual Observatory, and the runs that bring them (docs/harvest.md).

A *source* is one remote thing harvested under one name: a TAP service's ObsCore table (with
its ``--where``), a RegTAP registry query, or a HiPS list. Its records live in a scope of
their own, named after the source, so that every interface can tell them from the lake's
own files (the ``source`` filter and facet) and a harvested name never collides with a lake
one. Each record keeps its remote identity (``obs_publisher_did``, ``ivoid``, HiPS
``creator_did``): re-harvesting updates it in place, and a record the source no longer
has is *withdrawn* — kept, flagged, and left out of searches.

The protocol readers live in ``bridges/harvest/``; they turn remote answers into
:class:`HarvestedRecord` values and hand them to a :class:`catalogue.harvesting.Harvest`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

from catalogue.coverage import Coverage
from catalogue.errors import InvalidInputError
from catalogue.models import DIDType, MetaValue, check_name, check_scope

#: The ``source`` of the lake's own records (every scope that is not a harvest source's).
LAKE_SOURCE = "lake"
_NAME_LIMIT = 500
_SOURCE_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")
_NAME_SAFE = "".join(chr(c) for c in range(33, 127) if chr(c) != "%")  # printable, not %


class SourceKind(StrEnum):
    """What a source is read with."""

    TAP = "tap"  # ObsCore rows from a TAP service
    REGISTRY = "registry"  # VO resources from a RegTAP service
    HIPS = "hips"  # HiPS surveys from a HiPS list or properties file


class RunStatus(StrEnum):
    """Where a harvest run stands."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"  # read to the end; records the source no longer has withdrawn
    INCOMPLETE = "incomplete"  # stopped at --max-records: nothing withdrawn
    FAILED = "failed"  # stopped by an error; what it committed stays, and it can resume


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as the operator names it: the same name always means the same query."""

    name: str
    kind: SourceKind
    url: str
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_source_name(self.name)


def check_source_name(name: str) -> str:
    """A source name is a scope name, and never the lake's own ``lake``."""
    if name == LAKE_SOURCE:
        msg = f"{LAKE_SOURCE!r} names the lake's own records; give the source another name"
        raise InvalidInputError(msg)
    return check_scope(name)


def default_source_name(url: str, kind: SourceKind) -> str:
    """A source name from a URL: ``vo.<host>`` for TAP, ``registry.``/``hips.`` otherwise."""
    host = urlsplit(url).hostname or "remote"
    prefix = "vo" if kind is SourceKind.TAP else kind.value
    return check_scope(_SOURCE_CHARS.sub("-", f"{prefix}.{host}")[:64].strip("-."))


def record_name(remote_id: str) -> str:
    """The DID name of a harvested record: its remote identifier, readable and one-to-one.

    ``ivo://org.gavo.dc/~?lofar/1`` becomes ``org.gavo.dc/~?lofar/1``; whitespace and ``%``
    are percent-encoded so that distinct identifiers stay distinct names; an identifier too
    long for a DID name keeps its start and a digest of the whole.
    """
    if not remote_id.strip():
        msg = "a harvested record needs a non-empty identifier"
        raise InvalidInputError(msg)
    text = quote(remote_id.removeprefix("ivo://"), safe=_NAME_SAFE)
    if text.startswith(":"):
        text = "%3A" + text[1:]
    if len(text) > _NAME_LIMIT:
        digest = hashlib.sha256(remote_id.encode()).hexdigest()[:16]
        text = f"{text[: _NAME_LIMIT - 17]}~{digest}"
    return check_name(text)


@dataclass(frozen=True, slots=True)
class HarvestedRecord:
    """One remote record as the catalogue will hold it.

    ``characterisation`` holds ObsCore fields by name (typed as
    :func:`catalogue.obscore.parse_characterisation` returns them); ``metadata`` whatever
    else the remote said that a query may want; ``coverage`` a MOC the remote published
    (HiPS ``Moc.fits``, RegTAP ``stc_spatial``) — without one, ``s_region`` makes it.
    """

    remote_id: str
    did_type: DIDType
    characterisation: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)
    coverage: Coverage | None = None
    bytes: int | None = None

    @property
    def name(self) -> str:
        """The record's DID name in its source's scope."""
        return record_name(self.remote_id)

    def digest(self) -> str:
        """What re-harvesting compares: a record whose digest is unchanged is not rewritten."""
        # repr of plain values (str, int, float, bool, datetime, lists of them) is exact and
        # stable across runs, and three times cheaper than JSON at 100,000 records a run.
        body = (
            self.did_type.value,
            sorted(self.characterisation.items()),
            sorted(self.metadata.items()),
            self.bytes,
            hashlib.sha256(self.coverage.to_bytes()).hexdigest()
            if self.coverage is not None
            else None,
        )
        return hashlib.sha256(repr(body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """A remote record that could not be taken: which one, and why."""

    where: str
    reason: str


@dataclass(slots=True)
class RunCounts:
    """What a run did to the source's records."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    failed: int = 0

    def add(self, other: RunCounts) -> None:
        """Accumulate another chunk's counts."""
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.withdrawn += other.withdrawn
        self.failed += other.failed

    def __str__(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"withdrawn {self.withdrawn}, failed {self.failed}"
        )


@dataclass(frozen=True, slots=True)
class HarvestRun:
    """One recorded run: its source, what it was asked, when, what it did, what went wrong."""

    id: int
    source: str
    kind: SourceKind
    url: str
    parameters: Mapping[str, Any]
    started_at: datetime
    ended_at: datetime | None
    status: RunStatus
    counts: RunCounts
    problems: Sequence[RecordProblem]
    error: str | None
    resume_after: str | None  # the last remote key committed (TAP keyset harvests)


@dataclass(frozen=True, slots=True)
class HarvestInfo:
    """Where a harvested DID came from and when it was last confirmed there."""

    source: str
    kind: SourceKind
    url: str
    remote_id: str
    first_harvested: datetime
    last_harvested: datetime
    withdrawn_at: datetime | None
