"""What a DID search asks for, and the opaque cursors that page through its answer."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from catalogue.authorization import PUBLIC, Viewer
from catalogue.coverage import Coverage
from catalogue.errors import InvalidQueryError
from catalogue.filters import Filter
from catalogue.models import DIDKey, DIDType, Intersect
from catalogue.region import Region

MAX_PAGE = 2000


class SortKey(StrEnum):
    """Orders a search can return."""

    NAME = "name"
    CREATED = "created_at"
    SIZE = "bytes"
    TIME = "t_min"


class FacetField(StrEnum):
    """Fields a search can count its results by."""

    SCOPE = "scope"
    TYPE = "did_type"
    COLLECTION = "obs_collection"
    FACILITY = "facility_name"
    INSTRUMENT = "instrument_name"
    DATAPRODUCT_TYPE = "dataproduct_type"
    CALIB_LEVEL = "calib_level"
    TARGET = "target_name"
    DATA_RIGHTS = "data_rights"
    RSE = "rse"


@dataclass(frozen=True, slots=True, eq=False)
class RegionFilter:
    """A sky region and how each DID's coverage must relate to it.

    ``shape`` is the cone or polygon the MOC was made from, when there is one: files with an
    ``s_region`` are then decided by exact geometry, everything else by MOC.
    """

    coverage: Coverage
    intersect: Intersect = Intersect.OVERLAPS
    shape: Region | None = None

    @classmethod
    def from_shape(
        cls, shape: Region, order: int, intersect: Intersect = Intersect.OVERLAPS
    ) -> RegionFilter:
        """A filter for a cone or polygon, with its MOC at ``order``."""
        return cls(Coverage.from_region(shape, order), intersect, shape)


@dataclass(frozen=True, slots=True, eq=False)
class DIDQuery:
    """A search over DIDs: every given criterion must hold.

    Time bounds are MJD and wavelength bounds metres; a DID matches a range when its own
    range overlaps it.
    """

    scopes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # "lake" and/or harvest source names (catalogue/harvest.py)
    types: tuple[DIDType, ...] = ()
    name: str | None = None
    parent: DIDKey | None = None
    filter: Filter | None = None
    region: RegionFilter | None = None
    time: tuple[float | None, float | None] | None = None
    spectral: tuple[float | None, float | None] | None = None
    sort: SortKey = SortKey.NAME
    descending: bool = False
    limit: int = 100
    cursor: str | None = None
    #: Whose eyes the results are for: embargoed records they may not see are left out.
    viewer: Viewer = PUBLIC

    def __post_init__(self) -> None:
        if not 0 <= self.limit <= MAX_PAGE:
            raise InvalidQueryError(f"page size {self.limit} must be between 0 and {MAX_PAGE}")
        for label, bounds in (("time", self.time), ("spectral", self.spectral)):
            if bounds and None not in bounds and bounds[0] > bounds[1]:  # type: ignore[operator]
                raise InvalidQueryError(f"{label} range starts after it ends: {bounds}")

    def fingerprint(self) -> str:
        """A digest of everything but the page size and cursor, to bind cursors to a query."""
        region = None
        if self.region is not None:
            digest = hashlib.sha256(self.region.coverage.to_bytes()).hexdigest()
            region = [digest, self.region.intersect.value, repr(self.region.shape)]
        parts = [
            str(self.parent),
            list(self.scopes),
            list(self.sources),
            [t.value for t in self.types],
            self.name,
            repr(self.filter),
            region,
            self.time,
            self.spectral,
            self.sort.value,
            self.descending,
            self.viewer.to_json(),
        ]
        text = json.dumps(parts, default=str, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)


def mjd(moment: datetime) -> float:
    """Modified Julian Date (UTC, leap seconds ignored: below a millisecond per day)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - _MJD_EPOCH).total_seconds() / 86400.0


def datetime_from_mjd(value: float) -> datetime:
    """The UTC moment of a Modified Julian Date (the inverse of :func:`mjd`)."""
    return _MJD_EPOCH + timedelta(days=value)


def encode_cursor(query: DIDQuery, sort_value: Any, did_id: int) -> str:
    """An opaque cursor: the last row's sort value and id, bound to the query."""
    value = sort_value.isoformat() if isinstance(sort_value, datetime) else sort_value
    payload = json.dumps({"q": query.fingerprint(), "v": value, "i": did_id})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(query: DIDQuery) -> tuple[Any, int] | None:
    """The position a query's cursor points after; a cursor from another query is an error."""
    if query.cursor is None:
        return None
    try:
        padded = query.cursor + "=" * (-len(query.cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        fingerprint, value, did_id = payload["q"], payload["v"], int(payload["i"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidQueryError("the cursor is not one this service issued") from exc
    if fingerprint != query.fingerprint():
        raise InvalidQueryError(
            "the cursor belongs to a query with other arguments; "
            "repeat the arguments of the query that returned it"
        )
    if query.sort is SortKey.CREATED and isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value, did_id
