"""Provenance rows: entities, activities, agents, parameters and relations, written and read.

The caller owns the transaction. Entities and agents are shared between activities, so they
are got-or-created with ``INSERT ... ON CONFLICT DO NOTHING`` (both engines), which lets two
pipelines that name the same input record at the same time. Reads that return entities
apply :func:`catalogue.store.visibility.entity_visible`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    Select,
    Table,
    any_,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.authorization import Viewer
from catalogue.filters import value_type
from catalogue.models import DIDKey, DIDType
from catalogue.obscore import parse_timestamp
from catalogue.provenance import (
    Activity,
    ActivitySpec,
    ActivityStatus,
    Agent,
    AgentSpec,
    AgentType,
    Edge,
    Entity,
    Parameter,
    ParameterValue,
    StoredParameter,
)
from catalogue.store import tables as t
from catalogue.store.bulk import IN_LIST_LIMIT, insert_rows
from catalogue.store.visibility import activity_visible, entity_visible

_DID_TYPES = {kind.value: kind for kind in DIDType}  # Enum(value) is slow in hot loops

# -- ids in batches: one statement per batch, one batch on PostgreSQL ---------------------


def _postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def id_batches(session: AsyncSession, ids: Iterable[int]) -> list[list[int]]:
    """The ids, sorted, as one batch (PostgreSQL: an array) or IN-list-sized chunks."""
    unique = sorted(set(ids))
    if not unique:
        return []
    if _postgresql(session):
        return [unique]
    return [unique[i : i + IN_LIST_LIMIT] for i in range(0, len(unique), IN_LIST_LIMIT)]


def among(session: AsyncSession, column: Any, batch: list[int]) -> ColumnElement[bool]:
    """``column`` is one of ``batch``: ``= ANY(array)`` on PostgreSQL (one parameter)."""
    if _postgresql(session):
        return column == any_(literal(batch, postgresql.ARRAY(BigInteger)))  # type: ignore[no-any-return]
    return column.in_(batch)  # type: ignore[no-any-return]


async def rows_among(
    session: AsyncSession, statement: Select[Any], column: Any, ids: Iterable[int]
) -> list[Any]:
    """The rows of ``statement`` whose ``column`` is one of ``ids``, batch by batch."""
    found: list[Any] = []
    for batch in id_batches(session, ids):
        found += (await session.execute(statement.where(among(session, column, batch)))).all()
    return found


def _insert_ignoring(session: AsyncSession, table: Table) -> Insert:
    if _postgresql(session):
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


# -- writing -------------------------------------------------------------------------------


async def entity_ids_of_dids(
    session: AsyncSession, did_ids: Iterable[int], now: datetime
) -> dict[int, int]:
    """The entity id of each DID, creating the entities that do not exist yet."""
    wanted = sorted(set(did_ids))
    if wanted:
        rows = [{"did_id": i, "uri": None, "created_at": now} for i in wanted]
        await session.execute(_insert_ignoring(session, t.prov_entity), rows)
    e = t.prov_entity.c
    found = await rows_among(session, select(e.did_id, e.id), e.did_id, wanted)
    return {r.did_id: r.id for r in found}


async def entity_ids_of_uris(
    session: AsyncSession, uris: Iterable[str], now: datetime
) -> dict[str, int]:
    """The entity id of each external URI, creating those that do not exist yet."""
    wanted = sorted(set(uris))
    found: dict[str, int] = {}
    if not wanted:
        return found
    rows = [{"did_id": None, "uri": u, "created_at": now} for u in wanted]
    await session.execute(_insert_ignoring(session, t.prov_entity), rows)
    e = t.prov_entity.c
    for start in range(0, len(wanted), IN_LIST_LIMIT):
        chunk = wanted[start : start + IN_LIST_LIMIT]
        for r in await session.execute(select(e.uri, e.id).where(e.uri.in_(chunk))):
            found[r.uri] = r.id
    return found


async def agent_ids(session: AsyncSession, agents: Sequence[AgentSpec]) -> list[int]:
    """The id of each agent by (type, name, version); new ones are created as given."""
    if not agents:
        return []
    rows = {
        (a.type.value, a.name, a.version or ""): {
            "agent_type": a.type.value,
            "name": a.name,
            "version": a.version or "",
            "affiliation": a.affiliation,
            "url": a.url,
            "comment": a.comment,
        }
        for a in agents
    }
    await session.execute(_insert_ignoring(session, t.prov_agent), list(rows.values()))
    g = t.prov_agent.c
    ids: dict[tuple[str, str, str], int] = {}
    for agent_type, name, version in rows:
        found = await session.scalar(
            select(g.id).where(g.agent_type == agent_type, g.name == name, g.version == version)
        )
        ids[(agent_type, name, version)] = int(found or 0)
    return [ids[(a.type.value, a.name, a.version or "")] for a in agents]


def parameter_row(activity_id: int, parameter: Parameter) -> dict[str, Any]:
    """A ``prov_parameter`` row: ProvDM's string value and the typed columns for queries."""
    value = parameter.value
    row: dict[str, Any] = {
        "activity_id": activity_id,
        "name": parameter.name,
        "value_type": value_type(value),
        "v_text": None,
        "v_num": None,
        "v_time": None,
        "unit": parameter.unit,
        "ucd": parameter.ucd,
    }
    if isinstance(value, bool):
        row |= {"value": "true" if value else "false", "v_num": float(value)}
    elif isinstance(value, int | float):
        row |= {"value": json.dumps(value), "v_num": float(value)}
    elif isinstance(value, datetime):
        row |= {"value": value.isoformat(), "v_time": value}
    else:
        row |= {"value": value, "v_text": value}
    return row


