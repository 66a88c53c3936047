"""The catalogue's domain objects: DIDs, files, RSEs, replicas, typed metadata (Rucio's model)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from catalogue.errors import InvalidInputError

T = TypeVar("T")

MetaValue = str | int | float | bool | datetime | list[Any]

_SCOPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_NAME = re.compile(r"^[^\s:][^\s]{0,499}$")
_ADLER32_DIGITS = 8
_ADLER32 = re.compile(r"^[0-9a-f]{8}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")


class DIDType(StrEnum):
    """What a DID names: a file, a set of files, or a set of collections."""

    FILE = "FILE"
    DATASET = "DATASET"
    CONTAINER = "CONTAINER"


class ReplicaState(StrEnum):
    """Rucio's replica states."""

    AVAILABLE = "AVAILABLE"
    COPYING = "COPYING"
    UNAVAILABLE = "UNAVAILABLE"
    BAD = "BAD"


class Intersect(StrEnum):
    """How a DID's coverage must relate to a query region (the CDS MOCServer's ``intersect``)."""

    OVERLAPS = "overlaps"
    ENCLOSED = "enclosed"
    COVERS = "covers"


@dataclass(frozen=True, slots=True, order=True)
class DIDKey:
    """``scope:name``, the identity of a DID for all time."""

    scope: str
    name: str

    @classmethod
    def parse(cls, text: str) -> DIDKey:
        """Read ``scope:name``."""
        scope, sep, name = text.partition(":")
        if not sep:
            msg = f"DID {text!r} must be written scope:name"
            raise InvalidInputError(msg)
        return cls(check_scope(scope), check_name(name))

    def __str__(self) -> str:
        return f"{self.scope}:{self.name}"


def check_scope(scope: str) -> str:
    """Validate a scope name as Rucio does (letters, digits, ``_ . -``, at most 64)."""
    if not _SCOPE.match(scope):
        msg = f"scope {scope!r} must be 1-64 characters of letters, digits, '_', '.', '-'"
        raise InvalidInputError(msg)
    return scope


def check_name(name: str) -> str:
    """Validate a DID name: no whitespace, not starting with ':', at most 500 characters."""
    if not _NAME.match(name):
        msg = f"DID name {name!r} must be 1-500 characters without whitespace"
        raise InvalidInputError(msg)
    return name


def check_adler32(value: str) -> str:
    """Normalise an adler32 checksum to 8 lower-case hex digits."""
    text = value.lower().removeprefix("ad:")
    text = text.rjust(_ADLER32_DIGITS, "0")  # Rucio strips leading zeros
    if not _ADLER32.match(text):
        msg = f"adler32 {value!r} must be 8 hexadecimal digits"
        raise InvalidInputError(msg)
    return text


def check_md5(value: str) -> str:
    """Normalise an md5 checksum to 32 lower-case hex digits."""
    text = value.lower()
    if not _MD5.match(text):
        msg = f"md5 {value!r} must be 32 hexadecimal digits"
        raise InvalidInputError(msg)
    return text


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: a token's subject with its groups and scopes.

    Every write names its caller; :mod:`catalogue.authorization` decides what each may do.
    The command line acts as :data:`LOCAL_OPERATOR`, the API as the request's token's caller.
    """

    subject: str
    groups: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    authenticated: bool = True  # False only for ANONYMOUS: nobody presented a token


LOCAL_OPERATOR = Caller("local-operator")
ANONYMOUS = Caller("anonymous", authenticated=False)


@dataclass(frozen=True, slots=True)
class RSE:
    """A storage element: where replicas live, and with what quality of service."""

    name: str
    base_url: str
    qos_class: str | None = None
    deterministic: bool = True
    read_only: bool = False


_RSE_NAME = re.compile(r"^[A-Z0-9][A-Z0-9_\-]{0,63}$", re.IGNORECASE)
_BASE_URL = re.compile(r"^[a-z][a-z0-9+.\-]*://[^/\s:]+(:\d+)?(/\S*)?$")


def check_rse(rse: RSE) -> RSE:
    """Validate an RSE's name and base URL (``scheme://host[:port][/prefix]``)."""
    if not _RSE_NAME.match(rse.name):
        msg = f"RSE name {rse.name!r} must be letters, digits, '_' or '-' (at most 64)"
        raise InvalidInputError(msg)
    if not _BASE_URL.match(rse.base_url):
        msg = f"RSE base URL {rse.base_url!r} must look like scheme://host:port/prefix"
        raise InvalidInputError(msg)
    return rse


