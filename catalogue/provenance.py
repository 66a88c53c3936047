"""Provenance in the IVOA Provenance Data Model 1.0 (W3C PROV based): what a pipeline records.

An **activity** (a pipeline step: name, type, start and end, status, configuration
parameters) **used** entities and **generated** entities; **agents** (people,
organisations, software with its version) were associated with it. An **entity** is a lake
DID or an external resource named by URI. ``wasDerivedFrom`` (entity from entity),
``wasAttributedTo`` (entity to agent) and ``wasInformedBy`` (activity from activity) complete
the core of ProvDM 1.0 §2. Roles are free text, as ProvDM §2.2.3 says; its suggested terms are
listed here for clients.

This module holds what is recorded and what is read back; every check of a recording that
needs no database is made by :func:`check_activity`, and its errors name the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from catalogue.errors import InvalidInputError
from catalogue.models import DIDKey, DIDType

MAX_NAME = 200
MAX_ROLE = 128
MAX_LIST = 10_000  # inputs, outputs or parameters of one activity
MAX_DEPTH = 100  # levels of a lineage query
MAX_NODES = 100_000  # entities and activities of a lineage query
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_PARAMETER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-:/\[\]]{0,127}$")

#: ProvDM 1.0 Table 6: terms to use as activity types when one applies.
ACTIVITY_TYPES = (
    "Observation",
    "Simulation",
    "Reduction",
    "Calibration",
    "Reconstruction",
    "Selection",
    "Analysis",
)
#: ProvDM 1.0 Table 5: terms to use as agent roles when one applies.
AGENT_ROLES = (
    "Author",
    "Contributor",
    "Coordinator",
    "Creator",
    "Curator",
    "Editor",
    "Funder",
    "Investigator",
    "Observer",
    "Operator",
    "Provider",
    "Publisher",
)

ParameterValue = str | int | float | bool | datetime


class AgentType(StrEnum):
    """ProvDM 1.0 Table 4."""

    PERSON = "Person"
    ORGANIZATION = "Organization"
    SOFTWARE = "SoftwareAgent"


class ActivityStatus(StrEnum):
    """How an activity ended (the terminal status ProvDM leaves to implementations)."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


class Direction(StrEnum):
    """Which way a lineage query walks: to what made a DID, or to what was made from it."""

    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"


# -- what a pipeline records ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntityRef:
    """An entity named by the recorder: a lake DID or an external URI (exactly one)."""

    did: DIDKey | None = None
    uri: str | None = None

    def __str__(self) -> str:
        return str(self.did) if self.did is not None else str(self.uri)


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """An agent and the role it had in the activity (or for its outputs)."""

    name: str
    type: AgentType
    role: str | None = None
    version: str | None = None
    affiliation: str | None = None
    url: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Parameter:
    """A configuration value of an activity (ProvDM Parameter with its description's unit/UCD)."""

    name: str
    value: ParameterValue
    unit: str | None = None
    ucd: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """An input: the entity used, its role and when its use started."""

    entity: EntityRef
    role: str | None = None
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """An existing DID the activity generated (new files come with their registration)."""

    did: DIDKey
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Derivation:
    """An asserted ``wasDerivedFrom``: one output of the activity from one entity."""

    generated: DIDKey
    used: EntityRef


@dataclass(frozen=True, slots=True)
class ActivitySpec:
    """Everything one ``recordActivity`` call records, apart from the files it registers."""

    name: str
    activity_type: str | None = None
    status: ActivityStatus = ActivityStatus.COMPLETED
    start_time: datetime | None = None
    end_time: datetime | None = None
    comment: str | None = None
    agents: Sequence[AgentSpec] = ()
    parameters: Sequence[Parameter] = ()
    used: Sequence[Usage] = ()
    generated: Sequence[Output] = ()
    new_file_roles: Sequence[str | None] = ()  # the role of each registered file, in order
    derivations: Sequence[Derivation] = ()
    attributed_to: Sequence[AgentSpec] = ()  # every output is attributed to these
    informed_by: Sequence[int] = ()  # ids of earlier activities