async def add_activity(
    session: AsyncSession, spec: ActivitySpec, recorded_by: str, now: datetime
) -> int:
    """Insert an activity and its parameters; its id."""
    activity_id = await session.scalar(
        insert(t.prov_activity)
        .values(
            name=spec.name,
            activity_type=spec.activity_type,
            status=spec.status.value,
            start_time=spec.start_time,
            end_time=spec.end_time,
            comment=spec.comment,
            recorded_at=now,
            recorded_by=recorded_by,
        )
        .returning(t.prov_activity.c.id)
    )
    rows = [parameter_row(int(activity_id or 0), p) for p in spec.parameters]
    if rows:
        await session.execute(insert(t.prov_parameter), rows)
    return int(activity_id or 0)


async def generators(session: AsyncSession, entity_ids: Iterable[int]) -> dict[int, int]:
    """The generating activity of each entity that has one."""
    g = t.prov_generation.c
    found = await rows_among(session, select(g.entity_id, g.activity_id), g.entity_id, entity_ids)
    return {r.entity_id: r.activity_id for r in found}


async def existing_activities(
    session: AsyncSession, ids: Iterable[int], viewer: Viewer
) -> set[int]:
    """The ids among ``ids`` that name recorded activities ``viewer`` may see."""
    a = t.prov_activity.c
    statement = select(a.id).where(activity_visible(viewer))
    return {r.id for r in await rows_among(session, statement, a.id, ids)}


async def add_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert relation rows (COPY on PostgreSQL)."""
    await insert_rows(session, table, rows)


# -- reading -------------------------------------------------------------------------------


async def entity_of_did(session: AsyncSession, did_id: int) -> int | None:
    """The entity id of a DID, if it takes part in any provenance."""
    found = await session.scalar(select(t.prov_entity.c.id).where(t.prov_entity.c.did_id == did_id))
    return None if found is None else int(found)


def _entity_rows() -> Select[Any]:
    e, d = t.prov_entity, t.did
    return select(e.c.id, e.c.uri, d.c.id, d.c.scope, d.c.name, d.c.did_type).select_from(
        e.outerjoin(d, d.c.id == e.c.did_id)
    )


def _entities_from(rows: Iterable[Any]) -> Iterator[tuple[int | None, Entity]]:
    """(DID id, entity) of ``prov_entity`` ⟕ ``did`` rows (identity columns only)."""
    for entity_id, uri, did_id, scope, name, did_type in rows:
        if uri is not None:
            yield None, Entity(entity_id, uri=uri)
        else:
            yield did_id, Entity(entity_id, None, DIDKey(scope, name), _DID_TYPES[did_type], did_id)


async def entities(
    session: AsyncSession, viewer: Viewer, entity_ids: Iterable[int]
) -> dict[int, Entity]:
    """The entities among ``entity_ids`` that ``viewer`` may see."""
    statement = _entity_rows().where(entity_visible(viewer))
    rows = await rows_among(session, statement, t.prov_entity.c.id, entity_ids)
    return {e.id: e for _, e in _entities_from(rows)}


async def entities_of_dids(
    session: AsyncSession, viewer: Viewer, did_ids: Iterable[int]
) -> dict[int, Entity]:
    """The entities of visible DIDs, by DID id (DIDs without provenance are absent)."""
    statement = _entity_rows().where(entity_visible(viewer))
    rows = await rows_among(session, statement, t.prov_entity.c.did_id, did_ids)
    return {did_id: e for did_id, e in _entities_from(rows) if did_id is not None}


def activity_from_row(row: Any) -> Activity:
    """An activity from a ``prov_activity`` row."""
    return Activity(
        id=row.id,
        name=row.name,
        status=ActivityStatus(row.status),
        recorded_at=row.recorded_at,
        activity_type=row.activity_type,
        start_time=row.start_time,
        end_time=row.end_time,
        comment=row.comment,
    )


async def activities(
    session: AsyncSession, ids: Iterable[int], viewer: Viewer | None = None
) -> dict[int, Activity]:
    """Activities by id; with ``viewer``, those it may see (asked for by id, not walked to)."""
    a = t.prov_activity
    statement = select(a) if viewer is None else select(a).where(activity_visible(viewer))
    rows = await rows_among(session, statement, a.c.id, ids)
    return {r.id: activity_from_row(r) for r in rows}


async def agents(session: AsyncSession, ids: Iterable[int]) -> dict[int, Agent]:
    """Agents by id."""
    g = t.prov_agent
    return {
        r.id: Agent(
            id=r.id,
            name=r.name,
            type=AgentType(r.agent_type),
            version=r.version or None,
            affiliation=r.affiliation,
            url=r.url,
            comment=r.comment,
        )
        for r in await rows_among(session, select(g), g.c.id, ids)
    }


def _typed(row: Any) -> ParameterValue:
    kind = row.value_type
    if kind == "boolean":
        return bool(row.v_num)
    if kind == "integer":
        return int(row.value)
    if kind == "float":
        return float(row.v_num)
    if kind == "datetime":
        return row.v_time or parse_timestamp("parameter", row.value)
    return str(row.value)


async def parameters_of(
    session: AsyncSession, activity_ids: Iterable[int]
) -> dict[int, list[StoredParameter]]:
    """Each activity's parameters, by name."""
    p = t.prov_parameter
    rows = await rows_among(
        session, select(p).order_by(p.c.activity_id, p.c.name), p.c.activity_id, activity_ids
    )
    found: dict[int, list[StoredParameter]] = {}
    for r in rows:
        found.setdefault(r.activity_id, []).append(
            StoredParameter(r.activity_id, r.name, _typed(r), r.value, r.value_type, r.unit, r.ucd)
        )
    return found


