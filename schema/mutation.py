"""The Mutation root: registering files, building the DID graph, metadata and replicas.

Every mutation acts for the request's caller; expected refusals are members of the result
union (schema/errors.py).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from catalogue import models
from catalogue.authorization import PermissionDeniedError
from catalogue.errors import InvalidInputError
from catalogue.ingest import Candidate, Rejected, candidate_from_record, parse_meta_value
from catalogue.models import DIDKey, DIDType, ReplicaSpec
from schema.context import Context
from schema.enums import ReplicaState
from schema.errors import (
    AttachmentProblem,
    ConflictProblem,
    InvalidInputProblem,
    NotFoundProblem,
    UserProblem,
    guarded,
)
from schema.types import DID, RSE, Long, from_domain

Problems = InvalidInputProblem | NotFoundProblem | ConflictProblem | AttachmentProblem


@strawberry.input(description="One metadata key and its value (ISO 8601 strings become times).")
class MetadataInput:
    key: str
    value: JSON


@strawberry.input(description="A replica: an RSE and a URL, or a path under its base URL.")
class ReplicaInput:
    rse: str
    url: str | None = None
    path: str | None = None
    state: ReplicaState = models.ReplicaState.AVAILABLE  # type: ignore[valid-type]


@strawberry.input(description="A file to register, as a manifest line (docs/ingest.md).")
class FileInput:
    scope: str
    name: str
    bytes: Long
    adler32: str
    md5: str | None = None
    guid: str | None = None
    obscore: JSON | None = strawberry.field(
        default=None, description="ObsCore fields by their standard names; units as in ingest."
    )
    metadata: list[MetadataInput] | None = None
    replicas: list[ReplicaInput] | None = None
    dataset: str | None = strawberry.field(default=None, description="name or scope:name")


@strawberry.input
class RSEInput:
    name: str
    base_url: str
    qos_class: str | None = None
    deterministic: bool = True
    read_only: bool = False


@strawberry.enum
class MetadataMode(Enum):
    MERGE = "merge"
    REPLACE = "replace"


@strawberry.enum
class FileStatus(Enum):
    REGISTERED = "registered"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    NOT_WRITTEN = "not_written"


@strawberry.type(description="What happened to one file of registerFiles.")
class FileResult:
    index: int
    did: str
    status: FileStatus
    message: str | None = None


@strawberry.type(description="registerFiles applies whole or not at all; ok says which.")
class RegisterFilesResult:
    ok: bool
    registered: int
    unchanged: int
    failed: int
    items: list[FileResult]


@strawberry.type
class AttachSuccess:
    parent: DID
    changed: int = strawberry.field(description="How many were newly (de)attached.")


@strawberry.type
class ReplicasSuccess:
    file: DID
    added: int


@strawberry.type
class DIDSuccess:
    did: DID


def _key(text: str, field: str) -> DIDKey:
    try:
        return DIDKey.parse(text)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{field}: {exc}") from exc


def _metadata(entries: list[MetadataInput] | None) -> dict[str, models.MetaValue]:
    return {e.key: parse_meta_value(e.value) for e in entries or []}


def _record(f: FileInput, dataset: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "scope": f.scope,
        "name": f.name,
        "bytes": f.bytes,
        "adler32": f.adler32,
        "md5": f.md5,
        "guid": f.guid,
        "obscore": f.obscore or {},
        "metadata": {e.key: e.value for e in f.metadata or []},
        "replicas": [
            {
                "rse": r.rse,
                "url": r.url,
                "path": r.path,
                "state": models.ReplicaState(r.state).value,
            }
            for r in f.replicas or []
        ],
    }
    for replica in record["replicas"]:
        for k in ("url", "path"):
            if replica[k] is None:
                del replica[k]
    if f.dataset or dataset:
        record["dataset"] = f.dataset or dataset
    return record


def _candidates(files: list[FileInput], dataset: str | None) -> list[Candidate | Rejected]:
    found: list[Candidate | Rejected] = []
    for index, f in enumerate(files):
        where = f"files[{index}]"
        try:
            spec, target = candidate_from_record(_record(f, dataset), None)
            found.append(Candidate(where, spec, target))
        except InvalidInputError as exc:
            found.append(Rejected(where, str(exc)))
    return found


async def _did(info: Info[Context, None], key: DIDKey) -> DID:
    info.context.forget_reads()  # an earlier mutation of this request may have cached it
    record = (await info.context.catalogue.reads.dids_by_key([key], info.context.viewer)).get(key)
    if record is None:  # its members' embargo hides it from this caller (docs/security.md)
        who = info.context.caller.subject
        msg = f"{key} was written, but an embargo on its members hides it from {who}"
        raise PermissionDeniedError(msg)
    return from_domain(record)


async def _membership(
    info: Info[Context, None], parent: str, children: list[str], *, attaching: bool
) -> AttachResult:
    async def run() -> AttachSuccess:
        key = _key(parent, "parent")
        keys = [_key(c, f"children[{i}]") for i, c in enumerate(children)]
        catalogue = info.context.catalogue
        change = catalogue.attach if attaching else catalogue.detach
        changed = await change(key, keys, caller=info.context.caller)
        return AttachSuccess(parent=await _did(info, key), changed=changed)

    return await guarded(run())  # type: ignore[return-value]


RegisterRSEResult = Annotated[RSE | Problems, strawberry.union("RegisterRSEResult")]
CollectionResult = Annotated[DIDSuccess | Problems, strawberry.union("CollectionResult")]
AttachResult = Annotated[AttachSuccess | Problems, strawberry.union("AttachResult")]
ReplicasResult = Annotated[ReplicasSuccess | Problems, strawberry.union("ReplicasResult")]


def _problem(found: Any) -> bool:
    return isinstance(found, UserProblem)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Register files in bulk: all of them, or none.")
    async def register_files(
        self, info: Info[Context, None], files: list[FileInput], dataset: str | None = None
    ) -> RegisterFilesResult:
        summary = await info.context.catalogue.register_files(
            _candidates(files, dataset),
            all_or_nothing=True,
            track_outcomes=True,
            caller=info.context.caller,
        )
        info.context.forget_reads()
        problems = dict(summary.problems)
        outcomes = summary.outcomes or {}
        items: list[FileResult] = []
        for index, f in enumerate(files):
            where = f"files[{index}]"
            if where in problems:
                status, message = FileStatus.FAILED, problems[where]
            elif summary.failed:
                status, message = FileStatus.NOT_WRITTEN, "another file failed; nothing written"
            else:
                status, message = FileStatus(outcomes.get(where, "registered")), None
            items.append(
                FileResult(index=index, did=f"{f.scope}:{f.name}", status=status, message=message)
            )
        return RegisterFilesResult(
            ok=not summary.failed,
            registered=summary.registered,
            unchanged=summary.unchanged,
            failed=summary.failed,
            items=items,
        )

    @strawberry.mutation(description="Register a storage element.")
    async def register_rse(self, info: Info[Context, None], input: RSEInput) -> RegisterRSEResult:
        rse = models.RSE(
            input.name, input.base_url, input.qos_class, input.deterministic, input.read_only
        )
        done = await guarded(info.context.catalogue.add_rse(rse, caller=info.context.caller))
        return done if _problem(done) else RSE.from_domain(rse)  # type: ignore[return-value]

    @staticmethod
    async def _collection(
        info: Info[Context, None],
        scope: str,
        name: str,
        did_type: DIDType,
        metadata: list[MetadataInput] | None,
    ) -> CollectionResult:
        async def create() -> DIDSuccess:
            key = DIDKey(models.check_scope(scope), models.check_name(name))
            await info.context.catalogue.add_collection(
                key, did_type, _metadata(metadata), caller=info.context.caller
            )
            return DIDSuccess(did=await _did(info, key))  # read as the caller may see it

        return await guarded(create())  # type: ignore[return-value]

    @strawberry.mutation(description="Create an open dataset (idempotent).")
    async def create_dataset(
        self,
        info: Info[Context, None],
        scope: str,
        name: str,
        metadata: list[MetadataInput] | None = None,
    ) -> CollectionResult:
        return await Mutation._collection(info, scope, name, DIDType.DATASET, metadata)

    @strawberry.mutation(description="Create an open container (idempotent).")
    async def create_container(
        self,
        info: Info[Context, None],
        scope: str,
        name: str,
        metadata: list[MetadataInput] | None = None,
    ) -> CollectionResult:
        return await Mutation._collection(info, scope, name, DIDType.CONTAINER, metadata)

    @strawberry.mutation(description="Attach DIDs (scope:name) to a collection.")
    async def attach(
        self, info: Info[Context, None], parent: str, children: list[str]
    ) -> AttachResult:
        return await _membership(info, parent, children, attaching=True)

    @strawberry.mutation(description="Detach DIDs (scope:name) from a collection.")
    async def detach(
        self, info: Info[Context, None], parent: str, children: list[str]
    ) -> AttachResult:
        return await _membership(info, parent, children, attaching=False)

    @strawberry.mutation(description="Close a dataset (or container): no new content, ever.")
    async def close_dataset(self, info: Info[Context, None], did: str) -> CollectionResult:
        async def run() -> DIDSuccess:
            key = _key(did, "did")
            await info.context.catalogue.close(key, caller=info.context.caller)
            return DIDSuccess(did=await _did(info, key))

        return await guarded(run())  # type: ignore[return-value]

    @strawberry.mutation(description="Set metadata: MERGE keeps other keys, REPLACE drops them.")
    async def set_metadata(
        self,
        info: Info[Context, None],
        did: str,
        entries: list[MetadataInput],
        mode: MetadataMode = MetadataMode.MERGE,
    ) -> CollectionResult:
        async def run() -> DIDSuccess:
            key = _key(did, "did")
            await info.context.catalogue.set_metadata(
                key,
                _metadata(entries),
                replace_all=mode is MetadataMode.REPLACE,
                caller=info.context.caller,
            )
            return DIDSuccess(did=await _did(info, key))

        return await guarded(run())  # type: ignore[return-value]

    @strawberry.mutation(description="Add replicas of a file.")
    async def add_replicas(
        self, info: Info[Context, None], did: str, replicas: list[ReplicaInput]
    ) -> ReplicasResult:
        async def run() -> ReplicasSuccess:
            key = _key(did, "did")
            specs = [
                ReplicaSpec(r.rse, r.url, r.path, models.ReplicaState(r.state)) for r in replicas
            ]
            added = await info.context.catalogue.add_replicas(
                key, specs, caller=info.context.caller
            )
            return ReplicasSuccess(file=await _did(info, key), added=added)

        return await guarded(run())  # type: ignore[return-value]

    @strawberry.mutation(description="Set the state of a file's replica on an RSE.")
    async def set_replica_state(
        self,
        info: Info[Context, None],
        did: str,
        rse: str,
        state: ReplicaState,  # type: ignore[valid-type]
    ) -> ReplicasResult:
        async def run() -> ReplicasSuccess:
            key = _key(did, "did")
            await info.context.catalogue.set_replica_state(
                key, rse, models.ReplicaState(state), caller=info.context.caller
            )
            return ReplicasSuccess(file=await _did(info, key), added=0)

        return await guarded(run())  # type: ignore[return-value]
