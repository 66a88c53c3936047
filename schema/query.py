"""The Query root: one DID, searches, their coverage and facets, RSEs and scopes."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from catalogue.coverage import check_order
from catalogue.models import DIDKey
from catalogue.query import FacetField as CoreFacetField
from schema.audit import AuditQueries
from schema.connection import connection
from schema.context import Context
from schema.enums import FacetField
from schema.harvest import HarvestQueries
from schema.inputs import DIDFilterInput, SortInput, at, input_error, to_query
from schema.provenance import ProvenanceQueries
from schema.search import SearchQueries
from schema.types import (
    DID,
    RSE,
    Coverage,
    DIDConnection,
    Facet,
    FacetValue,
    from_domain,
)


@strawberry.type
class Query(SearchQueries, HarvestQueries, ProvenanceQueries, AuditQueries):
    @strawberry.field(description="One DID by scope and name; null when it does not exist.")
    async def did(self, info: Info[Context, None], scope: str, name: str) -> DID | None:
        record = await info.context.loaders.did_by_key.load(DIDKey(scope, name))
        return from_domain(record) if record else None

    @strawberry.field(description="DIDs matching a filter, a page at a time, with the total.")
    async def dids(
        self,
        info: Info[Context, None],
        filter: DIDFilterInput | None = None,
        sort: SortInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> DIDConnection:
        query = to_query(
            filter, sort, first, after, info.context.catalogue.moc_order, info.context.viewer
        )
        with at("filter"):
            return connection(await info.context.catalogue.search(query))

    @strawberry.field(
        description="The union MOC of every DID the filter selects (the MOCServer's get=moc)."
    )
    async def coverage(
        self,
        info: Info[Context, None],
        filter: DIDFilterInput | None = None,
        max_order: int = 8,
    ) -> Coverage:
        with at("maxOrder"):
            check_order(max_order)
        query = to_query(
            filter, None, 0, None, info.context.catalogue.moc_order, info.context.viewer
        )
        with at("filter"):
            return Coverage(value=await info.context.catalogue.union_coverage(query, max_order))

    @strawberry.field(description="Counts of the DIDs a filter selects, by field value.")
    async def facets(
        self,
        info: Info[Context, None],
        fields: list[FacetField],  # type: ignore[valid-type]
        filter: DIDFilterInput | None = None,
        limit: int = 20,
    ) -> list[Facet]:
        if not 1 <= limit <= 1000:  # noqa: PLR2004
            raise input_error("limit", "must be between 1 and 1000")
        query = to_query(
            filter, None, 0, None, info.context.catalogue.moc_order, info.context.viewer
        )
        wanted = [CoreFacetField(f) for f in fields]
        with at("filter"):
            counts = await info.context.catalogue.facets(query, wanted, limit)
        return [
            Facet(field=f, values=[FacetValue(value=str(v), count=n) for v, n in counts[f]])
            for f in wanted
        ]

    @strawberry.field(description="All storage elements.")
    async def rses(self, info: Info[Context, None]) -> list[RSE]:
        return [RSE.from_domain(r) for r in await info.context.catalogue.list_rses()]

    @strawberry.field(description="All scopes.")
    async def scopes(self, info: Info[Context, None]) -> list[str]:
        return await info.context.catalogue.list_scopes()
