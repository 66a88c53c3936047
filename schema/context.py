"""Per-request context: the caller, the catalogue, and DataLoaders so nested fields batch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from catalogue.authorization import PUBLIC, Viewer
from catalogue.coverage import Coverage
from catalogue.harvest import HarvestInfo
from catalogue.models import ANONYMOUS, DID, Caller, DIDKey, Extent, MetaValue, Page, Replica
from catalogue.query import DIDQuery
from catalogue.search import SearchBackend
from catalogue.service import Catalogue
from schema.loaders import batched_loader
from schema.provenance_loaders import ProvenanceLoaders


@dataclass
class Loaders:
    """One loader per part of a DID; each batches the keys asked for in one tick."""

    catalogue: Catalogue
    viewer: Viewer = PUBLIC
    did_by_key: DataLoader[DIDKey, DID | None] = field(init=False)
    replicas: DataLoader[int, list[Replica]] = field(init=False)
    parents: DataLoader[int, list[DID]] = field(init=False)
    metadata: DataLoader[int, dict[str, MetaValue]] = field(init=False)
    characterisation: DataLoader[int, dict[str, Any]] = field(init=False)
    extent: DataLoader[int, tuple[Extent, Coverage | None] | None] = field(init=False)
    members: DataLoader[DIDQuery, Page[DID]] = field(init=False)
    harvest: DataLoader[int, HarvestInfo | None] = field(init=False)
    provenance: ProvenanceLoaders = field(init=False)

    def __post_init__(self) -> None:
        reads, viewer = self.catalogue.reads, self.viewer
        self.did_by_key = batched_loader(lambda keys: reads.dids_by_key(keys, viewer), None)
        self.replicas = batched_loader(reads.replicas, [])
        self.parents = batched_loader(lambda ids: reads.parents(ids, viewer), [])
        self.metadata = batched_loader(reads.metadata, {})
        self.characterisation = batched_loader(reads.characterisations, {})
        self.extent = batched_loader(reads.extents, None)
        self.harvest = batched_loader(reads.harvest, None)
        self.members = DataLoader(load_fn=self._member_pages)
        self.provenance = ProvenanceLoaders(self.catalogue.provenance, viewer)

    async def _member_pages(self, queries: list[DIDQuery]) -> list[Page[DID] | BaseException]:
        """Pages of several collections (one search each), answered together.

        Resolved at once, the listed members' own parts (replicas, metadata, ...) are then
        asked for in the same tick and load in one batch per part, not one per collection.
        """
        pages = await asyncio.gather(
            *(self.catalogue.search(q) for q in queries), return_exceptions=True
        )
        return list(pages)


@dataclass
class Context:
    """What every resolver can reach."""

    catalogue: Catalogue
    caller: Caller = ANONYMOUS
    search: SearchBackend | None = None
    response: Any = None  # the HTTP response being built: status and headers (AuthStatus)
    #: What the caller's reads may see (embargoes): resolved once per request.
    viewer: Viewer = field(init=False)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.viewer = self.catalogue.policy.viewer(self.caller)
        self.loaders = Loaders(self.catalogue, self.viewer)

    def forget_reads(self) -> None:
        """Drop what the loaders cached: after a write, later fields must read it afresh."""
        self.loaders = Loaders(self.catalogue, self.viewer)
