"""Provenance in GraphQL: activities, agents, entities, lineage, and the ``activity`` query.

The DID fields (``generatedBy``, ``usedBy``, ``derivedFrom``, ``derivatives``, ``lineage``)
are declared on the DID interface in schema/types.py and resolved here; nested parts of
activities load through the request's provenance DataLoaders, bound to its caller. The
``recordActivity`` mutation is schema/provenance_mutation.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from catalogue import provenance as prov
from catalogue.errors import InvalidInputError
from schema.context import Context
from schema.enums import LineageDirection
from schema.inputs import input_error
from schema.types import DID, from_domain

AgentType = strawberry.enum(prov.AgentType, description="ProvDM 1.0 agent types.")
ActivityStatus = strawberry.enum(prov.ActivityStatus, description="How an activity ended.")


@strawberry.type(description="A person, organisation or software (with its version).")
class ProvAgent:
    record: strawberry.Private[prov.Agent]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.record.id))

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def type(self) -> AgentType:  # type: ignore[valid-type]
        return self.record.type

    @strawberry.field(description="Software version, when the agent is software.")
    def version(self) -> str | None:
        return self.record.version

    @strawberry.field
    def affiliation(self) -> str | None:
        return self.record.affiliation

    @strawberry.field
    def url(self) -> str | None:
        return self.record.url


@strawberry.type(description="An agent and the role it had.")
class AgentRole:
    agent: ProvAgent
    role: str | None


@strawberry.type(description="A configuration parameter of an activity (ProvDM Parameter).")
class ProvParameter:
    name: str
    value: JSON = strawberry.field(description="Typed: number, boolean, string; times ISO 8601.")
    text: str = strawberry.field(description="The value as ProvDM writes it (a string).")
    value_type: str = strawberry.field(description="string, integer, float, boolean or datetime")
    unit: str | None = strawberry.field(description="VO unit.")
    ucd: str | None = strawberry.field(description="Unified Content Descriptor.")


@strawberry.type(description="An entity: a lake DID, or an external resource named by URI.")
class ProvEntity:
    record: strawberry.Private[prov.Entity]

    @strawberry.field(description="scope:name of a DID, or the URI of an external entity.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.key)

    @strawberry.field(description="The DID, for a lake entity.")
    async def did(self, info: Info[Context, None]) -> DID | None:
        if self.record.did_key is None:
            return None
        found = await info.context.loaders.did_by_key.load(self.record.did_key)
        return from_domain(found) if found is not None else None

    @strawberry.field(description="The URI, for an external entity.")
    def uri(self) -> str | None:
        return self.record.uri


@strawberry.type(description="An input of an activity, with the role it played.")
class Usage:
    entity: ProvEntity
    role: str | None
    time: datetime | None = strawberry.field(description="When its use started.")


@strawberry.type(description="An output of an activity, with its role.")
class Generation:
    entity: ProvEntity
    role: str | None
    time: datetime | None


def _entity_edges(found: list[tuple[prov.Entity, prov.Edge]], kind: type[Any]) -> list[Any]:
    return [kind(entity=ProvEntity(record=e), role=edge.role, time=edge.time) for e, edge in found]


@strawberry.type(name="Activity", description="A processing step (ProvDM Activity).")
class ActivityNode:
    record: strawberry.Private[prov.Activity]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.record.id))

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="Observation, Reduction, Calibration, ... (ProvDM Table 6).")
    def type(self) -> str | None:
        return self.record.activity_type

    @strawberry.field
    def status(self) -> ActivityStatus:  # type: ignore[valid-type]
        return self.record.status

    @strawberry.field
    def start_time(self) -> datetime | None:
        return self.record.start_time

    @strawberry.field
    def end_time(self) -> datetime | None:
        return self.record.end_time

    @strawberry.field
    def comment(self) -> str | None:
        return self.record.comment

    @strawberry.field(description="When it was recorded in the catalogue.")
    def recorded_at(self) -> datetime:
        return self.record.recorded_at

    @strawberry.field(description="Its configuration.")
    async def parameters(self, info: Info[Context, None]) -> list[ProvParameter]:
        found = await info.context.loaders.provenance.parameters.load(self.record.id)
        return [
            ProvParameter(
                name=p.name,
                value=JSON(p.value.isoformat() if isinstance(p.value, datetime) else p.value),
                text=p.text,
                value_type=p.value_type,
                unit=p.unit,
                ucd=p.ucd,
            )
            for p in found
        ]

    @strawberry.field(description="People, organisations and software associated with it.")
    async def agents(self, info: Info[Context, None]) -> list[AgentRole]:
        found = await info.context.loaders.provenance.agents.load(self.record.id)
        return [AgentRole(agent=ProvAgent(record=a), role=role) for a, role in found]

    @strawberry.field(description="What it used (entities you may see).")
    async def used(self, info: Info[Context, None]) -> list[Usage]:
        found = await info.context.loaders.provenance.used.load(self.record.id)
        return _entity_edges(found, Usage)

    @strawberry.field(description="What it generated (entities you may see).")
    async def generated(self, info: Info[Context, None]) -> list[Generation]:
        found = await info.context.loaders.provenance.generated.load(self.record.id)
        return _entity_edges(found, Generation)

    @strawberry.field(description="Activities it was informed by (wasInformedBy).")
    async def informed_by(self, info: Info[Context, None]) -> list[ActivityNode]:
        found = await info.context.loaders.provenance.informants.load(self.record.id)
        return [ActivityNode(record=a) for a in found]


# -- lineage -------------------------------------------------------------------------------


@strawberry.type
class LineageEntity:
    level: int = strawberry.field(description="Steps from the root (0 is the root).")
    entity: ProvEntity


@strawberry.type
class LineageActivity:
    level: int
    activity: ActivityNode


@strawberry.type(description="used: the activity used the entity.")
class UsedRelation:
    activity: strawberry.ID
    entity: strawberry.ID
    role: str | None
    time: datetime | None


@strawberry.type(description="wasGeneratedBy: the entity was generated by the activity.")
class GeneratedRelation:
    entity: strawberry.ID
    activity: strawberry.ID
    role: str | None
    time: datetime | None


@strawberry.type(description="wasDerivedFrom, as asserted by the recorder.")
class DerivedRelation:
    generated: strawberry.ID
    used: strawberry.ID


@strawberry.type(description="wasAssociatedWith: the agent had a role in the activity.")
class AssociatedRelation:
    activity: strawberry.ID
    agent: strawberry.ID
    role: str | None


@strawberry.type(description="wasAttributedTo: the entity is ascribed to the agent.")
class AttributedRelation:
    entity: strawberry.ID
    agent: strawberry.ID
    role: str | None


@strawberry.type(description="wasInformedBy: the informed activity used what the informant made.")
class InformedRelation:
    informed: strawberry.ID
    informant: strawberry.ID


def _ids(lineage: prov.Lineage) -> dict[int, strawberry.ID]:
    return {i: strawberry.ID(e.key) for i, e in lineage.entities.items()}


@strawberry.type(
    description="The provenance subgraph around a DID. Relations name entities by their id "
    "(scope:name or URI), activities and agents by theirs. Records you may not see are left "
    "out without a trace; truncated says the depth or size cap left nodes out."
)
class Lineage:
    value: strawberry.Private[prov.Lineage]

    @strawberry.field
    def root(self) -> ProvEntity:
        assert self.value.root is not None  # noqa: S101 - lineage() sets it
        return ProvEntity(record=self.value.root)

    @strawberry.field
    def direction(self) -> LineageDirection:  # type: ignore[valid-type]
        return self.value.direction

    @strawberry.field(description="The depth asked for.")
    def depth(self) -> int:
        return self.value.depth

    @strawberry.field(description="The deepest level reached.")
    def reached_depth(self) -> int:
        return self.value.reached

    @strawberry.field(description="Whether the depth or size cap left nodes out.")
    def truncated(self) -> bool:
        return self.value.truncated

    @strawberry.field
    def entities(self) -> list[LineageEntity]:
        v = self.value
        order = sorted(v.entities, key=lambda i: (v.entity_levels[i], v.entities[i].key))
        return [
            LineageEntity(level=v.entity_levels[i], entity=ProvEntity(record=v.entities[i]))
            for i in order
        ]

    @strawberry.field
    def activities(self) -> list[LineageActivity]:
        v = self.value
        order = sorted(v.activities, key=lambda i: (v.activity_levels[i], i))
        return [
            LineageActivity(
                level=v.activity_levels[i], activity=ActivityNode(record=v.activities[i])
            )
            for i in order
        ]

    @strawberry.field
    def agents(self) -> list[ProvAgent]:
        return [ProvAgent(record=a) for _, a in sorted(self.value.agents.items())]

    @strawberry.field
    def used(self) -> list[UsedRelation]:
        ids = _ids(self.value)
        return [
            UsedRelation(
                activity=strawberry.ID(str(e.source)),
                entity=ids[e.target],
                role=e.role,
                time=e.time,
            )
            for e in self.value.used
        ]

    @strawberry.field
    def was_generated_by(self) -> list[GeneratedRelation]:
        ids = _ids(self.value)
        return [
            GeneratedRelation(
                entity=ids[e.source],
                activity=strawberry.ID(str(e.target)),
                role=e.role,
                time=e.time,
            )
            for e in self.value.generated
        ]

    @strawberry.field
    def was_derived_from(self) -> list[DerivedRelation]:
        ids = _ids(self.value)
        return [
            DerivedRelation(generated=ids[e.source], used=ids[e.target]) for e in self.value.derived
        ]

    @strawberry.field
    def was_associated_with(self) -> list[AssociatedRelation]:
        return [
            AssociatedRelation(
                activity=strawberry.ID(str(e.source)),
                agent=strawberry.ID(str(e.target)),
                role=e.role,
            )
            for e in self.value.associated
        ]

    @strawberry.field
    def was_attributed_to(self) -> list[AttributedRelation]:
        ids = _ids(self.value)
        return [
            AttributedRelation(
                entity=ids[e.source], agent=strawberry.ID(str(e.target)), role=e.role
            )
            for e in self.value.attributed
            if e.source in ids
        ]

    @strawberry.field
    def was_informed_by(self) -> list[InformedRelation]:
        return [
            InformedRelation(
                informed=strawberry.ID(str(e.source)), informant=strawberry.ID(str(e.target))
            )
            for e in self.value.informed
        ]


# -- the DID fields (declared in schema/types.py) ------------------------------------------


async def generated_by(did: DID, info: Info[Context, None]) -> ActivityNode | None:
    """The activity that generated a DID."""
    found = await info.context.loaders.provenance.generated_by.load(did.record.id)
    return ActivityNode(record=found[0]) if found is not None else None


async def used_by(did: DID, info: Info[Context, None]) -> list[ActivityNode]:
    """The activities that used a DID."""
    found = await info.context.loaders.provenance.used_by.load(did.record.id)
    return [ActivityNode(record=a) for a in found]


async def neighbours(did: DID, info: Info[Context, None], *, upstream: bool) -> list[ProvEntity]:
    """What a DID was derived from (upstream), or its derivatives."""
    loaders = info.context.loaders.provenance
    loader = loaders.derived_from if upstream else loaders.derivatives
    return [ProvEntity(record=e) for e in await loader.load(did.record.id)]


async def lineage(
    did: DID, info: Info[Context, None], direction: prov.Direction, depth: int, limit: int
) -> Lineage:
    """The provenance subgraph around a DID."""
    try:
        found = await info.context.catalogue.provenance.lineage(
            info.context.viewer, did.record.key, prov.Direction(direction), depth, limit
        )
    except InvalidInputError as exc:
        where, _, reason = str(exc).partition(": ")
        raise input_error(where, reason) from exc
    if found is None:  # deleted since the DID was read: the root alone
        root = prov.Entity(0, None, did.record.key, did.record.type, did.record.id)
        found = prov.Lineage(root=root, direction=prov.Direction(direction), depth=depth)
        found.entity_levels[0] = 0
        found.entities[0] = root
    return Lineage(value=found)


@strawberry.type
class ProvenanceQueries:
    @strawberry.field(description="One recorded activity by id; null when there is none.")
    async def activity(self, info: Info[Context, None], id: strawberry.ID) -> ActivityNode | None:
        if not str(id).isdigit():
            raise input_error("id", f"{id!r} is not an activity id")
        found = await info.context.loaders.provenance.activity.load(int(id))
        return ActivityNode(record=found) if found is not None else None
