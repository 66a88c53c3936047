"""Reading provenance for the interfaces: one DID's neighbours in bulk, and lineage walks.

Each method opens its own session (sibling GraphQL resolvers run concurrently) and takes the
viewer, because what a viewer may see is decided per viewer
(:mod:`catalogue.store.visibility`); an entity the viewer may not see is left out, never
counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalogue.authorization import Viewer
from catalogue.models import DIDKey
from catalogue.provenance import (
    Activity,
    Agent,
    Direction,
    Edge,
    Entity,
    Lineage,
    StoredParameter,
    check_walk,
)
from catalogue.store import batch, lineage
from catalogue.store import provenance as store
from catalogue.store import tables as t

EntityEdge = tuple[Entity, Edge]


def _group(edges: list[Edge]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for e in edges:
        found.setdefault(e.source, []).append(e.target)
    return found


class ProvenanceReads:
    """Provenance of many DIDs and activities at once; each call is one unit of reading."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def generated_by(
        self, viewer: Viewer, did_ids: Sequence[int]
    ) -> dict[int, tuple[Activity, Edge]]:
        """The activity that generated each DID (and the generation's role and time)."""
        async with self._sessions() as session:
            entities = await store.entities_of_dids(session, viewer, did_ids)
            by_entity = {e.id: did for did, e in entities.items()}
            edges = await store.edges(
                session, t.prov_generation, "entity_id", "activity_id", by_entity
            )
            found = await store.activities(session, {e.target for e in edges})
        return {by_entity[e.source]: (found[e.target], e) for e in edges}

    async def used_by(self, viewer: Viewer, did_ids: Sequence[int]) -> dict[int, list[Activity]]:
        """The activities that used each DID, oldest first."""
        async with self._sessions() as session:
            entities = await store.entities_of_dids(session, viewer, did_ids)
            by_entity = {e.id: did for did, e in entities.items()}
            edges = await store.edges(session, t.prov_usage, "entity_id", "activity_id", by_entity)
            found = await store.activities(session, {e.target for e in edges})
        result: dict[int, list[Activity]] = {}
        for e in sorted(edges, key=lambda e: e.target):
            result.setdefault(by_entity[e.source], []).append(found[e.target])
        return result

    async def neighbours(
        self, viewer: Viewer, did_ids: Sequence[int], direction: Direction
    ) -> dict[int, list[Entity]]:
        """The entities one step away from each DID: what it was derived from, or its derivatives.

        Upstream: the inputs of the activity that generated it and asserted ``wasDerivedFrom``
        sources; downstream: the outputs of the activities that used it and asserted
        derivatives.
        """
        up = direction is Direction.UPSTREAM
        async with self._sessions() as session:
            roots = await store.entities_of_dids(session, viewer, did_ids)
            by_entity = {e.id: did for did, e in roots.items()}
            first = (
                ("entity_id", "activity_id", t.prov_generation)
                if up
                else ("entity_id", "activity_id", t.prov_usage)
            )
            steps = await store.edges(session, first[2], first[0], first[1], by_entity)
            second = t.prov_usage if up else t.prov_generation
            reached = _group(
                await store.edges(
                    session,
                    second,
                    "activity_id",
                    "entity_id",
                    {e.target for e in steps},
                    visible_far=viewer,
                )
            )
            near, far = ("generated_id", "used_id") if up else ("used_id", "generated_id")
            asserted = await store.edges(
                session, t.prov_derivation, near, far, by_entity, visible_far=viewer
            )
            targets: dict[int, set[int]] = {}
            for e in steps:
                targets.setdefault(e.source, set()).update(reached.get(e.target, []))
            for e in asserted:
                targets.setdefault(e.source, set()).add(e.target)
            for entity_id, found in targets.items():
                found.discard(entity_id)
            loaded = await store.entities(session, viewer, {i for s in targets.values() for i in s})
        return {
            by_entity[entity]: sorted((loaded[i] for i in ids if i in loaded), key=lambda e: e.key)
            for entity, ids in targets.items()
        }

    async def activities(self, viewer: Viewer, ids: Sequence[int]) -> dict[int, Activity]:
        """Activities by id that ``viewer`` may see (store.visibility.activity_visible)."""
        async with self._sessions() as session:
            return await store.activities(session, ids, viewer)

    async def _entity_edges(
        self, viewer: Viewer, table: str, activity_ids: Sequence[int]
    ) -> dict[int, list[EntityEdge]]:
        relation = t.prov_usage if table == "used" else t.prov_generation
        async with self._sessions() as session:
            edges = await store.edges(
                session, relation, "activity_id", "entity_id", activity_ids, visible_far=viewer
            )
            loaded = await store.entities(session, viewer, {e.target for e in edges})
        found: dict[int, list[EntityEdge]] = {}
        for e in edges:
            if e.target in loaded:
                found.setdefault(e.source, []).append((loaded[e.target], e))
        for items in found.values():
            items.sort(key=lambda item: (item[1].role or "", item[0].key))
        return found

    async def usages(
        self, viewer: Viewer, activity_ids: Sequence[int]
    ) -> dict[int, list[EntityEdge]]:
        """What each activity used (visible entities only), by role."""
        return await self._entity_edges(viewer, "used", activity_ids)

    async def generations(
        self, viewer: Viewer, activity_ids: Sequence[int]
    ) -> dict[int, list[EntityEdge]]:
        """What each activity generated (visible entities only), by role."""
        return await self._entity_edges(viewer, "generated", activity_ids)

    async def parameters(self, activity_ids: Sequence[int]) -> dict[int, list[StoredParameter]]:
        """Each activity's configuration parameters."""
        async with self._sessions() as session:
            return await store.parameters_of(session, activity_ids)

    async def agents(
        self, activity_ids: Sequence[int]
    ) -> dict[int, list[tuple[Agent, str | None]]]:
        """The agents associated with each activity, with their roles."""
        async with self._sessions() as session:
            edges = await store.edges(
                session, t.prov_association, "activity_id", "agent_id", activity_ids
            )
            loaded = await store.agents(session, {e.target for e in edges})
        found: dict[int, list[tuple[Agent, str | None]]] = {}
        for e in sorted(edges, key=lambda e: (e.source, e.target)):
            found.setdefault(e.source, []).append((loaded[e.target], e.role))
        return found

    async def informants(
        self, viewer: Viewer, activity_ids: Sequence[int]
    ) -> dict[int, list[Activity]]:
        """The activities ``viewer`` may see that informed each activity (``wasInformedBy``)."""
        async with self._sessions() as session:
            edges = await store.edges(
                session, t.prov_communication, "informed_id", "informant_id", activity_ids
            )
            loaded = await store.activities(session, {e.target for e in edges}, viewer)
        found: dict[int, list[Activity]] = {}
        for e in sorted(edges, key=lambda e: (e.source, e.target)):
            if e.target in loaded:
                found.setdefault(e.source, []).append(loaded[e.target])
        return found

    async def lineage(
        self,
        viewer: Viewer,
        key: DIDKey,
        direction: Direction,
        depth: int,
        limit: int,
        *,
        parameters: bool = False,
    ) -> Lineage | None:
        """The provenance subgraph around a DID; ``None`` when the viewer cannot see it."""
        check_walk(depth, limit)
        async with self._sessions() as session:
            did = (await batch.dids_by_key(session, [key], viewer)).get(key)
            if did is None:
                return None
            root = (await store.entities_of_dids(session, viewer, [did.id])).get(did.id)
            if root is None:  # a visible DID without provenance: the root alone
                alone = Entity(0, None, did.key, did.type, did.id)
                found = Lineage(root=alone, direction=direction, depth=depth)
                found.entity_levels[0] = 0
                found.entities[0] = alone
                return found
            walked = await lineage.walk(session, viewer, root, direction, depth, limit)
            return await lineage.fill(session, viewer, walked, parameters=parameters)