def _text(where: str, value: str | None, limit: int, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise InvalidInputError(f"{where}: is required")
        return
    if required and not value.strip():
        raise InvalidInputError(f"{where}: must not be empty")
    if len(value) > limit:
        raise InvalidInputError(f"{where}: at most {limit} characters")


def check_uri(where: str, uri: str) -> str:
    """An absolute URI (``scheme:...`` without whitespace) names an external entity."""
    if not _URI.match(uri) or len(uri) > 2000:  # noqa: PLR2004
        raise InvalidInputError(f"{where}: {uri!r} is not an absolute URI (scheme:...)")
    return uri


def check_entity(where: str, ref: EntityRef) -> None:
    """Exactly one of a DID and a URI."""
    if (ref.did is None) == (ref.uri is None):
        raise InvalidInputError(f"{where}: give exactly one of did and uri")
    if ref.uri is not None:
        check_uri(f"{where}.uri", ref.uri)


def check_agent(where: str, agent: AgentSpec) -> None:
    """Name, role and version within their limits."""
    _text(f"{where}.name", agent.name, MAX_NAME, required=True)
    _text(f"{where}.role", agent.role, MAX_ROLE)
    _text(f"{where}.version", agent.version, 64)
    if agent.url is not None:
        check_uri(f"{where}.url", agent.url)


def check_parameter(where: str, parameter: Parameter) -> None:
    """A name as ProvDM writes one, a scalar value, unit and UCD within their limits."""
    if not _PARAMETER.match(parameter.name):
        raise InvalidInputError(
            f"{where}.name: {parameter.name!r} must start with a letter or '_' "
            "(letters, digits, '_ . - : / [ ]', at most 128)"
        )
    if isinstance(parameter.value, float) and not math.isfinite(parameter.value):
        raise InvalidInputError(f"{where}.value: must be a finite number")
    _text(f"{where}.unit", parameter.unit, 64)
    _text(f"{where}.ucd", parameter.ucd, 128)


def _check_lists(spec: ActivitySpec) -> None:
    for name, items in (
        ("used", spec.used),
        ("generated", spec.generated),
        ("parameters", spec.parameters),
        ("files", spec.new_file_roles),
    ):
        if len(items) > MAX_LIST:
            raise InvalidInputError(f"{name}: at most {MAX_LIST:,} per activity")


def _check_relations(spec: ActivitySpec) -> None:
    inputs: set[EntityRef] = set()
    for i, usage in enumerate(spec.used):
        check_entity(f"used[{i}]", usage.entity)
        _text(f"used[{i}].role", usage.role, MAX_ROLE)
        if usage.entity in inputs:
            raise InvalidInputError(f"used[{i}]: {usage.entity} is listed twice")
        inputs.add(usage.entity)
    outputs: set[DIDKey] = set()
    for i, output in enumerate(spec.generated):
        _text(f"generated[{i}].role", output.role, MAX_ROLE)
        if output.did in outputs:
            raise InvalidInputError(f"generated[{i}]: {output.did} is listed twice")
        if EntityRef(did=output.did) in inputs:
            raise InvalidInputError(f"generated[{i}]: {output.did} is also an input")
        outputs.add(output.did)
    for i, role in enumerate(spec.new_file_roles):
        _text(f"files[{i}].role", role, MAX_ROLE)
    for i, derivation in enumerate(spec.derivations):
        check_entity(f"derivations[{i}].used", derivation.used)
        if derivation.used == EntityRef(did=derivation.generated):
            raise InvalidInputError(f"derivations[{i}]: an entity is not derived from itself")


def check_activity(spec: ActivitySpec) -> ActivitySpec:
    """Validate a recording before anything is looked up; errors name the field."""
    _text("name", spec.name, MAX_NAME, required=True)
    _text("type", spec.activity_type, 64)
    if spec.start_time and spec.end_time and spec.end_time < spec.start_time:
        raise InvalidInputError("endTime: is before startTime")
    _check_lists(spec)
    for i, agent in enumerate(spec.agents):
        check_agent(f"agents[{i}]", agent)
    for i, agent in enumerate(spec.attributed_to):
        check_agent(f"attributedTo[{i}]", agent)
    names: set[str] = set()
    for i, parameter in enumerate(spec.parameters):
        check_parameter(f"parameters[{i}]", parameter)
        if parameter.name in names:
            raise InvalidInputError(f"parameters[{i}].name: {parameter.name!r} is given twice")
        names.add(parameter.name)
    _check_relations(spec)
    return spec


def check_walk(depth: int, limit: int) -> None:
    """A lineage query's depth and size within the caps."""
    if not 0 <= depth <= MAX_DEPTH:
        raise InvalidInputError(f"depth: must be between 0 and {MAX_DEPTH}")
    if not 1 <= limit <= MAX_NODES:
        raise InvalidInputError(f"limit: must be between 1 and {MAX_NODES:,}")


# -- what is read back ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entity:
    """A stored entity: a visible lake DID (its identity), or an external URI."""

    id: int
    uri: str | None = None
    did_key: DIDKey | None = None
    did_type: DIDType | None = None
    did_id: int | None = None

    @property
    def key(self) -> str:
        """``scope:name`` of a DID, the URI of an external entity."""
        return str(self.did_key) if self.did_key is not None else str(self.uri)


@dataclass(frozen=True, slots=True)
class Agent:
    """A stored agent."""

    id: int
    name: str
    type: AgentType
    version: str | None = None
    affiliation: str | None = None
    url: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """A stored activity."""

    id: int
    name: str
    status: ActivityStatus
    recorded_at: datetime
    activity_type: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class StoredParameter:
    """A parameter as stored: its typed value, ProvDM's string form, its type name."""

    activity_id: int
    name: str
    value: ParameterValue
    text: str
    value_type: str
    unit: str | None = None
    ucd: str | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    """A relation from ``source`` to ``target``, with its role and time where it has them.

    used: (activity, entity); wasGeneratedBy: (entity, activity); wasDerivedFrom: (generated,
    used); wasAssociatedWith: (activity, agent); wasAttributedTo: (entity, agent);
    wasInformedBy: (informed, informant).
    """

    source: int
    target: int
    role: str | None = None
    time: datetime | None = None


@dataclass(slots=True)
class Lineage:
    """The provenance subgraph around a DID, walked one way to a depth.

    ``entity_levels`` and ``activity_levels`` say how many steps from the root each node
    is (an activity and the entities it used or generated are one step). ``truncated`` is
    true when the depth or size cap left nodes out; nodes a caller may not see are left out
    without a trace.
    """

    root: Entity | None
    direction: Direction
    depth: int
    truncated: bool = False
    entities: dict[int, Entity] = field(default_factory=dict)
    activities: dict[int, Activity] = field(default_factory=dict)
    agents: dict[int, Agent] = field(default_factory=dict)
    entity_levels: dict[int, int] = field(default_factory=dict)
    activity_levels: dict[int, int] = field(default_factory=dict)
    used: list[Edge] = field(default_factory=list)
    generated: list[Edge] = field(default_factory=list)
    derived: list[Edge] = field(default_factory=list)
    associated: list[Edge] = field(default_factory=list)
    attributed: list[Edge] = field(default_factory=list)
    informed: list[Edge] = field(default_factory=list)
    parameters: dict[int, list[StoredParameter]] = field(default_factory=dict)

    @property
    def reached(self) -> int:
        """The deepest level that holds a node."""
        levels = [*self.entity_levels.values(), *self.activity_levels.values()]
        return max(levels, default=0)


@dataclass(slots=True)
class Recorded:
    """What ``recordActivity`` did, or why it wrote nothing (``problems``: where, why)."""

    activity: Activity | None = None
    registered: int = 0
    unchanged: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
