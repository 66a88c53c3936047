"""The DID graph through Catalogue: collections, attachments, extents, metadata, RSEs."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from catalogue.coverage import Coverage, union_all
from catalogue.errors import AttachmentError, ConflictError, InvalidInputError, NotFoundError
from catalogue.models import RSE, DIDKey, DIDType
from catalogue.region import parse_stcs
from tests.support.records import file_record, manifest, names, register, square

DS = DIDKey("lake", "ds")
C1, C2, C3 = DIDKey("lake", "c1"), DIDKey("lake", "c2"), DIDKey("lake", "c3")


def key(name: str) -> DIDKey:
    return DIDKey("lake", name)


def extent_record(name, ra, dec, t, em, size=1000):
    """A file with a sky square, a time range (MJD) and a wavelength range (m)."""
    return file_record(
        name,
        size=size,
        obscore={
            "s_region": square(ra, dec),
            "t_min": t[0],
            "t_max": t[1],
            "em_min": em[0],
            "em_max": em[1],
        },
    )


def coverage_of(*regions: str) -> Coverage:
    """The union of the order-10 MOCs of STC-S regions, as the catalogue computes them."""
    return union_all(Coverage.from_region(parse_stcs(r), 10) for r in regions)


async def files(catalogue, *file_names, size=1000):
    await register(catalogue, [file_record(n, size=size) for n in file_names])
    return [key(n) for n in file_names]


# --- collections -----------------------------------------------------------------------------


async def test_add_collection_creates_an_open_empty_dataset(catalogue):
    did = await catalogue.add_collection(DS, DIDType.DATASET)
    assert (did.key, did.type, did.is_open, did.length, did.bytes) == (
        DS,
        DIDType.DATASET,
        True,
        0,
        0,
    )


async def test_add_collection_creates_an_open_empty_container(catalogue):
    did = await catalogue.add_collection(C1, DIDType.CONTAINER)
    assert (did.key, did.type, did.is_open, did.length, did.bytes) == (
        C1,
        DIDType.CONTAINER,
        True,
        0,
        None,
    )


async def test_add_collection_twice_with_the_same_type_returns_the_same_did(catalogue):
    first = await catalogue.add_collection(DS, DIDType.DATASET)
    second = await catalogue.add_collection(DS, DIDType.DATASET)
    assert second.id == first.id
    assert await catalogue.list_scopes() == ["lake"]


async def test_add_collection_with_another_type_is_a_conflict(catalogue):
    await catalogue.add_collection(DS, DIDType.DATASET)
    with pytest.raises(ConflictError, match=r"lake:ds is already registered as a DATASET"):
        await catalogue.add_collection(DS, DIDType.CONTAINER)


async def test_add_collection_over_a_file_name_is_a_conflict(catalogue):
    (f1,) = await files(catalogue, "f1")
    with pytest.raises(ConflictError, match=r"lake:f1 is already registered as a FILE"):
        await catalogue.add_collection(f1, DIDType.DATASET)


async def test_a_file_cannot_be_created_as_an_empty_collection(catalogue):
    with pytest.raises(InvalidInputError, match=r"files are registered with their checksums"):
        await catalogue.add_collection(key("f1"), DIDType.FILE)
    assert await catalogue.get_did(key("f1")) is None


async def test_closing_a_dataset_twice_leaves_it_closed(catalogue):
    await catalogue.add_collection(DS, DIDType.DATASET)
    await catalogue.close(DS)
    await catalogue.close(DS)
    assert (await catalogue.get_did(DS)).did.is_open is False


async def test_a_file_cannot_be_closed(catalogue):
    (f1,) = await files(catalogue, "f1")
    with pytest.raises(AttachmentError, match=r"lake:f1 is a FILE; only collections close"):
        await catalogue.close(f1)


# --- attaching -------------------------------------------------------------------------------


async def test_files_attach_to_a_dataset(catalogue):
    f1, f2 = await files(catalogue, "f1", "f2")
    await catalogue.add_collection(DS, DIDType.DATASET)
    assert await catalogue.attach(DS, [f1, f2]) == 2
    assert names(await catalogue.list_children(DS)) == ["lake:f1", "lake:f2"]


async def test_attaching_an_attached_file_again_adds_nothing(catalogue):
    f1, f2 = await files(catalogue, "f1", "f2")
    await catalogue.add_collection(DS, DIDType.DATASET)
    await catalogue.attach(DS, [f1])
    assert await catalogue.attach(DS, [f1, f2, f2]) == 1
    detail = await catalogue.get_did(DS)
    assert (detail.did.length, detail.did.bytes) == (2, 2000)


async def test_datasets_and_containers_attach_to_a_container(catalogue):
    await catalogue.add_collection(C1, DIDType.CONTAINER)
    await catalogue.add_collection(C2, DIDType.CONTAINER)
    await catalogue.add_collection(DS, DIDType.DATASET)
    assert await catalogue.attach(C1, [DS, C2]) == 2
    assert names(await catalogue.list_children(C1)) == ["lake:c2", "lake:ds"]
    assert (await catalogue.get_did(C1)).did.length == 2


async def test_a_dataset_rejects_a_dataset(catalogue):
    await catalogue.add_collection(DS, DIDType.DATASET)
    await catalogue.add_collection(key("ds2"), DIDType.DATASET)
    with pytest.raises(AttachmentError, match=r"a DATASET holds FILE DIDs; lake:ds2 is a DATASET"):
        await catalogue.attach(DS, [key("ds2")])
    assert await catalogue.list_children(DS) == []


async def test_a_container_rejects_a_file(catalogue):
    (f1,) = await files(catalogue, "f1")
    await catalogue.add_collection(C1, DIDType.CONTAINER)
    with pytest.raises(AttachmentError, match=r"lake:f1 is a FILE"):
        await catalogue.attach(C1, [f1])
    assert await catalogue.list_children(C1) == []


async def test_a_file_takes_no_content(catalogue):
    f1, f2 = await files(catalogue, "f1", "f2")
    with pytest.raises(AttachmentError, match=r"lake:f1 is a FILE; it has no content"):
        await catalogue.attach(f1, [f2])


async def test_attaching_an_ancestor_into_its_descendant_is_a_cycle(catalogue):
    for c in (C1, C2, C3):
        await catalogue.add_collection(c, DIDType.CONTAINER)
    await catalogue.attach(C1, [C2])
    await catalogue.attach(C2, [C3])
    with pytest.raises(AttachmentError, match=r"attaching lake:c1 would make a cycle"):
        await catalogue.attach(C3, [C1])
    assert await catalogue.list_children(C3) == []


async def test_attaching_a_container_to_itself_is_a_cycle(catalogue):
    await catalogue.add_collection(C1, DIDType.CONTAINER)
    with pytest.raises(AttachmentError, match=r"attaching lake:c1 would make a cycle"):
        await catalogue.attach(C1, [C1])


async def test_a_closed_dataset_rejects_new_files(catalogue):
    f1, f2 = await files(catalogue, "f1", "f2")
    await catalogue.add_collection(DS, DIDType.DATASET)
    await catalogue.attach(DS, [f1])
    await catalogue.close(DS)
    with pytest.raises(AttachmentError, match=r"lake:ds is closed; it takes no new content"):
        await catalogue.attach(DS, [f2])
    detail = await catalogue.get_did(DS)
    assert (detail.did.is_open, detail.did.length) == (False, 1)


async def test_attaching_a_missing_did_is_not_found(catalogue):
    await catalogue.add_collection(DS, DIDType.DATASET)
    with pytest.raises(NotFoundError, match=r"DID lake:nope does not exist"):
        await catalogue.attach(DS, [key("nope")])


# --- walking the graph -----------------------------------------------------------------------


@pytest.fixture
async def tree(catalogue):
    """c1 ⊃ {c2, ds1}; c2 ⊃ {ds2}; ds1 ⊃ {f1, f2}; ds2 ⊃ {f2, f3}."""
    await files(catalogue, "f1", "f2", "f3")
    for c in (C1, C2):
        await catalogue.add_collection(c, DIDType.CONTAINER)
    for d in ("ds1", "ds2"):
        await catalogue.add_collection(key(d), DIDType.DATASET)
    await catalogue.attach(key("ds1"), [key("f1"), key("f2")])
    await catalogue.attach(key("ds2"), [key("f2"), key("f3")])
    await catalogue.attach(C2, [key("ds2")])
    await catalogue.attach(C1, [C2, key("ds1")])
    return catalogue


async def test_list_children_gives_the_direct_content(tree):
    assert names(await tree.list_children(C1)) == ["lake:c2", "lake:ds1"]


async def test_list_children_recursive_gives_everything_below_once(tree):
    assert names(await tree.list_children(C1, recursive=True)) == [
        "lake:c2",
        "lake:ds1",
        "lake:ds2",
        "lake:f1",
        "lake:f2",
        "lake:f3",
    ]


async def test_list_parents_gives_the_direct_collections(tree):
    assert names(await tree.list_parents(key("f2"))) == ["lake:ds1", "lake:ds2"]


async def test_list_parents_recursive_gives_every_collection_above_once(tree):
    assert names(await tree.list_parents(key("f3"), recursive=True)) == [
        "lake:c1",
        "lake:c2",
        "lake:ds2",
    ]


async def test_list_children_of_a_missing_did_is_not_found(catalogue):
    with pytest.raises(NotFoundError, match=r"DID lake:nope does not exist"):
        await catalogue.list_children(key("nope"))


# --- length and bytes ------------------------------------------------------------------------


async def test_dataset_length_and_bytes_follow_attach(catalogue):
    await register(catalogue, [file_record("f1", size=1000), file_record("f2", size=2500)])
    await catalogue.add_collection(DS, DIDType.DATASET)
    await catalogue.attach(DS, [key("f1"), key("f2")])
    did = (await catalogue.get_did(DS)).did
    assert (did.length, did.bytes) == (2, 3500)


async def test_dataset_length_and_bytes_follow_detach(catalogue):
    await register(catalogue, [file_record("f1", size=1000), file_record("f2", size=2500)])
    await catalogue.add_collection(DS, DIDType.DATASET)
    await catalogue.attach(DS, [key("f1"), key("f2")])
    assert await catalogue.detach(DS, [key("f1")]) == 1
    did = (await catalogue.get_did(DS)).did
    assert (did.length, did.bytes) == (1, 2500)
    assert names(await catalogue.list_children(DS)) == ["lake:f2"]


async def test_detaching_a_non_member_changes_neither_length_nor_bytes(catalogue):
    await register(
        catalogue,
        [file_record("f1", size=1000), file_record("f2", size=2500), file_record("f3", size=7)],
    )
    await catalogue.add_collection(DS, DIDType.DATASET)
    await catalogue.attach(DS, [key("f1"), key("f2")])
    assert await catalogue.detach(DS, [key("f1"), key("f3"), key("f1")]) == 1
    did = (await catalogue.get_did(DS)).did
    assert (did.length, did.bytes) == (1, 2500)


# --- extents ---------------------------------------------------------------------------------

F1 = extent_record("f1", 10, 20, (60000.0, 60001.0), (4e-7, 5e-7))
F2 = extent_record("f2", 12, 21, (60010.0, 60012.5), (6e-7, 9e-7))
F3 = extent_record("f3", 200, -30, (59000.0, 59000.5), (1e-6, 2e-6))


def extent_tuple(extent):
    return (extent.t_min, extent.t_max, extent.em_min, extent.em_max, extent.sky_fraction)


@pytest.fixture
async def grouped(catalogue):
    """ds1 ⊃ {f1, f2}, ds2 ⊃ {f3}, c1 ⊃ {ds1, ds2}."""
    await register(catalogue, [F1, F2, F3])
    for d in ("ds1", "ds2"):
        await catalogue.add_collection(key(d), DIDType.DATASET)
    await catalogue.add_collection(C1, DIDType.CONTAINER)
    await catalogue.attach(key("ds1"), [key("f1"), key("f2")])
    await catalogue.attach(key("ds2"), [key("f3")])
    await catalogue.attach(C1, [key("ds1"), key("ds2")])
    return catalogue


def region(record):
    return record["obscore"]["s_region"]


async def test_a_file_extent_is_its_own_ranges_and_moc(catalogue):
    await register(catalogue, [F1])
    extent = (await catalogue.get_did(key("f1"))).extent
    assert extent_tuple(extent) == (
        60000.0,
        60001.0,
        4e-7,
        5e-7,
        coverage_of(region(F1)).sky_fraction,
    )
    assert extent.moc_order == 10


async def test_dataset_extent_is_the_union_of_its_files(grouped):
    extent = (await grouped.get_did(key("ds1"))).extent
    assert extent_tuple(extent) == (
        60000.0,
        60012.5,
        4e-7,
        9e-7,
        coverage_of(region(F1), region(F2)).sky_fraction,
    )


async def test_container_extent_is_the_union_of_its_datasets(grouped):
    extent = (await grouped.get_did(C1)).extent
    assert extent_tuple(extent) == (
        59000.0,
        60012.5,
        4e-7,
        2e-6,
        coverage_of(region(F1), region(F2), region(F3)).sky_fraction,
    )


async def test_files_attached_to_a_contained_dataset_grow_the_container(grouped):
    f4 = extent_record("f4", 300, 60, (61000.0, 61001.0), (1e-8, 2e-8))
    await register(grouped, [f4])
    await grouped.attach(key("ds2"), [key("f4")])
    extent = (await grouped.get_did(C1)).extent
    expected = coverage_of(region(F1), region(F2), region(F3), region(f4)).sky_fraction
    assert extent_tuple(extent) == (59000.0, 61001.0, 1e-8, 2e-6, expected)


async def test_detaching_a_file_recomputes_the_dataset_and_the_container(grouped):
    await grouped.detach(key("ds1"), [key("f2")])
    assert extent_tuple((await grouped.get_did(key("ds1"))).extent) == (
        60000.0,
        60001.0,
        4e-7,
        5e-7,
        coverage_of(region(F1)).sky_fraction,
    )
    assert extent_tuple((await grouped.get_did(C1)).extent) == (
        59000.0,
        60001.0,
        4e-7,
        2e-6,
        coverage_of(region(F1), region(F3)).sky_fraction,
    )


async def test_detaching_a_dataset_recomputes_the_container(grouped):
    await grouped.detach(C1, [key("ds2")])
    assert extent_tuple((await grouped.get_did(C1)).extent) == extent_tuple(
        (await grouped.get_did(key("ds1"))).extent
    )


async def test_detaching_every_file_leaves_an_empty_extent(grouped):
    await grouped.detach(key("ds2"), [key("f3")])
    assert extent_tuple((await grouped.get_did(key("ds2"))).extent) == (None,) * 5


# --- metadata --------------------------------------------------------------------------------


async def test_set_metadata_reads_back_with_exact_types(catalogue):
    observed = datetime(2024, 5, 1, 3, 4, 5, 123456, tzinfo=UTC)
    values = {
        "run": 7,
        "seeing": 0.85,
        "round": 3.0,
        "good": True,
        "bad": False,
        "observed": observed,
        "label": "deep field",
        "bands": ["g", 2, 2.5, True, observed],
        "none_yet": [],
    }
    await catalogue.add_collection(DS, DIDType.DATASET)
    await catalogue.set_metadata(DS, values)
    metadata = (await catalogue.get_did(DS)).metadata
    assert metadata == values
    assert {k: type(v) for k, v in metadata.items()} == {k: type(v) for k, v in values.items()}
    assert [type(v) for v in metadata["bands"]] == [str, int, float, bool, datetime]
    assert metadata["observed"].tzinfo is not None
    assert metadata["observed"].utcoffset() == timedelta(0)


async def test_set_metadata_reads_a_datetime_back_in_utc(catalogue):
    local = datetime(2024, 5, 1, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    await catalogue.add_collection(DS, DIDType.DATASET)
    await catalogue.set_metadata(DS, {"observed": local})
    stored = (await catalogue.get_did(DS)).metadata["observed"]
    assert stored == datetime(2024, 5, 1, 3, 4, 5, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)


async def test_set_metadata_replaces_given_keys_and_keeps_the_others(catalogue):
    await catalogue.add_collection(DS, DIDType.DATASET, {"run": 1, "band": "g"})
    await catalogue.set_metadata(DS, {"run": 2, "seeing": 1.5})
    assert (await catalogue.get_did(DS)).metadata == {"run": 2, "band": "g", "seeing": 1.5}


async def test_set_metadata_on_a_missing_did_is_not_found(catalogue):
    with pytest.raises(NotFoundError, match=r"DID lake:nope does not exist"):
        await catalogue.set_metadata(key("nope"), {"run": 1})


# --- RSEs ------------------------------------------------------------------------------------


async def test_rses_list_by_name(catalogue):
    await catalogue.add_rse(
        RSE("SITE-B", "https://b.example.org/lake", deterministic=False, read_only=True)
    )
    await catalogue.add_rse(RSE("SITE-A", "root://a.example.org:1094/lake", "SAFE"))
    assert await catalogue.list_rses() == [
        RSE("SITE-A", "root://a.example.org:1094/lake", "SAFE", deterministic=True),
        RSE("SITE-B", "https://b.example.org/lake", None, deterministic=False, read_only=True),
    ]


async def test_adding_an_rse_twice_is_a_conflict(catalogue):
    await catalogue.add_rse(RSE("SITE-A", "root://a.example.org:1094/lake"))
    with pytest.raises(ConflictError, match=r"RSE 'SITE-A' is already registered"):
        await catalogue.add_rse(RSE("SITE-A", "https://elsewhere.example.org/"))
    assert [r.base_url for r in await catalogue.list_rses()] == ["root://a.example.org:1094/lake"]


async def test_a_registered_rse_is_found(catalogue):
    await catalogue.add_rse(RSE("SITE-A", "root://a.example.org:1094/lake"))
    await catalogue.require_rse("SITE-A")


async def test_an_unregistered_rse_is_not_found_with_the_command_that_adds_it(catalogue):
    await catalogue.add_rse(RSE("SITE-A", "root://a.example.org:1094/lake"))
    with pytest.raises(NotFoundError) as caught:
        await catalogue.require_rse("SITE-Z")
    assert str(caught.value) == (
        "RSE 'SITE-Z' is not registered; add it first with `lakecat rse add SITE-Z BASE_URL`"
    )


async def test_a_replica_on_an_unregistered_rse_is_reported_and_not_written(catalogue):
    records = [file_record("f1", replicas=[{"rse": "SITE-Z"}])]
    summary = await catalogue.register_files(manifest(records), all_or_nothing=False)
    assert summary.problems == [
        (
            "line 1",
            "RSE 'SITE-Z' is not registered; add it first with `lakecat rse add SITE-Z BASE_URL`",
        )
    ]
    assert await catalogue.get_did(key("f1")) is None
