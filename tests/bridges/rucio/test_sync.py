"""Following a real Rucio server: a first sync copies it field by field, later ones follow it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bridges.rucio.client import RucioClient, UserpassAuth
from bridges.rucio.reading import base_url
from bridges.rucio.sync import SyncOptions, run_sync
from catalogue.ingest import Candidate, parse_meta_value
from catalogue.models import DIDKey, DIDType, FileSpec, check_adler32
from catalogue.query import DIDQuery, RegionFilter
from catalogue.region import Circle
from catalogue.rucio import SyncMode, SyncRun, SyncStatus
from catalogue.service import Catalogue
from tests.bridges.rucio.conftest import HTTPS, LOCAL, RucioServer
from tests.bridges.rucio.scenario import populate, snapshot

USER_COLUMNS = ("project", "datatype", "run_number", "stream_name", "prod_step", "version")


async def sync(
    catalogue: Catalogue, rucio: RucioServer, scopes: list[str], **options: Any
) -> SyncRun:
    async with rucio.client() as client:
        run = await run_sync(
            catalogue, client, SyncOptions(scopes=scopes, margin=timedelta(0), **options)
        )
    assert run.status is SyncStatus.SUCCEEDED, run.error
    return run


def expected_metadata(entry: dict[str, Any]) -> dict[str, Any]:
    """What lakecat should hold: the JSON keys (objects flattened), the user-set columns."""
    found: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                put(f"{key}.{k}", v)
        else:
            found[key] = parse_meta_value(value)

    for key, value in entry["json"].items():
        put(key, value)
    for key in USER_COLUMNS:
        if entry["columns"].get(key) is not None:
            found[key] = entry["columns"][key]
    return found


async def assert_same(catalogue: Catalogue, rucio: RucioServer, scopes: list[str]) -> None:
    """Every DID, attachment, replica, checksum and metadata key of the scopes, and the RSEs."""
    state = snapshot(rucio, scopes)
    for rse in await catalogue.rucio_rses():
        info, attributes = state["__rses__"][rse.rse.name]
        assert rse.rucio_id == info["id"]
        assert rse.rse.deterministic == info["deterministic"]
        assert rse.rse.base_url == base_url(rse.rse.name, info["protocols"])
        assert list(rse.protocols) == info["protocols"]
        assert dict(rse.attributes) == attributes
    assert {r.rse.name for r in await catalogue.rucio_rses()} == set(state["__rses__"])
    names = [k for k in state if k != "__rses__"]
    stored = await catalogue.search(DIDQuery(scopes=tuple(scopes), limit=1000))
    assert sorted(str(d.key) for d in stored.items) == sorted(names)
    for name in names:
        entry = state[name]
        detail = await catalogue.get_did(DIDKey.parse(name))
        assert detail is not None, name
        did = entry["did"]
        assert detail.did.type is DIDType(did["type"]), name
        assert dict(detail.metadata) == expected_metadata(entry), name
        if detail.did.type is DIDType.FILE:
            assert detail.did.bytes == did["bytes"]
            assert detail.did.adler32 == check_adler32(did["adler32"])
            assert detail.did.md5 == did["md5"]
            (replicas,) = entry["replicas"]
            assert {r.rse: (r.url, r.state.value) for r in detail.replicas} == {
                rse: (pfns[0], replicas["states"][rse]) for rse, pfns in replicas["rses"].items()
            }, name
        else:
            assert detail.did.is_open == did["open"], name
            children = await catalogue.list_children(DIDKey.parse(name))
            assert sorted(str(c.key) for c in children) == sorted(
                f"{c['scope']}:{c['name']}" for c in entry["content"]
            ), name
            assert detail.did.length == len(entry["content"])


async def test_first_sync_copies_rucio_field_by_field(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str]
) -> None:
    populate(rucio, *scopes)
    run = await sync(catalogue, rucio, list(scopes))
    assert run.mode is SyncMode.FULL
    assert (run.counts.added, run.counts.conflicts, run.counts.failed) == (9, 0, 0), run.problems
    await assert_same(catalogue, rucio, list(scopes))
    rses = {r.rse.name: r for r in await catalogue.rucio_rses()}
    assert rses[LOCAL].attributes["qos"] == "SAFE"
    assert rses[HTTPS].rse.base_url == "https://store.example.org:443/lake/"
    assert not rses[HTTPS].rse.deterministic


async def test_mapped_metadata_becomes_searchable_obscore(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str]
) -> None:
    populate(rucio, *scopes)
    await sync(catalogue, rucio, list(scopes))
    detail = await catalogue.get_did(DIDKey(scopes[0], "f1.fits"))
    assert detail is not None
    char = detail.characterisation
    assert (char["obs_collection"], char["s_ra"], char["s_dec"], char["t_min"]) == (
        "LOTSS",
        10.5,
        -3.25,
        59000.5,
    )
    assert (char["dataproduct_type"], char["calib_level"]) == ("image", 2)
    region = RegionFilter.from_shape(Circle(10.5, -3.25, 0.05), catalogue.moc_order)
    found = await catalogue.search(DIDQuery(scopes=(scopes[0],), region=region))
    assert {str(d.key) for d in found.items} >= {f"{scopes[0]}:f1.fits"}
    elsewhere = RegionFilter.from_shape(Circle(200.0, 40.0, 0.5), catalogue.moc_order)
    assert not (await catalogue.search(DIDQuery(scopes=(scopes[0],), region=elsewhere))).items


async def test_a_second_sync_is_incremental_and_changes_nothing(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str]
) -> None:
    populate(rucio, *scopes)
    await sync(catalogue, rucio, list(scopes))
    await asyncio.sleep(1.1)  # Rucio's times have a second's precision
    again = await sync(catalogue, rucio, list(scopes))
    assert again.mode is SyncMode.INCREMENTAL
    assert (again.counts.added, again.counts.updated, again.counts.deleted) == (0, 0, 0)
    await assert_same(catalogue, rucio, list(scopes))


async def test_incremental_sync_follows_new_files_replicas_metadata_and_detach(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str]
) -> None:
    scope, user = scopes
    populate(rucio, scope, user)
    await asyncio.sleep(1.1)
    await sync(catalogue, rucio, list(scopes))
    rucio.calls(
        (
            "add_replicas",
            [LOCAL, [{"scope": scope, "name": "f7.fits", "bytes": 7, "adler32": "0000abcd"}]],
            {},
        ),
        ("attach_dids", [scope, "ds_a", [{"scope": scope, "name": "f7.fits"}]], {}),
        (
            "add_replicas",
            [
                HTTPS,
                [
                    {
                        "scope": scope,
                        "name": "f3.fits",
                        "bytes": 1003,
                        "adler32": "0003beef",
                        "pfn": f"https://store.example.org:443/lake/{scope}/f3.fits",
                    }
                ],
            ],
            {},
        ),
        ("set_metadata_bulk", [scope, "f1.fits", {"s_ra": 11.0, "tags": ["deep"]}], {}),
        ("delete_metadata", [scope, "f2.fits", "seeing"], {}),
        ("add_dataset", [scope, "ds_new"], {}),
        ("attach_dids", [scope, "ds_new", [{"scope": scope, "name": "lone.fits"}]], {}),
        ("attach_dids", [scope, "c1", [{"scope": scope, "name": "ds_new"}]], {}),
    )
    run = await sync(catalogue, rucio, list(scopes))
    assert run.mode is SyncMode.INCREMENTAL
    assert run.counts.added == 2  # f7.fits, ds_new
    await assert_same(catalogue, rucio, list(scopes))
    detail = await catalogue.get_did(DIDKey(scope, "f1.fits"))
    assert detail is not None
    assert detail.characterisation["s_ra"] == 11.0
    # A detachment leaves no trace an incremental run can find: --full (or hermes) sees it.
    rucio.calls(("detach_dids", [scope, "ds_a", [{"scope": scope, "name": "f2.fits"}]], {}))
    full = await sync(catalogue, rucio, list(scopes), full=True)
    assert (full.mode, full.counts.detached) == (SyncMode.FULL, 1)
    await assert_same(catalogue, rucio, list(scopes))


async def test_erased_dataset_is_deleted_by_the_next_sync(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str]
) -> None:
    scope, user = scopes
    populate(rucio, scope, user)
    await sync(catalogue, rucio, list(scopes))
    rucio.calls(
        ("detach_dids", [scope, "c1", [{"scope": scope, "name": "ds_b"}]], {}),
        ("set_metadata", [scope, "ds_b", "lifetime", -1], {}),
    )
    rucio.daemon("rucio-undertaker")
    run = await sync(catalogue, rucio, list(scopes))
    assert run.counts.deleted == 1
    assert await catalogue.get_did(DIDKey(scope, "ds_b")) is None
    await assert_same(catalogue, rucio, list(scopes))


async def test_conflicts_are_reported_and_left_as_they_are(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str]
) -> None:
    scope, user = scopes
    populate(rucio, scope, user)
    await catalogue.add_collection(DIDKey(scope, "only_here"), DIDType.DATASET)
    await catalogue.add_collection(DIDKey(scope, "f3.fits"), DIDType.DATASET)  # a file in Rucio
    run = await sync(catalogue, rucio, list(scopes))
    conflicts = {p.where: p.reason for p in run.problems if p.conflict}
    assert conflicts == {
        f"{scope}:f3.fits": "a DATASET in lakecat, a FILE in Rucio",
        f"{scope}:only_here": "only in lakecat, in a scope that follows Rucio; left as is",
    }
    assert run.counts.conflicts == 2
    kept = await catalogue.get_did(DIDKey(scope, "f3.fits"))
    assert kept is not None
    assert kept.did.type is DIDType.DATASET
    assert await catalogue.get_did(DIDKey(scope, "only_here")) is not None


async def test_a_checksum_lakecat_holds_otherwise_is_a_conflict(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str]
) -> None:
    scope, user = scopes
    populate(rucio, scope, user)
    spec = FileSpec(DIDKey(scope, "f2.fits"), bytes=1002, adler32="12345678")
    summary = await catalogue.register_files([Candidate("x", spec)], all_or_nothing=True)
    assert summary.registered == 1
    run = await sync(catalogue, rucio, list(scopes))
    (problem,) = [p for p in run.problems if p.conflict]
    assert problem.where == f"{scope}:f2.fits"
    assert problem.reason == "adler32 12345678 in lakecat, 0002beef in Rucio"
    kept = await catalogue.get_did(DIDKey(scope, "f2.fits"))
    assert kept is not None
    assert kept.did.adler32 == "12345678"


async def test_bad_credentials_fail_the_run_with_rucios_reason(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str]
) -> None:
    async with RucioClient(rucio.url, UserpassAuth("root", "ddmlab", "wrong")) as client:
        run = await run_sync(catalogue, client, SyncOptions(scopes=list(scopes)))
    assert run.status is SyncStatus.FAILED
    assert run.error is not None
    assert run.error.startswith(f"GET {rucio.url}/auth/userpass: HTTP 401 UNAUTHORIZED")
    assert "CannotAuthenticate" in run.error


async def test_an_unknown_scope_fails_the_run(
    catalogue: Catalogue, rucio: RucioServer, scopes: tuple[str, str]
) -> None:
    async with rucio.client() as client:
        run = await run_sync(catalogue, client, SyncOptions(scopes=[scopes[0]]))
    assert run.status is SyncStatus.FAILED
    assert run.error == f"{rucio.url}: no scope {scopes[0]} in Rucio"
