"""A :class:`~catalogue.search.SearchQuery` as an Elasticsearch request body.

Text scores (``must``); everything else filters. A region becomes ``long_range`` intersects
clauses over the query MOC's ranges: a superset of the answer (both MOCs are coarsened), which
the backend then decides exactly from the store (indexer/backend.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from catalogue.authorization import Viewer
from catalogue.coverage import Coverage
from catalogue.search import SearchFacet, SearchQuery, SearchSort, TextQuery
from indexer.filter_es import Query, all_of, any_of, exists, filter_query, negate
from indexer.mapping import micros

#: A region query is coarsened until its MOC has at most this many ranges (bool clauses).
QUERY_MOC_RANGES = 256
# Stand-ins for a missing time or size, so such DIDs sort last either way (as the store does).
_BEYOND = 1e300
# beyond any file's size, and within ±2^62: osmem (the test server) wraps Long.MAX_VALUE
_NO_SIZE = 2**62


def moc_cells(coverage: Coverage, max_ranges: int) -> tuple[np.ndarray, int]:
    """The coverage coarsened until it has at most ``max_ranges`` ranges, and its order.

    Coarsening only grows a MOC, so overlap with the cells is a superset of overlap with
    the MOC; the finest order that fits keeps the false candidates fewest.
    """
    cov = coverage
    while len(cov.ranges) > max_ranges and cov.order > 0:
        cov = cov.degrade(cov.order - 1)
    return cov.ranges, cov.order


def text_clauses(text: TextQuery) -> list[Query]:
    """Every term, phrase and prefix must match (they are already tokens)."""
    clauses: list[Query] = [{"term": {"text": term}} for term in text.terms]
    clauses += [{"match_phrase": {"text": " ".join(phrase)}} for phrase in text.phrases]
    clauses += [{"prefix": {"text": prefix}} for prefix in text.prefixes]
    return clauses


def _overlap(low: str, high: str, bounds: tuple[float | None, float | None]) -> Query:
    """The store's rule: a DID with a start overlaps when ``[start, end or start]`` meets it."""
    start, end = bounds
    parts = [exists(low)]
    if start is not None:
        parts.append({"range": {high: {"gte": start}}})
    if end is not None:
        parts.append({"range": {low: {"lte": end}}})
    return all_of(*parts)


def region_clause(coverage: Coverage) -> Query:
    """DIDs whose indexed cells meet the (coarsened) query MOC: the region's candidates."""
    ranges, _ = moc_cells(coverage, QUERY_MOC_RANGES)
    return any_of(
        *(
            {"range": {"moc": {"gte": int(lo), "lt": int(hi), "relation": "intersects"}}}
            for lo, hi in ranges.tolist()
        )
    )


def visible_to(viewer: Viewer, now: datetime) -> list[Query]:
    """The embargo rule of catalogue/store/visibility.py as a filter (none for an operator)."""
    if viewer.everything:
        return []
    released = [
        negate(exists("embargo_until")),
        {"range": {"embargo_until": {"lte": micros(now)}}},
    ]
    if viewer.scopes:
        released.append({"terms": {"embargo_scope": sorted(viewer.scopes)}})
    return [any_of(*released)]


def filters(query: SearchQuery) -> list[Query]:
    """Every criterion but the text, as filter clauses; the viewer's embargo rule first."""
    parts: list[Query] = visible_to(query.viewer, datetime.now(UTC))
    if query.scopes:
        parts.append({"terms": {"scope": list(query.scopes)}})
    if query.sources:
        parts.append({"terms": {f"f.{SearchFacet.SOURCE.value}": list(query.sources)}})
    if query.types:
        parts.append({"terms": {"did_type": [t.value for t in query.types]}})
    if query.filter is not None:
        parts.append(filter_query(query.filter))
    if query.time is not None:
        parts.append(_overlap("t_min", "t_hi", query.time))
    if query.spectral is not None:
        parts.append(_overlap("em_min", "em_hi", query.spectral))
    if query.region is not None:
        parts.append(region_clause(query.region.coverage))
    return parts


def es_query(query: SearchQuery) -> Query:
    """The whole query: scored text, filtered rest."""
    return {"bool": {"must": text_clauses(query.text), "filter": filters(query)}}


def is_ranked(query: SearchQuery) -> bool:
    """Whether hits come best first by score (relevance with some text)."""
    return query.sort is SearchSort.RELEVANCE and not query.text.is_empty


def sort_orders(query: SearchQuery) -> list[str]:
    """``asc``/``desc`` of each sort value, for comparing cursors outside Elasticsearch."""
    if query.sort is SearchSort.RELEVANCE:
        return ["desc", "asc"] if is_ranked(query) else ["asc"]
    order = "desc" if query.descending else "asc"
    return [order, order]


def sort_spec(query: SearchQuery) -> list[dict[str, Any]]:
    """The sort, ending with the DID id as a tiebreaker (so ``search_after`` is exact)."""
    if query.sort is SearchSort.RELEVANCE:
        by_id = {"did_id": {"order": "asc"}}  # without text every hit ranks equal: id order
        return [{"_score": {"order": "desc"}}, by_id] if is_ranked(query) else [by_id]
    order = "desc" if query.descending else "asc"
    field: dict[str, Any]
    if query.sort is SearchSort.TIME:
        field = {"t_min": {"order": order, "missing": -_BEYOND if query.descending else _BEYOND}}
    elif query.sort is SearchSort.SIZE:
        missing = -_NO_SIZE if query.descending else _NO_SIZE
        field = {"size": {"order": order, "missing": missing}}
    else:
        field = {"name": {"order": order}}
    return [field, {"did_id": {"order": order}}]


def facet_aggs(query: SearchQuery) -> dict[str, Any]:
    """One terms aggregation per facet: count descending, then value ascending."""
    return {
        facet.value: {
            "terms": {
                "field": f"f.{facet.value}",
                "size": query.facet_limit,
                "order": [{"_count": "desc"}, {"_key": "asc"}],
            }
        }
        for facet in query.facets
    }
