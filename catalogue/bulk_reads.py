"""Reading parts of many DIDs in one round trip each, for the API's per-request loaders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalogue.authorization import Viewer
from catalogue.coverage import Coverage
from catalogue.harvest import HarvestInfo
from catalogue.models import DID, DIDKey, Extent, MetaValue, Replica
from catalogue.store import batch, harvest


class BulkReads:
    """One method per part of a DID; each takes many ids and opens its own session."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def dids_by_key(self, keys: Sequence[DIDKey], viewer: Viewer) -> dict[DIDKey, DID]:
        """DIDs ``viewer`` may see, by ``scope:name``."""
        async with self._sessions() as session:
            return await batch.dids_by_key(session, keys, viewer)

    async def dids_by_id(self, ids: Sequence[int], viewer: Viewer) -> dict[int, DID]:
        """DIDs ``viewer`` may see, by id."""
        async with self._sessions() as session:
            return await batch.dids_by_id(session, ids, viewer)

    async def replicas(self, ids: Sequence[int]) -> dict[int, list[Replica]]:
        """Replicas of each DID."""
        async with self._sessions() as session:
            return await batch.replicas_of(session, ids)

    async def parents(self, ids: Sequence[int], viewer: Viewer) -> dict[int, list[DID]]:
        """Direct parents of each DID that ``viewer`` may see."""
        async with self._sessions() as session:
            return await batch.parents_of(session, ids, viewer)

    async def harvest(self, ids: Sequence[int]) -> dict[int, HarvestInfo]:
        """Where each harvested DID came from (lake DIDs are absent)."""
        async with self._sessions() as session:
            return await harvest.harvest_info(session, ids)

    async def metadata(self, ids: Sequence[int]) -> dict[int, dict[str, MetaValue]]:
        """Metadata of each DID."""
        async with self._sessions() as session:
            return await batch.metadata_of(session, ids)

    async def characterisations(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """ObsCore characterisation of each DID."""
        async with self._sessions() as session:
            return await batch.characterisation_of(session, ids)

    async def extents(self, ids: Sequence[int]) -> dict[int, tuple[Extent, Coverage | None] | None]:
        """Extent and MOC of each DID."""
        async with self._sessions() as session:
            return await batch.extents_of(session, ids)
