"""Per-request DataLoaders of provenance, bound to the request's viewer (what it may see)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from catalogue.authorization import Viewer
from catalogue.provenance import Activity, Agent, Direction, Edge, Entity, StoredParameter
from catalogue.provenance_reads import EntityEdge, ProvenanceReads
from schema.loaders import batched_loader


class ProvenanceLoaders:
    """One loader per provenance part of a DID or an activity."""

    def __init__(self, reads: ProvenanceReads, viewer: Viewer) -> None:
        def bound(method: Callable[..., Awaitable[Any]]) -> Callable[[Sequence[int]], Any]:
            return lambda ids: method(viewer, ids)

        def neighbours(direction: Direction) -> Callable[[Sequence[int]], Any]:
            return lambda ids: reads.neighbours(viewer, ids, direction)

        self.generated_by: DataLoader[int, tuple[Activity, Edge] | None] = batched_loader(
            bound(reads.generated_by), None
        )
        self.used_by: DataLoader[int, list[Activity]] = batched_loader(bound(reads.used_by), [])
        self.derived_from: DataLoader[int, list[Entity]] = batched_loader(
            neighbours(Direction.UPSTREAM), []
        )
        self.derivatives: DataLoader[int, list[Entity]] = batched_loader(
            neighbours(Direction.DOWNSTREAM), []
        )
        self.activity: DataLoader[int, Activity | None] = batched_loader(
            bound(reads.activities), None
        )
        self.used: DataLoader[int, list[EntityEdge]] = batched_loader(bound(reads.usages), [])
        self.generated: DataLoader[int, list[EntityEdge]] = batched_loader(
            bound(reads.generations), []
        )
        self.parameters: DataLoader[int, list[StoredParameter]] = batched_loader(
            reads.parameters, []
        )
        self.agents: DataLoader[int, list[tuple[Agent, str | None]]] = batched_loader(
            reads.agents, []
        )
        self.informants: DataLoader[int, list[Activity]] = batched_loader(
            bound(reads.informants), []
        )
