"""Per-request DataLoaders of provenance, bound to the request's caller (what it may see)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from catalogue.models import Caller
from catalogue.provenance import Activity, Agent, Direction, Edge, Entity, StoredParameter
from catalogue.provenance_reads import EntityEdge, ProvenanceReads

K = TypeVar("K")
V = TypeVar("V")


def _loader(
    fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]], missing: V
) -> DataLoader[K, V]:
    async def load(keys: list[K]) -> list[V]:
        found = await fetch(keys)
        return [found.get(key, missing) for key in keys]

    return DataLoader(load_fn=load)


class ProvenanceLoaders:
    """One loader per provenance part of a DID or an activity."""

    def __init__(self, reads: ProvenanceReads, caller: Caller) -> None:
        def bound(method: Callable[..., Awaitable[Any]]) -> Callable[[Sequence[int]], Any]:
            return lambda ids: method(caller, ids)

        def neighbours(direction: Direction) -> Callable[[Sequence[int]], Any]:
            return lambda ids: reads.neighbours(caller, ids, direction)

        self.generated_by: DataLoader[int, tuple[Activity, Edge] | None] = _loader(
            bound(reads.generated_by), None
        )
        self.used_by: DataLoader[int, list[Activity]] = _loader(bound(reads.used_by), [])
        self.derived_from: DataLoader[int, list[Entity]] = _loader(
            neighbours(Direction.UPSTREAM), []
        )
        self.derivatives: DataLoader[int, list[Entity]] = _loader(
            neighbours(Direction.DOWNSTREAM), []
        )
        self.activity: DataLoader[int, Activity | None] = _loader(reads.activities, None)
        self.used: DataLoader[int, list[EntityEdge]] = _loader(bound(reads.usages), [])
        self.generated: DataLoader[int, list[EntityEdge]] = _loader(bound(reads.generations), [])
        self.parameters: DataLoader[int, list[StoredParameter]] = _loader(reads.parameters, [])
        self.agents: DataLoader[int, list[tuple[Agent, str | None]]] = _loader(reads.agents, [])
        self.informants: DataLoader[int, list[Activity]] = _loader(reads.informants, [])
