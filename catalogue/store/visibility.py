"""Which DIDs a caller may see: the one rule that lineage, exports and TAP relations apply.

Today a DID is visible unless it was deleted; a harvested record its source withdrew is still
shown by name, so it may appear in a lineage too. Issue 8 (embargo, rights) makes the rule
depend on the caller: it changes here and nowhere else (docs/provenance.md, "Visibility").
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.models import Caller
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT


def did_visible(caller: Caller) -> ColumnElement[bool]:
    """The condition on ``did`` under which ``caller`` may see a DID."""
    del caller  # the same for everyone until issue 8
    return t.did.c.deleted_at.is_(None)


def entity_visible(caller: Caller) -> ColumnElement[bool]:
    """The condition on ``prov_entity`` ⟕ ``did``: an external entity, or a visible DID."""
    return t.prov_entity.c.did_id.is_(None) | did_visible(caller)


async def visible_dids(session: AsyncSession, caller: Caller, did_ids: Iterable[int]) -> set[int]:
    """The ids among ``did_ids`` that ``caller`` may see."""
    ids = sorted(set(did_ids))
    found: set[int] = set()
    for start in range(0, len(ids), IN_LIST_LIMIT):
        chunk = ids[start : start + IN_LIST_LIMIT]
        rows = await session.scalars(
            select(t.did.c.id).where(t.did.c.id.in_(chunk), did_visible(caller))
        )
        found.update(rows.all())
    return found
