"""Walking the provenance graph from one entity, level by level, with caps and no cycles.

A level is one processing step: upstream, the activities that generated the frontier's
entities and the entities those activities used (plus asserted ``wasDerivedFrom`` sources, and
activities that informed them, whose inputs come a level later); downstream, the reverse.
Each level costs one statement for the whole frontier (the two hops of a step joined; one
array parameter on PostgreSQL, IN lists of :data:`~catalogue.store.bulk.IN_LIST_LIMIT` on
SQLite), plus one per optional relation (asserted derivations, ``wasInformedBy``) when any
is recorded at all. A node is
visited once (so cycles end), entities a viewer may not see are neither shown nor walked
through, and the walk stops at ``depth`` levels or ``limit`` nodes, saying so (``truncated``).

The level-by-level walk was measured against a recursive CTE on PostgreSQL (bench/provenance.py,
docs/provenance.md): it keeps caps exact and visibility per node, and is the faster of the two
on the benchmark's graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.authorization import Viewer
from catalogue.provenance import Direction, Edge, Entity, Lineage
from catalogue.store import provenance as store
from catalogue.store import tables as t


@dataclass(slots=True)
class _Level:
    """What one step of the walk found: new nodes and the edges that reach them."""

    activities: set[int] = field(default_factory=set)
    entities: set[int] = field(default_factory=set)
    informants: set[int] = field(default_factory=set)
    generated: list[Edge] = field(default_factory=list)
    used: list[Edge] = field(default_factory=list)
    derived: list[Edge] = field(default_factory=list)
    informed: list[Edge] = field(default_factory=list)


@dataclass(slots=True)
class _Walk:
    session: AsyncSession
    viewer: Viewer
    direction: Direction
    limit: int
    lineage: Lineage
    frontier: set[int] = field(default_factory=set)
    pending: set[int] = field(default_factory=set)  # activities reached by wasInformedBy
    derivations: bool = True  # whether the optional relations have rows at all
    communications: bool = True
    known: dict[int, Entity] = field(default_factory=dict)  # entities the steps read

    @property
    def size(self) -> int:
        return len(self.lineage.entity_levels) + len(self.lineage.activity_levels)

    async def step(self) -> _Level:
        """Find the next level's nodes (not yet added)."""
        if self.direction is Direction.UPSTREAM:
            return await self._up()
        return await self._down()

    async def _visible_activities(self, ids: set[int]) -> set[int]:
        """Those of ``ids`` the viewer may see (store.visibility.activity_visible).

        Activities reached by wasInformedBy alone are shown only then: their names would
        tell of hidden entities.
        """
        if not ids:
            return set()
        return set(await store.activities(self.session, ids, self.viewer))

    async def _up(self) -> _Level:
        s, seen = self.session, self.lineage.activity_levels
        generated, used, reached = await store.steps(s, self.viewer, self.frontier, upstream=True)
        self.known |= reached
        level = _Level(generated=generated)
        level.activities = ({e.target for e in generated} | self.pending) - seen.keys()
        level.used = [e for e in used if e.source in level.activities]
        if self.pending - seen.keys():  # reached by wasInformedBy: their inputs too
            level.used += await store.edges(
                s,
                t.prov_usage,
                "activity_id",
                "entity_id",
                self.pending - seen.keys(),
                visible_far=self.viewer,
            )
        if self.derivations:
            level.derived = await store.edges(
                s,
                t.prov_derivation,
                "generated_id",
                "used_id",
                self.frontier,
                visible_far=self.viewer,
            )
        if self.communications:
            informed = await store.edges(
                s, t.prov_communication, "informed_id", "informant_id", level.activities
            )
            visible = await self._visible_activities({e.target for e in informed})
            level.informed = [e for e in informed if e.target in visible]
        level.entities = {e.target for e in (*level.used, *level.derived)}
        level.informants = {e.target for e in level.informed}
        return level

    async def _down(self) -> _Level:
        s, seen = self.session, self.lineage.activity_levels
        used, generated, reached = await store.steps(s, self.viewer, self.frontier, upstream=False)
        self.known |= reached
        level = _Level(used=[Edge(e.target, e.source, e.role, e.time) for e in used])
        level.activities = ({e.source for e in level.used} | self.pending) - seen.keys()
        made = [e for e in generated if e.source in level.activities]
        if self.pending - seen.keys():  # reached by wasInformedBy: their outputs too
            made += await store.edges(
                s,
                t.prov_generation,
                "activity_id",
                "entity_id",
                self.pending - seen.keys(),
                visible_far=self.viewer,
            )
        level.generated = [Edge(e.target, e.source, e.role, e.time) for e in made]
        if self.derivations:
            derived = await store.edges(
                s,
                t.prov_derivation,
                "used_id",
                "generated_id",
                self.frontier,
                visible_far=self.viewer,
            )
            level.derived = [Edge(e.target, e.source) for e in derived]
        if self.communications:
            informed = await store.edges(
                s, t.prov_communication, "informant_id", "informed_id", level.activities
            )
            visible = await self._visible_activities({e.target for e in informed})
            level.informed = [Edge(e.target, e.source) for e in informed if e.target in visible]
        level.entities = {e.source for e in (*level.generated, *level.derived)}
        level.informants = {e.source for e in level.informed}
        return level

    def add(self, number: int, level: _Level) -> bool:
        """Add a level's new nodes up to the size cap; whether all of them fitted."""
        lineage = self.lineage
        entities = sorted(level.entities - lineage.entity_levels.keys())
        activities = sorted(level.activities - lineage.activity_levels.keys())
        room = max(self.limit - self.size, 0)
        kept_activities = activities[:room]
        kept_entities = entities[: room - len(kept_activities)]
        lineage.activity_levels.update(dict.fromkeys(kept_activities, number))
        lineage.entity_levels.update(dict.fromkeys(kept_entities, number))
        lineage.entities.update((i, self.known[i]) for i in kept_entities if i in self.known)
        self.frontier = set(kept_entities)
        self.pending = level.informants - lineage.activity_levels.keys()
        for name in ("used", "generated", "derived", "informed"):
            getattr(lineage, name).extend(getattr(level, name))
        return len(kept_activities) + len(kept_entities) == len(activities) + len(entities)