@dataclass(frozen=True, slots=True)
class ReplicaSpec:
    """A replica to register: an RSE and either a URL or a path relative to its base URL."""

    rse: str
    url: str | None = None
    path: str | None = None
    state: ReplicaState = ReplicaState.AVAILABLE


@dataclass(frozen=True, slots=True)
class Replica:
    """A stored replica of a file on an RSE."""

    rse: str
    url: str
    state: ReplicaState
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FileSpec:
    """Everything needed to register one file: identity, checksums, description, replicas."""

    key: DIDKey
    bytes: int
    adler32: str
    md5: str | None = None
    guid: str | None = None
    characterisation: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)
    replicas: Sequence[ReplicaSpec] = ()


@dataclass(frozen=True, slots=True)
class DID:
    """A stored DID with its system attributes."""

    id: int
    key: DIDKey
    type: DIDType
    created_at: datetime
    updated_at: datetime
    bytes: int | None = None
    adler32: str | None = None
    md5: str | None = None
    guid: str | None = None
    is_open: bool | None = None
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Extent:
    """A DID's aggregated coverage: sky fraction, time (MJD) and wavelength (m) ranges."""

    sky_fraction: float | None
    moc_order: int | None
    t_min: float | None
    t_max: float | None
    em_min: float | None
    em_max: float | None


@dataclass(frozen=True, slots=True)
class DIDDetail:
    """A DID with everything the catalogue knows about it."""

    did: DID
    characterisation: Mapping[str, Any]
    metadata: Mapping[str, MetaValue]
    replicas: Sequence[Replica]
    extent: Extent | None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results, the total that matched, and the cursor of the next page."""

    items: Sequence[T]
    total: int
    next_cursor: str | None
    cursors: Sequence[str] = ()  # one per item: where a page starting after it would begin


@dataclass(slots=True)
class RunSummary:
    """What an ingest run did, for the operator's summary line."""

    registered: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    without_coverage: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    outcomes: dict[str, str] | None = None  # where -> registered | unchanged, when asked for

    def __str__(self) -> str:
        return (
            f"registered {self.registered}, unchanged {self.unchanged}, "
            f"skipped {self.skipped}, failed {self.failed}"
        )


_META_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
_SCALARS = (str, int, float, bool, datetime)


def check_metadata(metadata: Mapping[str, Any]) -> dict[str, MetaValue]:
    """Validate metadata keys and values: scalars, or flat lists of scalars."""
    for key, value in metadata.items():
        if not _META_KEY.match(key):
            msg = f"metadata key {key!r} must start with a letter or '_' (at most 128 characters)"
            raise InvalidInputError(msg)
        if isinstance(value, list):
            if not all(isinstance(v, _SCALARS) for v in value):
                msg = f"metadata {key!r}: a list may hold only strings, numbers, booleans, times"
                raise InvalidInputError(msg)
        elif not isinstance(value, _SCALARS):
            msg = f"metadata {key!r}: {type(value).__name__} values are not supported"
            raise InvalidInputError(msg)
        if isinstance(value, float) and value != value:  # noqa: PLR0124 - NaN check
            msg = f"metadata {key!r}: NaN is not a value"
            raise InvalidInputError(msg)
    return dict(metadata)
