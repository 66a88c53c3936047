"""Recording one activity: its new output files registered and its provenance written together.

Runs inside the caller's transaction and writes nothing the caller must keep unless it
returns without problems; :meth:`catalogue.service.Catalogue.record_activity` rolls back
otherwise, so an output never exists without its lineage. Every problem is reported with
the input it concerns (``used[2].did``, ``files[0]``, ``generated[1]``) — all of them, not
only the first: the inputs are checked before the files are registered, and the files
before anything of the activity is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.authorization import Viewer
from catalogue.ingest import Candidate, Rejected
from catalogue.models import Caller, DIDKey
from catalogue.provenance import Activity, ActivitySpec, EntityRef, Recorded
from catalogue.registration import Registration
from catalogue.store import files
from catalogue.store import provenance as store
from catalogue.store import tables as t
from catalogue.store.visibility import visible_dids


@dataclass(slots=True)
class _Names:
    """The DIDs a recording names, as the caller may see them."""

    rows: dict[DIDKey, Any]
    visible: set[int]

    def did_id(self, key: DIDKey) -> int | None:
        row = self.rows.get(key)
        return row["id"] if row is not None and row["id"] in self.visible else None


def _named_dids(spec: ActivitySpec) -> list[DIDKey]:
    keys = [u.entity.did for u in spec.used if u.entity.did is not None]
    keys += [o.did for o in spec.generated]
    keys += [d.used.did for d in spec.derivations if d.used.did is not None]
    return keys


async def _names(session: AsyncSession, viewer: Viewer, keys: Sequence[DIDKey]) -> _Names:
    rows = await files.find_dids(session, sorted(set(keys)))
    return _Names(rows, await visible_dids(session, viewer, [r["id"] for r in rows.values()]))


def _missing(key: DIDKey) -> str:
    return f"DID {key} does not exist"


def _check_outputs(
    spec: ActivitySpec, outputs: list[tuple[str, DIDKey, str | None]]
) -> list[tuple[str, str]]:
    """An output is named once, and is not also an input."""
    problems: list[tuple[str, str]] = []
    inputs = {u.entity.did for u in spec.used if u.entity.did is not None}
    seen: set[DIDKey] = set()
    for where, key, _ in outputs:
        if key in seen:
            problems.append((where, f"{key} is already an output of this activity"))
        elif key in inputs:
            problems.append((where, f"{key} is also an input of this activity"))
        seen.add(key)
    return problems


async def _check_inputs(
    session: AsyncSession,
    spec: ActivitySpec,
    names: _Names,
    outputs: set[DIDKey],
    viewer: Viewer,
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for i, usage in enumerate(spec.used):
        if usage.entity.did is not None and names.did_id(usage.entity.did) is None:
            problems.append((f"used[{i}].did", _missing(usage.entity.did)))
    for i, output in enumerate(spec.generated):
        if names.did_id(output.did) is None:
            problems.append((f"generated[{i}].did", _missing(output.did)))
    for i, derivation in enumerate(spec.derivations):
        if derivation.generated not in outputs:
            message = f"{derivation.generated} is not an output of this activity"
            problems.append((f"derivations[{i}].generated", message))
        used = derivation.used.did
        if used is not None and names.did_id(used) is None:
            problems.append((f"derivations[{i}].used", _missing(used)))
    known = await store.existing_activities(session, spec.informed_by, viewer)
    problems += [
        (f"informedBy[{i}]", f"no activity {a} has been recorded")
        for i, a in enumerate(spec.informed_by)
        if a not in known
    ]
    return problems


async def _register(
    registration: Registration, new_files: list[Candidate | Rejected]
) -> list[tuple[str, str]]:
    if not new_files:
        return []
    await registration.add_batch(new_files, write=True)
    return list(registration.summary.problems)


@dataclass(slots=True)
class _Entities:
    """Entity ids of everything the activity names, and who generated its outputs before."""

    of_did: dict[int, int]
    of_uri: dict[str, int]

    def of(self, ref: EntityRef, names: _Names) -> int:
        if ref.did is not None:
            return self.of_did[int(names.did_id(ref.did) or 0)]
        return self.of_uri[str(ref.uri)]


async def _entities(
    session: AsyncSession, spec: ActivitySpec, names: _Names, now: datetime
) -> _Entities:
    did_ids = {i for key in names.rows if (i := names.did_id(key)) is not None}
    uris = {u.entity.uri for u in spec.used if u.entity.uri is not None}
    uris |= {d.used.uri for d in spec.derivations if d.used.uri is not None}
    return _Entities(
        await store.entity_ids_of_dids(session, did_ids, now),
        await store.entity_ids_of_uris(session, sorted(uris), now),
    )


def _outputs(
    spec: ActivitySpec, new_files: Sequence[Candidate | Rejected]
) -> list[tuple[str, DIDKey, str | None]]:
    """Every output as (where, DID, role): the named DIDs, then the registered files."""
    found = [(f"generated[{i}].did", o.did, o.role) for i, o in enumerate(spec.generated)]
    roles = list(spec.new_file_roles) + [None] * len(new_files)
    found += [
        (item.where, item.spec.key, roles[i])
        for i, item in enumerate(new_files)
        if isinstance(item, Candidate)
    ]
    return found


async def _write(
    session: AsyncSession,
    spec: ActivitySpec,
    caller: Caller,
    names: _Names,
    entities: _Entities,
    outputs: list[tuple[str, DIDKey, str | None]],
    now: datetime,
) -> int:
    activity_id = await store.add_activity(session, spec, caller.subject, now)
    output_ids = [entities.of(EntityRef(did=key), names) for _, key, _ in outputs]
    usage = [
        {
            "activity_id": activity_id,
            "entity_id": entities.of(u.entity, names),
            "role": u.role,
            "time": u.time,
        }
        for u in spec.used
    ]
    generation = [
        {"entity_id": e, "activity_id": activity_id, "role": role, "time": spec.end_time}
        for e, (_, _, role) in zip(output_ids, outputs, strict=True)
    ]
    derivation = {
        (entities.of(EntityRef(did=d.generated), names), entities.of(d.used, names))
        for d in spec.derivations
    }
    agent_ids = await store.agent_ids(session, [*spec.agents, *spec.attributed_to])
    associated = dict(zip(agent_ids[: len(spec.agents)], spec.agents, strict=True))
    attributed = dict(zip(agent_ids[len(spec.agents) :], spec.attributed_to, strict=True))
    for table, rows in (
        (t.prov_usage, usage),
        (t.prov_generation, generation),
        (
            t.prov_derivation,
            [
                {"generated_id": g, "used_id": u, "activity_id": activity_id}
                for g, u in sorted(derivation)
            ],
        ),
        (
            t.prov_association,
            [
                {"activity_id": activity_id, "agent_id": i, "role": a.role}
                for i, a in associated.items()
            ],
        ),
        (
            t.prov_attribution,
            [
                {"entity_id": e, "agent_id": i, "role": a.role}
                for e in output_ids
                for i, a in attributed.items()
            ],
        ),
        (
            t.prov_communication,
            [
                {"informed_id": activity_id, "informant_id": i}
                for i in sorted(set(spec.informed_by))
            ],
        ),
    ):
        await store.add_rows(session, table, rows)
    return activity_id


async def record(
    session: AsyncSession,
    spec: ActivitySpec,
    new_files: list[Candidate | Rejected],
    registration: Registration,
    caller: Caller,
    viewer: Viewer,
) -> Recorded:
    """Record an activity in the session's transaction; ``problems`` say why not.

    DIDs the caller may not see (``viewer``) are missing to it, as inputs or as outputs.
    """
    now = datetime.now(UTC)
    result = Recorded()
    file_keys = {item.spec.key for item in new_files if isinstance(item, Candidate)}
    outputs = _outputs(spec, new_files)
    names = await _names(session, viewer, _named_dids(spec))
    result.problems = _check_outputs(spec, outputs) + await _check_inputs(
        session, spec, names, {key for _, key, _ in outputs}, viewer
    )
    if result.problems:
        return result
    result.problems = await _register(registration, new_files)
    if result.problems:
        return result
    result.registered = registration.summary.registered
    result.unchanged = registration.summary.unchanged
    names = await _names(session, viewer, [*_named_dids(spec), *file_keys])
    entities = await _entities(session, spec, names, now)
    earlier = await store.generators(
        session, [entities.of(EntityRef(did=key), names) for _, key, _ in outputs]
    )
    for where, key, _ in outputs:
        activity = earlier.get(entities.of(EntityRef(did=key), names))
        if activity is not None:
            result.problems.append((where, f"{key} was already generated by activity {activity}"))
    if result.problems:
        return result
    activity_id = await _write(session, spec, caller, names, entities, outputs, now)
    result.activity = Activity(
        id=activity_id,
        name=spec.name,
        status=spec.status,
        recorded_at=now,
        activity_type=spec.activity_type,
        start_time=spec.start_time,
        end_time=spec.end_time,
        comment=spec.comment,
    )
    return result