def _keep_edges(lineage: Lineage) -> None:
    """Only edges whose ends are both in the subgraph, each once."""
    e, a = lineage.entity_levels, lineage.activity_levels
    ends = {
        "used": (a, e),
        "generated": (e, a),
        "derived": (e, e),
        "informed": (a, a),
    }
    for name, (sources, targets) in ends.items():
        kept: dict[tuple[int, int], Edge] = {}
        for edge in getattr(lineage, name):
            if edge.source in sources and edge.target in targets:
                kept.setdefault((edge.source, edge.target), edge)
        setattr(lineage, name, [kept[k] for k in sorted(kept)])


async def walk(
    session: AsyncSession,
    viewer: Viewer,
    root: Entity,
    direction: Direction,
    depth: int,
    limit: int,
) -> Lineage:
    """The ids and edges of the subgraph ``depth`` levels from ``root``, at most ``limit`` nodes."""
    lineage = Lineage(root=root, direction=direction, depth=depth)
    lineage.entity_levels[root.id] = 0
    lineage.entities[root.id] = root
    state = _Walk(session, viewer, direction, limit, lineage, frontier={root.id})
    state.derivations, state.communications = await store.optional_relations(session)
    for number in range(1, depth + 2):
        if not state.frontier and not state.pending:
            break
        level = await state.step()
        new = (level.entities - lineage.entity_levels.keys()) | (
            level.activities - lineage.activity_levels.keys()
        )
        if number > depth:  # one look past the last level: is there more?
            lineage.truncated = bool(new)
            break
        if not state.add(number, level):
            lineage.truncated = True
            break
    _keep_edges(lineage)
    return lineage


async def fill(
    session: AsyncSession, viewer: Viewer, lineage: Lineage, *, parameters: bool = False
) -> Lineage:
    """Load the subgraph's nodes, its agents and their relations (and parameters if asked).

    Entities the walk's steps already read are kept; the others (reached by asserted
    derivations or through informants) are read here.
    """
    missing = lineage.entity_levels.keys() - lineage.entities.keys()
    lineage.entities.update(await store.entities(session, viewer, missing))
    lineage.activities = await store.activities(session, lineage.activity_levels)
    lineage.associated = sorted(
        await store.edges(
            session, t.prov_association, "activity_id", "agent_id", lineage.activity_levels
        ),
        key=lambda e: (e.source, e.target),
    )
    lineage.attributed = sorted(
        await store.edges(
            session, t.prov_attribution, "entity_id", "agent_id", lineage.entity_levels
        ),
        key=lambda e: (e.source, e.target),
    )
    agent_ids = {e.target for e in (*lineage.associated, *lineage.attributed)}
    lineage.agents = await store.agents(session, agent_ids)
    if parameters:
        lineage.parameters = await store.parameters_of(session, lineage.activity_levels)
    return lineage
