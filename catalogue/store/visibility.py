"""Which DIDs a viewer may see: the one rule every read applies (docs/security.md, "Embargo").

A DID is visible unless it was deleted or is under an embargo the viewer is not entitled to
(catalogue/embargo.py). The embargo is compared with the database's clock
(``CURRENT_TIMESTAMP``), not a time bound from Python: a record is released by time alone, and
the condition's SQL text depends only on the viewer, so the TAP bridge can compile its relations
once per view.

Searches add :func:`discoverable`: a harvested record its source withdrew is still shown by name
(and may appear in a lineage), never found by a search.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.authorization import Viewer
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT


def released(viewer: Viewer, did: Any = None) -> ColumnElement[bool]:
    """The condition on ``did`` (or an alias of it) that its embargo does not hide it."""
    if viewer.everything:
        return true()
    c = (t.did if did is None else did).c
    open_to_all = or_(c.embargo_until.is_(None), c.embargo_until <= func.current_timestamp())
    if not viewer.scopes:
        return open_to_all
    return or_(open_to_all, c.embargo_scope.in_(sorted(viewer.scopes)))


def did_visible(viewer: Viewer, did: Any = None) -> ColumnElement[bool]:
    """The condition on ``did`` (or an alias) under which ``viewer`` may see a DID."""
    c = (t.did if did is None else did).c
    return and_(c.deleted_at.is_(None), released(viewer, did))


def discoverable(viewer: Viewer, did: Any = None) -> ColumnElement[bool]:
    """What searches may return: visible DIDs their harvest source has not withdrawn."""
    c = (t.did if did is None else did).c
    return and_(did_visible(viewer, did), c.withdrawn_at.is_(None))


def entity_visible(viewer: Viewer) -> ColumnElement[bool]:
    """The condition on ``prov_entity`` ⟕ ``did``: an external entity, or a visible DID."""
    return t.prov_entity.c.did_id.is_(None) | did_visible(viewer)


def _touches(relation: Any, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``prov_activity`` used or generated an entity meeting ``condition``."""
    entity = t.prov_entity
    joined = relation.join(entity, entity.c.id == relation.c.entity_id).outerjoin(
        t.did, t.did.c.id == entity.c.did_id
    )
    return exists(
        select(1)
        .select_from(joined)
        .where(relation.c.activity_id == t.prov_activity.c.id, condition)
    )


def activity_visible(viewer: Viewer) -> ColumnElement[bool]:
    """The condition on ``prov_activity``: it touched no entity, or one the viewer may see.

    An activity every entity of which is hidden would tell of them by its name and
    parameters; one reached from a visible entity (a lineage) is always visible.
    """
    if viewer.everything:
        return true()
    relations = (t.prov_usage, t.prov_generation)
    untouched = and_(*(not_(_touches(r, true())) for r in relations))
    return or_(untouched, *(_touches(r, entity_visible(viewer)) for r in relations))


def agent_visible(viewer: Viewer) -> ColumnElement[bool]:
    """The condition on ``prov_agent``: unused, or in a visible activity or attribution.

    An agent of hidden activities only (a proprietary pipeline, say) is hidden with them.
    """
    if viewer.everything:
        return true()
    agent, association, attribution = t.prov_agent, t.prov_association, t.prov_attribution
    entity = t.prov_entity
    in_activity = select(association.c.agent_id).where(
        association.c.activity_id.in_(select(t.prov_activity.c.id).where(activity_visible(viewer)))
    )
    attributed = (
        select(attribution.c.agent_id)
        .select_from(
            attribution.join(entity, entity.c.id == attribution.c.entity_id).outerjoin(
                t.did, t.did.c.id == entity.c.did_id
            )
        )
        .where(entity_visible(viewer))
    )
    used = select(association.c.agent_id).union(select(attribution.c.agent_id))
    return or_(agent.c.id.not_in(used), agent.c.id.in_(in_activity), agent.c.id.in_(attributed))


async def visible_dids(session: AsyncSession, viewer: Viewer, did_ids: Iterable[int]) -> set[int]:
    """The ids among ``did_ids`` that ``viewer`` may see."""
    ids = sorted(set(did_ids))
    found: set[int] = set()
    for start in range(0, len(ids), IN_LIST_LIMIT):
        chunk = ids[start : start + IN_LIST_LIMIT]
        rows = await session.scalars(
            select(t.did.c.id).where(t.did.c.id.in_(chunk), did_visible(viewer))
        )
        found.update(rows.all())
    return found
