"""The Elasticsearch backend: DID keys and scores from the index, exact regions from the store.

Without a region one request answers: the page by ``search_after``, the total (exact up to
:data:`~catalogue.search.TOTAL_EXACT_UP_TO`, as ``track_total_hits``), the facets as terms
aggregations. With a region the index only knows coarsened MOC cells, so every candidate is
fetched in sort order (``search_after`` batches), decided by
:func:`catalogue.store.queries.matches_region` on the MOCs and footprints the store holds,
and the page, total and facets are taken over the exact set: the cost grows with the number
of candidates, as the relational backend's does (docs/search.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from elasticsearch import AsyncElasticsearch
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalogue.coverage import Coverage
from catalogue.models import DIDKey, DIDType
from catalogue.query import RegionFilter
from catalogue.search import (
    TOTAL_EXACT_UP_TO,
    SearchFacet,
    SearchHit,
    SearchQuery,
    SearchResult,
    decode_after,
    encode_after,
)
from catalogue.store import tables as t
from catalogue.store.queries import matches_region
from indexer.query import es_query, facet_aggs, is_ranked, sort_orders, sort_spec

SCAN_BATCH = 1000  # candidates per request when a region is decided outside the index
_NO_ID = 2**62  # above every DID id: ``[score, _NO_ID]`` points after the whole tie


@dataclass(frozen=True, slots=True)
class _Candidate:
    hit: SearchHit
    sort: list[Any]
    facets: dict[str, list[str]]


def _is_after(values: Sequence[Any], cursor: Sequence[Any], orders: Sequence[str]) -> bool:
    """Whether sort values come strictly after the cursor's, as Elasticsearch orders them."""
    for value, mark, order in zip(values, cursor, orders, strict=False):
        if value != mark:
            return bool(value > mark) if order == "asc" else bool(value < mark)
    return False


def _sort_values(query: SearchQuery, raw: dict[str, Any]) -> list[Any]:
    """A hit's sort values, its score as the exact value of Lucene's float32.

    The JSON shows a score in its shortest float32 form (0.4240332); as a double that is not
    the score, and a server comparing doubles (osmem) would then repeat or skip the hits
    that tie with the cursor. The widened float32 parses back to the same float anywhere.
    """
    values = list(raw["sort"])
    if is_ranked(query) and values[0] is not None:
        values[0] = float(np.float32(values[0]))
    return values


def _hit(raw: dict[str, Any], ranked: bool) -> SearchHit:
    source = raw["_source"]
    score = raw.get("_score") if ranked else None
    return SearchHit(DIDKey(source["scope"], source["name"]), int(source["did_id"]), score)


def _count_facets(
    query: SearchQuery, candidates: Sequence[_Candidate]
) -> dict[SearchFacet, list[tuple[str, int]]]:
    result: dict[SearchFacet, list[tuple[str, int]]] = {}
    for facet in query.facets:
        counts = Counter(v for c in candidates for v in set(c.facets.get(facet.value, [])))
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        result[facet] = ordered[: query.facet_limit]
    return result


async def _region_rows(session: AsyncSession, ids: list[int]) -> dict[int, Any]:
    """The stored MOC and (for files) footprint of each candidate."""
    statement = (
        select(
            t.did.c.id,
            t.did.c.did_type,
            t.coverage.c.moc,
            t.coverage.c.moc_order,
            t.characterisation.c.s_region,
        )
        .select_from(
            t.did.outerjoin(t.coverage, t.coverage.c.did_id == t.did.c.id).outerjoin(
                t.characterisation, t.characterisation.c.did_id == t.did.c.id
            )
        )
        .where(t.did.c.id.in_(ids), t.did.c.deleted_at.is_(None))
    )
    return {row.id: row for row in await session.execute(statement)}


def _decide(region: RegionFilter, row: Any) -> bool:
    if row is None:
        return False  # deleted since it was indexed: the store is the truth
    coverage = Coverage.from_bytes(row.moc, row.moc_order) if row.moc else None
    s_region = row.s_region if row.did_type == DIDType.FILE.value else None
    return matches_region(region, coverage, s_region)


