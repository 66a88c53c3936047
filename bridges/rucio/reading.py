"""Rucio's answers as the catalogue's values: RSEs, and DIDs read a chunk at a time.

A chunk of DIDs costs three requests, sent together: ``list_replicas`` for its files (sizes,
checksums, replicas with PFN and state), and ``bulkmeta`` twice — the JSON plugin's keys and
the DID columns (a file's GUID, a collection's open state, the columns users set). Files
without any replica, which ``list_replicas`` leaves out, are read one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from bridges.rucio.client import RucioClient
from bridges.rucio.mapping import ObsCoreMapping, read_metadata
from catalogue.errors import InvalidInputError
from catalogue.models import RSE, DIDKey, DIDType, ReplicaState, check_adler32, check_md5
from catalogue.rucio import RucioDID, RucioReplica, RucioRSE, SyncProblem

#: Rucio's replica states lakecat has no state for, and the state they are held in.
STATES = {
    "AVAILABLE": ReplicaState.AVAILABLE,
    "COPYING": ReplicaState.COPYING,
    "UNAVAILABLE": ReplicaState.UNAVAILABLE,
    "BAD": ReplicaState.BAD,
    "BEING_DELETED": ReplicaState.UNAVAILABLE,
    "TEMPORARY_UNAVAILABLE": ReplicaState.UNAVAILABLE,
}


def base_url(name: str, protocols: Sequence[Mapping[str, Any]]) -> str:
    """An RSE's base URL from its first protocol: ``scheme://host:port/prefix``.

    A ``file`` protocol without a host is on ``localhost``; an RSE without protocols gets
    ``rucio://NAME/`` (its replicas' URLs are the PFNs Rucio gives anyway).
    """
    if not protocols:
        return f"rucio://{name}/"
    first = protocols[0]
    host = first.get("hostname") or "localhost"
    port = first.get("port")
    netloc = f"{host}:{port}" if port else host
    prefix = "/" + str(first.get("prefix") or "").lstrip("/")
    return f"{first.get('scheme', 'file')}://{netloc}{prefix}"


def rse_from_rucio(info: Mapping[str, Any], attributes: Mapping[str, Any]) -> RucioRSE:
    """An RSE from ``GET /rses/{rse}`` and its attributes."""
    protocols = list(info.get("protocols") or [])
    rse = RSE(
        name=str(info["rse"]),
        base_url=base_url(str(info["rse"]), protocols),
        qos_class=info.get("qos_class"),
        deterministic=bool(info.get("deterministic", True)),
        read_only=not bool(info.get("availability_write", True)),
    )
    return RucioRSE(
        rse=rse,
        rucio_id=str(info.get("id", "")),
        rse_type=info.get("rse_type"),
        protocols=protocols,
        attributes=dict(attributes),
    )


async def read_rses(client: RucioClient) -> list[RucioRSE]:
    """Every RSE, with its protocols and attributes."""
    names = sorted(str(r["rse"]) for r in await client.rses())
    found: list[RucioRSE] = []
    for name in names:
        info, attributes = await asyncio.gather(client.rse(name), client.rse_attributes(name))
        found.append(rse_from_rucio(info, attributes))
    return found


def replicas_of(entry: Mapping[str, Any]) -> tuple[RucioReplica, ...]:
    """A ``list_replicas`` entry's replicas: the first PFN on each RSE, and its state."""
    states = entry.get("states") or {}
    found = []
    for rse, pfns in sorted((entry.get("rses") or {}).items()):
        if pfns:
            state = STATES.get(str(states.get(rse, "AVAILABLE")), ReplicaState.UNAVAILABLE)
            found.append(RucioReplica(rse, str(pfns[0]), state))
    return tuple(found)


def _checksums(where: str, entry: Mapping[str, Any]) -> tuple[str | None, str | None]:
    adler32 = entry.get("adler32")
    md5 = entry.get("md5")
    try:
        return (
            check_adler32(str(adler32)) if adler32 else None,
            check_md5(str(md5)) if md5 else None,
        )
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc}") from exc


class DIDReader:
    """Reads DIDs of Rucio into :class:`RucioDID` values, a chunk at a time."""

    def __init__(self, client: RucioClient, mapping: ObsCoreMapping) -> None:
        self._client = client
        self._mapping = mapping

    async def read(self, keys: Sequence[tuple[DIDKey, DIDType]]) -> list[RucioDID | SyncProblem]:
        """The DIDs, or why one cannot be read; a DID Rucio no longer has is left out."""
        refs = [{"scope": k.scope, "name": k.name} for k, _ in keys]
        files = [r for r, (_, t) in zip(refs, keys, strict=True) if t is DIDType.FILE]
        replicas, json_meta, columns = await asyncio.gather(
            self._client.replicas(files) if files else _nothing(),
            self._client.bulk_meta(refs, plugin="JSON"),
            self._client.bulk_meta(refs, plugin="DID_COLUMN"),
        )
        by_key = {_key(e): e for e in replicas}
        json_by = {_key(e): e for e in json_meta}
        columns_by = {_key(e): e for e in columns}
        out: list[RucioDID | SyncProblem] = []
        for key, did_type in keys:
            if key not in columns_by:
                continue  # erased between the listing and now: the removal pass sees it
            entry = by_key.get(key)
            if did_type is DIDType.FILE and entry is None:
                entry = await self._client.did(key.scope, key.name)
            try:
                did, problems = self._did(
                    key, did_type, entry, json_by.get(key, {}), columns_by[key]
                )
            except InvalidInputError as exc:
                out.append(SyncProblem(str(key), str(exc)))
            else:
                out.extend([*problems, did])
        return out

    def _did(
        self,
        key: DIDKey,
        did_type: DIDType,
        entry: Mapping[str, Any] | None,
        json_meta: Mapping[str, Any],
        columns: Mapping[str, Any],
    ) -> tuple[RucioDID, list[SyncProblem]]:
        """The DID, and what of it could not be taken (the DID is synced without it)."""
        where = str(key)
        metadata, problems = read_metadata(where, json_meta, columns)
        if did_type is not DIDType.FILE:
            is_open = bool(columns.get("is_open"))
            return RucioDID(key, did_type, is_open=is_open, metadata=metadata), problems
        assert entry is not None  # noqa: S101 - read() fetched it
        adler32, md5 = _checksums(where, entry)
        characterisation, mapped = self._mapping.characterise(where, metadata)
        did = RucioDID(
            key,
            did_type,
            bytes=int(entry["bytes"]) if entry.get("bytes") is not None else None,
            adler32=adler32,
            md5=md5,
            guid=str(columns["guid"]).lower() if columns.get("guid") else None,
            metadata=metadata,
            characterisation=characterisation,
            replicas=replicas_of(entry),
        )
        return did, problems + mapped


async def _nothing() -> list[dict[str, Any]]:
    return []


def _key(entry: Mapping[str, Any]) -> DIDKey:
    return DIDKey(str(entry["scope"]), str(entry["name"]))


def did_type(text: str) -> DIDType:
    """Rucio's DID type as lakecat's (``FILE``, ``DATASET``, ``CONTAINER``)."""
    return DIDType(text.upper())
