"""Relay connections over catalogue pages."""

from __future__ import annotations

from strawberry.types import Info

from catalogue import models
from catalogue.models import DIDKey, Page
from schema.context import Context
from schema.inputs import SortInput, at, to_query
from schema.types import DIDConnection, DIDEdge, PageInfo, from_domain


def connection(page: Page[models.DID]) -> DIDConnection:
    """A page as edges with cursors, page info and the exact total."""
    edges = [
        DIDEdge(cursor=cursor, node=from_domain(item))
        for item, cursor in zip(page.items, page.cursors, strict=True)
    ]
    return DIDConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.next_cursor is not None,
            has_previous_page=False,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        total_count=page.total,
    )


async def member_page(
    info: Info[Context, None],
    parent: DIDKey,
    first: int,
    after: str | None,
    sort: SortInput | None,
) -> DIDConnection:
    """A page of a collection's direct members."""
    catalogue = info.context.catalogue
    query = to_query(
        None, sort, first, after, catalogue.moc_order, info.context.viewer, parent=parent
    )
    with at("after"):
        return connection(await info.context.loaders.members.load(query))
