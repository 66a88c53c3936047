"""The ``recordActivity`` mutation: one processing step, its outputs registered with it.

Input errors (a malformed DID, end before start, a list parameter) are GraphQL errors naming
the field (``activity.used[2].did``); refusals found against the store (a missing input, a
refused file, an output generated before) are the ``RecordActivityError`` member, listing
every problem with its field. Either way nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from catalogue import provenance as prov
from catalogue.errors import InvalidInputError
from catalogue.ingest import parse_meta_value
from catalogue.models import DIDKey
from schema.context import Context
from schema.errors import UserProblem
from schema.inputs import input_error
from schema.mutation import FileInput, _candidates
from schema.provenance import ActivityNode, ActivityStatus, AgentType

# -- recordActivity ------------------------------------------------------------------------


@strawberry.input(description="An entity: a DID (scope:name) or an external URI, not both.")
class EntityInput:
    did: str | None = None
    uri: str | None = None


@strawberry.input(description="An input of the activity and the role it played.")
class UsageInput:
    did: str | None = strawberry.field(default=None, description="scope:name")
    uri: str | None = strawberry.field(default=None, description="An external entity.")
    role: str | None = strawberry.field(default=None, description="e.g. raw, calibration")
    time: datetime | None = None


@strawberry.input(description="An existing DID the activity generated.")
class OutputInput:
    did: str
    role: str | None = None


@strawberry.input(description="An agent: a person, an organisation, or software and its version.")
class AgentInput:
    name: str
    type: AgentType  # type: ignore[valid-type]
    role: str | None = strawberry.field(default=None, description="e.g. Operator, software")
    version: str | None = None
    affiliation: str | None = None
    url: str | None = None
    comment: str | None = None


@strawberry.input(description="A configuration parameter: a scalar value, its unit and UCD.")
class ParameterInput:
    name: str
    value: JSON
    unit: str | None = None
    ucd: str | None = None


@strawberry.input(description="wasDerivedFrom: an output of this activity from an entity.")
class DerivationInput:
    generated: str = strawberry.field(description="scope:name of an output")
    used: EntityInput


@strawberry.input(
    description="A file the activity generated, registered with it (as registerFiles)."
)
class GeneratedFileInput(FileInput):
    role: str | None = None


@strawberry.input(description="A processing step: what it was, what it used and generated.")
class ActivityInput:
    name: str
    type: str | None = strawberry.field(default=None, description="Reduction, Calibration, ...")
    status: ActivityStatus = prov.ActivityStatus.COMPLETED  # type: ignore[valid-type]
    start_time: datetime | None = None
    end_time: datetime | None = None
    comment: str | None = None
    agents: list[AgentInput] | None = None
    parameters: list[ParameterInput] | None = None
    used: list[UsageInput] | None = None
    generated: list[OutputInput] | None = strawberry.field(
        default=None,
        description="Outputs already registered; new files go in recordActivity(files).",
    )
    attributed_to: list[AgentInput] | None = strawberry.field(
        default=None, description="Agents every output is attributed to (wasAttributedTo)."
    )
    derivations: list[DerivationInput] | None = None
    informed_by: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Ids of earlier activities whose outputs informed this one."
    )


@strawberry.type(description="The activity was recorded and its files registered.")
class RecordActivitySuccess:
    activity: ActivityNode
    registered: int = strawberry.field(description="Output files newly registered.")
    unchanged: int = strawberry.field(description="Output files already registered identically.")


@strawberry.type(description="One reason recordActivity wrote nothing.")
class ActivityProblem:
    field: str = strawberry.field(description="The input it concerns, e.g. used[2].did, files[0].")
    message: str


@strawberry.type(
    name="RecordActivityError", description="Nothing was recorded; every reason is listed."
)
class RecordActivityProblem(UserProblem):
    problems: list[ActivityProblem]


RecordActivityResult = Annotated[
    RecordActivitySuccess | RecordActivityProblem, strawberry.union("RecordActivityResult")
]


def _did(text: str, field: str) -> DIDKey:
    try:
        return DIDKey.parse(text)
    except InvalidInputError as exc:
        raise input_error(field, str(exc)) from exc


def _entity(did: str | None, uri: str | None, field: str) -> prov.EntityRef:
    return prov.EntityRef(did=_did(did, f"{field}.did") if did is not None else None, uri=uri)


def _agent(a: AgentInput) -> prov.AgentSpec:
    return prov.AgentSpec(
        a.name, prov.AgentType(a.type), a.role, a.version, a.affiliation, a.url, a.comment
    )


def _parameter(p: ParameterInput, field: str) -> prov.Parameter:
    value = parse_meta_value(p.value) if not isinstance(p.value, list | dict) else p.value
    if value is None or isinstance(value, list | dict):
        raise input_error(f"{field}.value", "must be a string, number, boolean or ISO 8601 time")
    return prov.Parameter(p.name, value, p.unit, p.ucd)


def _informants(ids: list[strawberry.ID] | None) -> list[int]:
    found = []
    for i, text in enumerate(ids or []):
        if not str(text).isdigit():
            raise input_error(f"activity.informedBy[{i}]", f"{text!r} is not an activity id")
        found.append(int(text))
    return found


def _spec(a: ActivityInput, files: list[GeneratedFileInput]) -> prov.ActivitySpec:
    spec = prov.ActivitySpec(
        name=a.name,
        activity_type=a.type,
        status=prov.ActivityStatus(a.status),
        start_time=a.start_time,
        end_time=a.end_time,
        comment=a.comment,
        agents=[_agent(g) for g in a.agents or []],
        parameters=[
            _parameter(p, f"activity.parameters[{i}]") for i, p in enumerate(a.parameters or [])
        ],
        used=[
            prov.Usage(_entity(u.did, u.uri, f"activity.used[{i}]"), u.role, u.time)
            for i, u in enumerate(a.used or [])
        ],
        generated=[
            prov.Output(_did(o.did, f"activity.generated[{i}].did"), o.role)
            for i, o in enumerate(a.generated or [])
        ],
        new_file_roles=[f.role for f in files],
        derivations=[
            prov.Derivation(
                _did(d.generated, f"activity.derivations[{i}].generated"),
                _entity(d.used.did, d.used.uri, f"activity.derivations[{i}].used"),
            )
            for i, d in enumerate(a.derivations or [])
        ],
        attributed_to=[_agent(g) for g in a.attributed_to or []],
        informed_by=_informants(a.informed_by),
    )
    try:
        return prov.check_activity(spec)
    except InvalidInputError as exc:
        where, _, reason = str(exc).partition(": ")
        raise input_error(f"activity.{where}", reason) from exc


@strawberry.type
class ProvenanceMutation:
    @strawberry.mutation(
        description="Record a processing step in one transaction: the activity, its agents and "
        "parameters, what it used, and what it generated — registering new output files "
        "(as registerFiles) at the same time. Any problem writes nothing."
    )
    async def record_activity(
        self,
        info: Info[Context, None],
        activity: ActivityInput,
        files: list[GeneratedFileInput] | None = None,
        dataset: Annotated[
            str | None,
            strawberry.argument(description="The dataset new files join (name or scope:name)."),
        ] = None,
    ) -> RecordActivityResult:
        spec = _spec(activity, files or [])
        recorded = await info.context.catalogue.record_activity(
            spec, _candidates(list(files or []), dataset), caller=info.context.caller
        )
        info.context.forget_reads()
        if recorded.problems or recorded.activity is None:
            problems = [ActivityProblem(field=w, message=m) for w, m in recorded.problems]
            count = len(problems)
            return RecordActivityProblem(
                message=f"nothing was recorded: {count} problem{'s' * (count != 1)}",
                problems=problems,
            )
        return RecordActivitySuccess(
            activity=ActivityNode(record=recorded.activity),
            registered=recorded.registered,
            unchanged=recorded.unchanged,
        )
