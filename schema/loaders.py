"""DataLoaders over the catalogue's bulk reads: many keys in one tick, one read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from strawberry.dataloader import DataLoader

K = TypeVar("K")
V = TypeVar("V")


def batched_loader(
    fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]], missing: V
) -> DataLoader[K, V]:
    """A loader answering each key from one ``fetch`` of all; ``missing`` when it is absent."""

    async def load(keys: list[K]) -> list[V]:
        found = await fetch(keys)
        return [found.get(key, missing) for key in keys]

    return DataLoader(load_fn=load)
