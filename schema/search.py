"""The ``search`` field: the portal's search box over the search port (docs/search.md).

The backend (the relational store or Elasticsearch) answers with DID keys and scores; the
DIDs themselves come from the store through the request's loaders, so a hit shows exactly
what ``did`` shows.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from catalogue import search as port
from catalogue.authorization import Viewer
from catalogue.errors import InvalidQueryError
from schema.context import Context
from schema.enums import SearchFacet, SearchSort
from schema.inputs import DIDFilterInput, at, input_error, to_query
from schema.types import DID, FacetValue, from_domain


@strawberry.type(description="One hit: the DID and its relevance score (higher is better).")
class SearchHit:
    did: DID
    score: float | None = strawberry.field(
        description="Backend-specific scale; null when the search has no text."
    )


@strawberry.type(description="Counts of the hits by one field's values, most frequent first.")
class SearchFacetCounts:
    field: SearchFacet  # type: ignore[valid-type]
    values: list[FacetValue]


@strawberry.type(description="A page of hits, the total, facet counts and the next page.")
class SearchResult:
    hits: list[SearchHit]
    total: int
    total_exact: bool = strawberry.field(
        description=f"False when more than {port.TOTAL_EXACT_UP_TO} hits matched: "
        "total is then a lower bound."
    )
    facets: list[SearchFacetCounts]
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last page."
    )
    backend: str = strawberry.field(description="What answered: relational or elasticsearch.")


def to_search(
    text: str | None,
    filter: DIDFilterInput | None,
    facets: list[port.SearchFacet],
    facet_limit: int,
    sort: port.SearchSort,
    descending: bool,
    first: int,
    after: str | None,
    order: int,
    viewer: Viewer,
) -> port.SearchQuery:
    """The port's query for the field's arguments; errors name the argument."""
    if filter is not None and filter.name is not None:
        raise input_error("filter.name", "use text to search names")
    base = to_query(filter, None, 0, None, order, viewer)
    with at("text"):
        parsed = port.TextQuery.parse(text or "")
    if not 1 <= facet_limit <= 1000:  # noqa: PLR2004
        raise input_error("facetLimit", "must be between 1 and 1000")
    with at("first"):
        query = port.SearchQuery(
            text=parsed,
            filter=base.filter,
            scopes=base.scopes,
            sources=base.sources,
            types=base.types,
            region=base.region,
            time=base.time,
            spectral=base.spectral,
            facets=tuple(facets),
            facet_limit=facet_limit,
            sort=sort,
            descending=descending,
            limit=first,
            after=after,
            viewer=viewer,
        )
    with at("after"):
        port.decode_after(query)
    return query


@strawberry.type
class SearchQueries:
    @strawberry.field(
        description="Full-text search with filters, region, time and wavelength, facets and "
        "search_after paging; the same answers from the relational store and Elasticsearch."
    )
    async def search(
        self,
        info: Info[Context, None],
        text: str | None = None,
        filter: DIDFilterInput | None = None,
        facets: list[SearchFacet] | None = None,  # type: ignore[valid-type]
        facet_limit: int = 20,
        sort: SearchSort = SearchSort.RELEVANCE,  # type: ignore[valid-type]
        descending: bool = False,
        first: int = 20,
        after: str | None = None,
    ) -> SearchResult:
        backend = info.context.search
        if backend is None:
            msg = "search is not configured on this service"
            raise InvalidQueryError(msg)
        query = to_search(
            text,
            filter,
            list(facets or []),
            facet_limit,
            sort,
            descending,
            first,
            after,
            info.context.catalogue.moc_order,
            info.context.viewer,
        )
        result = await backend.search(query)
        records = await info.context.loaders.did_by_key.load_many([h.key for h in result.hits])
        hits = [
            SearchHit(did=from_domain(record), score=hit.score)
            for hit, record in zip(result.hits, records, strict=True)
            if record is not None  # deleted between the search and the read: skip it
        ]
        return SearchResult(
            hits=hits,
            total=result.total,
            total_exact=result.total_exact,
            facets=[
                SearchFacetCounts(
                    field=f,
                    values=[FacetValue(value=v, count=n) for v, n in counts],
                )
                for f, counts in result.facets.items()
            ],
            next_cursor=result.next_cursor,
            backend=backend.name,
        )
