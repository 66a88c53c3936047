"""Following a Rucio server: what a sync brings, and the runs that bring it (docs/rucio.md).

Rucio is the truth for the namespace (scopes, DIDs, attachments), replicas and checksums of
the scopes a lake follows; lakecat adds the characterisation, coverage and search. DIDs keep
their Rucio identity (``scope:name``), RSEs their names. A sync never silently diverges from
Rucio: what it cannot follow — a checksum lakecat holds otherwise, a DID only lakecat has in
a followed scope, a name lakecat deleted — is reported as a *conflict* and left as it is.

The REST client and the reading of Rucio's answers live in ``bridges/rucio/``; they turn
Rucio's answers into the values below and hand them to a :class:`catalogue.syncing.RucioSync`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from catalogue.models import RSE, DIDKey, DIDType, MetaValue, ReplicaState


class SyncMode(StrEnum):
    """What a run reads."""

    FULL = "full"  # everything in the followed scopes: a first sync, or a reconciliation
    INCREMENTAL = "incremental"  # what changed since the last successful run
    EVENTS = "events"  # a listener applying Rucio's messages (hermes) as they come


class SyncStatus(StrEnum):
    """Where a sync run stands."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # stopped by an error; what it committed stays, and it can resume


@dataclass(frozen=True, slots=True)
class RucioRSE:
    """An RSE as Rucio describes it: lakecat's RSE, with Rucio's protocols and attributes."""

    rse: RSE
    rucio_id: str
    rse_type: str | None = None
    protocols: Sequence[Mapping[str, Any]] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RucioReplica:
    """A replica of a file on an RSE: its PFN and state (mapped onto lakecat's states)."""

    rse: str
    url: str
    state: ReplicaState


@dataclass(frozen=True, slots=True)
class RucioDID:
    """One DID as Rucio has it, with everything a sync writes.

    ``characterisation`` holds the ObsCore values mapped from the metadata (already typed);
    ``replicas`` are a file's replicas on every RSE; ``is_open`` is a collection's state.
    """

    key: DIDKey
    type: DIDType
    bytes: int | None = None
    adler32: str | None = None
    md5: str | None = None
    guid: str | None = None
    is_open: bool | None = None
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)
    characterisation: Mapping[str, Any] = field(default_factory=dict)
    replicas: Sequence[RucioReplica] = ()

    def digest(self) -> str:
        """What a sync compares: a DID whose digest is unchanged is not rewritten."""
        body = (
            self.type.value,
            self.bytes,
            self.adler32,
            self.md5,
            self.guid,
            self.is_open,
            sorted(self.metadata.items()),
            sorted(self.characterisation.items()),
            sorted((r.rse, r.url, r.state.value) for r in self.replicas),
        )
        return hashlib.sha256(repr(body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SyncProblem:
    """Something a sync could not take (``conflict`` when lakecat and Rucio disagree)."""

    where: str
    reason: str
    conflict: bool = False


@dataclass(slots=True)
class SyncCounts:
    """What a run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    attached: int = 0
    detached: int = 0
    conflicts: int = 0
    failed: int = 0

    def add(self, other: SyncCounts) -> None:
        """Accumulate another step's counts."""
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def __str__(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"deleted {self.deleted}, attached {self.attached}, detached {self.detached}, "
            f"conflicts {self.conflicts}, failed {self.failed}"
        )


@dataclass(frozen=True, slots=True)
class SyncRun:
    """One recorded run: which server and scopes, when, what it did, what went wrong.

    ``since`` is an incremental run's lower bound on Rucio's creation and update times, and
    ``server_time`` Rucio's clock when the run started (the next run's ``since``, less a margin);
    ``checkpoint`` where a failed run continues (per scope: the phase and last name done).
    """

    id: int
    url: str
    account: str
    scopes: Sequence[str]
    mode: SyncMode
    caller: str
    status: SyncStatus
    started_at: datetime
    ended_at: datetime | None
    since: datetime | None
    server_time: datetime | None
    counts: SyncCounts
    problems: Sequence[SyncProblem]
    error: str | None
    checkpoint: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SyncedRSE:
    """An RSE a sync brought: lakecat's row with what Rucio said about it."""

    rse: RSE
    rucio_id: str
    rse_type: str | None
    protocols: Sequence[Mapping[str, Any]]
    attributes: Mapping[str, Any]
    synced_at: datetime
