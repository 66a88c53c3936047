"""The search port: one query shape, one result shape, two backends (docs/search.md).

A portal's search box over the lake: full text, the metadata filter language, region,
time and wavelength, facets with counts, sorted and paged with ``search_after`` cursors.
Two backends answer it with the same semantics — the relational store (the embedded
default: SQLite FTS5 or PostgreSQL full text, ``catalogue/store/search_sql.py``) and
Elasticsearch (``indexer/``) — and return DID keys with scores only: the store supplies
every field, so there is one truth.

Text is tokenised once, here, by :func:`tokens`, for documents and queries alike, so both
backends see the same terms: lower-cased runs of letters and digits (``L650884_SAP000``
gives ``l650884`` and ``sap000``; ``3C196`` gives ``3c196``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from catalogue.authorization import PUBLIC, Viewer
from catalogue.errors import InvalidQueryError
from catalogue.filters import Filter
from catalogue.models import DIDKey, DIDType
from catalogue.query import RegionFilter

#: Totals are exact up to this many hits; above it a backend may report a lower bound
#: (``total_exact`` False), as Elasticsearch's ``track_total_hits`` does.
TOTAL_EXACT_UP_TO = 10_000
MAX_SEARCH_PAGE = 500
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """The search terms of a text: lower-cased runs of letters and digits."""
    return [t.lower() for t in _TOKEN.findall(text)]


class SearchSort(StrEnum):
    """Orders a search can return; every order ends with the DID id as a tiebreaker."""

    RELEVANCE = "relevance"
    TIME = "time"  # t_min (MJD); DIDs without a time sort last either way
    NAME = "name"
    SIZE = "size"  # bytes; collections and unknown sizes sort last either way


class SearchFacet(StrEnum):
    """The fields a search counts its hits by (a portal's facets down the side)."""

    COLLECTION = "obs_collection"
    FACILITY = "facility_name"
    INSTRUMENT = "instrument_name"
    DATAPRODUCT_TYPE = "dataproduct_type"
    CALIB_LEVEL = "calib_level"
    BAND = "band"  # catalogue.bands names overlapping the DID's wavelength range
    RSE = "rse"
    SCOPE = "scope"
    SOURCE = "source"  # "lake" for the lake's own records; harvested ones name their source
    DATA_RIGHTS = "data_rights"
    TYPE = "did_type"


@dataclass(frozen=True, slots=True)
class TextQuery:
    """Full text: every term must match (AND), phrases consecutively, ``term*`` as a prefix.

    Parsed from what a person types: ``lofar 3c196``, ``"crab nebula" gamma``, ``calex*``.
    """

    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TextQuery:
        """Split a search box's text into terms, quoted phrases and ``prefix*`` terms."""
        terms: list[str] = []
        phrases: list[tuple[str, ...]] = []
        prefixes: list[str] = []
        parts = text.split('"')
        if len(parts) % 2 == 0:
            msg = f"unbalanced quote in search text {text!r}"
            raise InvalidQueryError(msg)
        for i, part in enumerate(parts):
            if i % 2:
                phrase = tuple(tokens(part))
                if len(phrase) == 1:
                    terms.append(phrase[0])
                elif phrase:
                    phrases.append(phrase)
                continue
            for word in part.split():
                found = tokens(word)
                if word.endswith("*") and found:
                    terms.extend(found[:-1])
                    prefixes.append(found[-1])
                else:
                    terms.extend(found)
        return cls(tuple(terms), tuple(phrases), tuple(prefixes))

    @property
    def is_empty(self) -> bool:
        """No term at all: the query matches everything (ranked equally)."""
        return not (self.terms or self.phrases or self.prefixes)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A search: every given criterion must hold. Time in MJD, wavelengths in metres."""

    text: TextQuery = field(default_factory=TextQuery)
    filter: Filter | None = None
    scopes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # "lake" and/or harvest source names
    types: tuple[DIDType, ...] = ()
    region: RegionFilter | None = None
    time: tuple[float | None, float | None] | None = None
    spectral: tuple[float | None, float | None] | None = None
    facets: tuple[SearchFacet, ...] = ()
    facet_limit: int = 20
    sort: SearchSort = SearchSort.RELEVANCE
    descending: bool = False  # RELEVANCE is always best first
    limit: int = 20
    after: str | None = None  # a cursor from a previous page of the same query
    #: Whose eyes the results are for: embargoed records they may not see are left out.
    viewer: Viewer = PUBLIC

    def __post_init__(self) -> None:
        if not 0 <= self.limit <= MAX_SEARCH_PAGE:
            msg = f"page size {self.limit} must be between 0 and {MAX_SEARCH_PAGE}"
            raise InvalidQueryError(msg)
        for label, bounds in (("time", self.time), ("spectral", self.spectral)):
            if bounds and None not in bounds and bounds[0] > bounds[1]:  # type: ignore[operator]
                msg = f"{label} range starts after it ends: {bounds}"
                raise InvalidQueryError(msg)

    def fingerprint(self) -> str:
        """A digest of everything but the page size and cursor: cursors are bound to it."""
        region = None
        if self.region is not None:
            digest = hashlib.sha256(self.region.coverage.to_bytes()).hexdigest()
            region = [digest, self.region.intersect.value, repr(self.region.shape)]
        parts = [
            repr(self.text),
            repr(self.filter),
            list(self.scopes),
            list(self.sources),
            [t.value for t in self.types],
            region,
            self.time,
            self.spectral,
            self.sort.value,
            self.descending,
            self.viewer.to_json(),
        ]
        text = json.dumps(parts, default=str, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One hit: which DID, and its relevance score (backend-specific scale; None unranked)."""

    key: DIDKey
    did_id: int
    score: float | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of hits, the total, the facet counts and the next page's cursor."""

    hits: Sequence[SearchHit]
    total: int
    total_exact: bool
    facets: dict[SearchFacet, list[tuple[str, int]]]
    next_cursor: str | None


class SearchBackend(Protocol):
    """What answers a :class:`SearchQuery`: the relational store or Elasticsearch."""

    name: str

    async def search(self, query: SearchQuery) -> SearchResult:
        """One page of hits for the query."""
        ...


def encode_after(
    query: SearchQuery, values: Sequence[Any], total: tuple[int, bool] | None = None
) -> str:
    """A ``search_after`` cursor: the last hit's sort values (ending with its id).

    A backend may carry the first page's ``(total, total_exact)`` along, so that later pages
    need not count again (:func:`carried_total`); the total is then the first page's.
    """
    body: dict[str, Any] = {"q": query.fingerprint(), "v": list(values)}
    if total is not None:
        body["t"] = [int(total[0]), bool(total[1])]
    payload = json.dumps(body)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _payload(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as exc:
        msg = "the cursor is not one this service issued"
        raise InvalidQueryError(msg) from exc
    if not isinstance(payload, dict):
        msg = "the cursor is not one this service issued"
        raise InvalidQueryError(msg)
    return payload


def carried_total(query: SearchQuery) -> tuple[int, bool] | None:
    """The ``(total, total_exact)`` a cursor carries from the first page, if any."""
    if query.after is None:
        return None
    carried = _payload(query.after).get("t")
    if not (isinstance(carried, list) and len(carried) == 2):  # noqa: PLR2004
        return None
    return int(carried[0]), bool(carried[1])


def decode_after(query: SearchQuery) -> list[Any] | None:
    """The sort values a query's cursor points after; a foreign cursor is an error."""
    if query.after is None:
        return None
    payload = _payload(query.after)
    try:
        fingerprint, values = payload["q"], list(payload["v"])
    except (KeyError, TypeError) as exc:
        msg = "the cursor is not one this service issued"
        raise InvalidQueryError(msg) from exc
    if fingerprint != query.fingerprint():
        msg = (
            "the cursor belongs to a search with other arguments; "
            "repeat the arguments of the search that returned it"
        )
        raise InvalidQueryError(msg)
    return values