class ElasticsearchSearch:
    """Answers searches from the index behind ``alias`` (a :class:`SearchBackend`)."""

    name = "elasticsearch"

    def __init__(
        self,
        client: AsyncElasticsearch,
        sessions: async_sessionmaker[AsyncSession],
        alias: str,
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._alias = alias

    async def search(self, query: SearchQuery) -> SearchResult:
        """One page of hits for the query."""
        after = decode_after(query)
        if query.region is not None:
            return await self._region_search(query, after)
        return await self._search(query, after)

    async def _request(
        self,
        query: SearchQuery,
        size: int,
        after: list[Any] | None,
        *extra: dict[str, Any],
        counts: bool = True,
    ) -> dict[str, Any]:
        """One search request; ``counts`` adds the total and the facet aggregations."""
        es = es_query(query)
        es["bool"]["filter"].extend(extra)
        body: dict[str, Any] = {
            "query": es,
            "sort": sort_spec(query),
            "size": size,
            "track_total_hits": TOTAL_EXACT_UP_TO if counts else False,
            "track_scores": not query.text.is_empty,
            "_source": ["did_id", "scope", "name"],
        }
        if after is not None:
            body["search_after"] = after
        if counts and query.facets and query.facet_limit > 0:
            body["aggs"] = facet_aggs(query)
        return dict((await self._client.search(index=self._alias, body=body)).body)

    async def _search(self, query: SearchQuery, after: list[Any] | None) -> SearchResult:
        if after is not None and is_ranked(query):
            raw, response = await self._ranked_after(query, after)
        else:
            response = await self._request(query, query.limit + 1, after)
            raw = response["hits"]["hits"]
        page = raw[: query.limit]
        more = len(raw) > query.limit and bool(page)
        total = response["hits"]["total"]
        aggregations = response.get("aggregations", {})
        facets = {
            facet: [
                (str(b["key"]), int(b["doc_count"]))
                for b in aggregations.get(facet.value, {}).get("buckets", [])
            ]
            for facet in query.facets
        }
        return SearchResult(
            hits=[_hit(h, not query.text.is_empty) for h in page],
            total=int(total["value"]),
            total_exact=total["relation"] == "eq",
            facets=facets,
            next_cursor=encode_after(query, _sort_values(query, page[-1])) if more else None,
        )

    async def _ranked_after(
        self, query: SearchQuery, after: list[Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The hits after a (score, id) cursor, read as two exact parts.

        Elasticsearch's own ``search_after`` on ``[score, id]`` is exact, but only where the
        server compares the float32 scores it shows; the test server (osmem) compares
        doubles it never shows, so ties with the cursor would repeat or vanish. So: first the
        rest of the cursor's tie (same float32 score, higher id), then everything scoring
        below it; each hit is kept by its shown score, which both servers agree on.
        """
        score, did_id = np.float32(after[0]), int(after[1])
        above = float(np.nextafter(score, np.float32(np.inf)))
        wanted = query.limit + 1
        tie_response = await self._request(
            query, wanted, [above, _NO_ID], {"range": {"did_id": {"gt": did_id}}}, counts=False
        )
        ties = [h for h in tie_response["hits"]["hits"] if np.float32(h["_score"]) == score]
        size = wanted - len(ties)
        while True:  # osmem may return more of the tie here; a real cluster returns none
            response = await self._request(query, size, [float(score), _NO_ID])
            raw = response["hits"]["hits"]
            below = [h for h in raw if np.float32(h["_score"]) < score]
            if len(below) >= wanted - len(ties) or len(raw) < size or size >= SCAN_BATCH:
                return (ties + below)[:wanted], response
            size = min(SCAN_BATCH, 2 * size + len(raw) - len(below))

    async def _candidates(self, query: SearchQuery) -> AsyncIterator[list[_Candidate]]:
        """Every hit of the query (region as coarse cells), in sort order, in batches."""
        fields = ["did_id", "scope", "name"]
        if query.facets:
            fields.append("f")
        body: dict[str, Any] = {
            "query": es_query(query),
            "sort": sort_spec(query),
            "size": SCAN_BATCH,
            "track_total_hits": False,
            "track_scores": not query.text.is_empty,
            "_source": fields,
        }
        ranked = not query.text.is_empty
        while True:
            response = (await self._client.search(index=self._alias, body=body)).body
            raw = response["hits"]["hits"]
            if not raw:
                return
            yield [
                _Candidate(_hit(h, ranked), _sort_values(query, h), h["_source"].get("f", {}))
                for h in raw
            ]
            if len(raw) < SCAN_BATCH:
                return
            body["search_after"] = _sort_values(query, raw[-1])

    async def _region_search(self, query: SearchQuery, after: list[Any] | None) -> SearchResult:
        assert query.region is not None  # noqa: S101 - the caller checks
        exact: list[_Candidate] = []
        async for batch in self._candidates(query):
            async with self._sessions() as session:
                rows = await _region_rows(session, [c.hit.did_id for c in batch])
            exact.extend(c for c in batch if _decide(query.region, rows.get(c.hit.did_id)))
        orders = sort_orders(query)
        following = [c for c in exact if after is None or _is_after(c.sort, after, orders)]
        page = following[: query.limit]
        more = len(following) > query.limit and bool(page)
        return SearchResult(
            hits=[c.hit for c in page],
            total=min(len(exact), TOTAL_EXACT_UP_TO),  # as track_total_hits reports it
            total_exact=len(exact) <= TOTAL_EXACT_UP_TO,
            facets=_count_facets(query, exact),
            next_cursor=encode_after(query, page[-1].sort) if more else None,
        )