async def edges(
    session: AsyncSession,
    table: Table,
    near: str,
    far: str,
    ids: Iterable[int],
    *,
    visible_far: Viewer | None = None,
) -> list[Edge]:
    """Rows of a relation table whose ``near`` column is one of ``ids``, as near→far edges.

    With ``visible_far`` the far end is an entity, and rows to entities that viewer may not
    see are left out.
    """
    c = table.c
    columns = [c[near].label("source"), c[far].label("target")]
    columns += [c[n].label(n) for n in ("role", "time") if n in c]
    statement = select(*columns)
    if visible_far is not None:
        e = t.prov_entity
        statement = statement.join(e, e.c.id == c[far]).outerjoin(t.did, t.did.c.id == e.c.did_id)
        statement = statement.where(entity_visible(visible_far))
    rows = await rows_among(session, statement, c[near], ids)
    if "role" not in c:
        return [Edge(source, target) for source, target in rows]
    if "time" not in c:
        return [Edge(source, target, role) for source, target, role in rows]
    return [Edge(*row) for row in rows]


async def steps(
    session: AsyncSession, viewer: Viewer, entity_ids: Iterable[int], *, upstream: bool
) -> tuple[list[Edge], list[Edge], dict[int, Entity]]:
    """One processing step from some entities, in one statement per batch.

    Upstream: the generations of the entities, and what their activities used;
    downstream: the usages of the entities, and what their activities generated. Returns the
    entity→activity edges, the activity→entity edges to entities ``viewer`` may see, and those
    entities. The far side is outer-joined table by table (a visibility subquery would be
    materialised whole by SQLite), its visibility read as a column.
    """
    near_table, far_table = (
        (t.prov_generation, t.prov_usage) if upstream else (t.prov_usage, t.prov_generation)
    )
    near, far, e, d = near_table.c, far_table.c, t.prov_entity, t.did
    joined = (
        near_table.outerjoin(far_table, far.activity_id == near.activity_id)
        .outerjoin(e, e.c.id == far.entity_id)
        .outerjoin(d, d.c.id == e.c.did_id)
    )
    statement = select(
        near.entity_id,
        near.activity_id,
        near.role,
        near.time,
        far.entity_id.label("far_id"),
        far.role.label("far_role"),
        far.time.label("far_time"),
        entity_visible(viewer).label("far_visible"),
        e.c.uri,
        d.c.id.label("did_id"),
        d.c.scope,
        d.c.name,
        d.c.did_type,
    ).select_from(joined)
    rows = await rows_among(session, statement, near.entity_id, entity_ids)
    first: dict[tuple[int, int], Edge] = {}
    second: dict[tuple[int, int], Edge] = {}
    reached: dict[int, Entity] = {}
    for row in rows:
        entity_id, activity_id, role, time, far_id, far_role, far_time, visible = row[:8]
        if (entity_id, activity_id) not in first:
            first[entity_id, activity_id] = Edge(entity_id, activity_id, role, time)
        if far_id is None or not visible or (activity_id, far_id) in second:
            continue
        second[activity_id, far_id] = Edge(activity_id, far_id, far_role, far_time)
        if far_id not in reached:
            uri, did_id, scope, name, did_type = row[8:]
            reached[far_id] = (
                Entity(far_id, uri=uri)
                if uri is not None
                else Entity(far_id, None, DIDKey(scope, name), _DID_TYPES[did_type], did_id)
            )
    return list(first.values()), list(second.values()), reached


async def optional_relations(session: AsyncSession) -> tuple[bool, bool]:
    """Whether any asserted derivation, and any ``wasInformedBy``, is recorded at all."""
    derivation = select(t.prov_derivation.c.generated_id).limit(1).exists()
    communication = select(t.prov_communication.c.informed_id).limit(1).exists()
    row = (await session.execute(select(derivation.label("d"), communication.label("c")))).one()
    return bool(row.d), bool(row.c)
