"""Every write leaves outbox rows and rewritten search documents in its own transaction."""

import pytest
from sqlalchemy import delete, select

from catalogue.models import RSE, DIDKey, DIDType, ReplicaSpec, ReplicaState
from catalogue.search import SearchFacet
from catalogue.store import search_docs
from catalogue.store import tables as t
from catalogue.store.engine import create_sessions, migrate
from tests.support.migrations import downgrade
from tests.support.records import file_record, manifest, register


def key(name: str) -> DIDKey:
    return DIDKey("lake", name)


async def outbox(engine) -> list[str]:
    """``scope:name`` of the DIDs the outbox names, oldest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(t.did.c.scope, t.did.c.name)
            .join(t.search_outbox, t.search_outbox.c.did_id == t.did.c.id)
            .order_by(t.search_outbox.c.seq)
        )
        return [f"{r.scope}:{r.name}" for r in rows]


async def clear_outbox(engine) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(t.search_outbox))


async def document(engine, name: str) -> str | None:
    async with engine.connect() as connection:
        return await connection.scalar(
            select(t.search_document.c.text)
            .join(t.did, t.did.c.id == t.search_document.c.did_id)
            .where(t.did.c.scope == "lake", t.did.c.name == name)
        )


async def all_documents(engine) -> dict[int, str]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(t.search_document))
        return {r.did_id: r.text for r in rows}


@pytest.fixture
async def lake(catalogue):
    """top ⊃ box ⊃ ds ⊃ {f1, f2}; loose.fits in no dataset; an RSE SITE-A."""
    await catalogue.add_rse(RSE("SITE-A", "root://a.example.org/lake"))
    await catalogue.add_rse(RSE("SITE-B", "root://b.example.org/lake"))
    await catalogue.add_collection(key("top"), DIDType.CONTAINER)
    await catalogue.add_collection(key("box"), DIDType.CONTAINER)
    await catalogue.attach(key("top"), [key("box")])
    await catalogue.add_collection(key("ds"), DIDType.DATASET)
    await catalogue.attach(key("box"), [key("ds")])
    records = [
        file_record(
            "f1.fits",
            dataset="ds",
            obscore={"target_name": "Crab Nebula", "em_min": 5e-7, "em_max": 6e-7},
            replicas=[{"rse": "SITE-A"}],
        ),
        file_record("f2.fits", dataset="ds", metadata={"description": "Second light"}),
        file_record("loose.fits"),
    ]
    await register(catalogue, records)
    return catalogue


async def test_registration_marks_the_files_their_dataset_and_its_ancestors(catalogue, engine):
    await catalogue.add_collection(key("box"), DIDType.CONTAINER)
    await catalogue.add_collection(key("ds"), DIDType.DATASET)
    await catalogue.attach(key("box"), [key("ds")])
    await clear_outbox(engine)
    await register(
        catalogue,
        [
            file_record("f1.fits", dataset="ds", obscore={"target_name": "Crab Nebula"}),
            file_record("loose.fits"),
        ],
    )
    assert sorted(await outbox(engine)) == [
        "lake:box",
        "lake:ds",
        "lake:f1.fits",
        "lake:loose.fits",
    ]
    assert await document(engine, "f1.fits") == "f1 fits lake crab nebula box ds"
    assert await document(engine, "ds") == "ds lake crab nebula box"


async def test_a_failed_all_or_nothing_registration_leaves_no_outbox_rows(catalogue, engine):
    records = [
        file_record("good.fits", dataset="ds"),
        file_record("bad.fits", replicas=[{"rse": "NOWHERE"}]),
    ]
    summary = await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert summary.failed == 1
    assert await outbox(engine) == []
    assert await all_documents(engine) == {}


async def test_a_new_collection_is_marked_with_its_metadata_in_its_text(catalogue, engine):
    await catalogue.add_collection(key("ds"), DIDType.DATASET, {"description": "First light"})
    await catalogue.add_collection(key("ds"), DIDType.DATASET)  # exists: nothing changes
    assert await outbox(engine) == ["lake:ds"]
    assert await document(engine, "ds") == "ds lake first light"


async def test_attaching_marks_the_members_everything_below_and_everything_above(lake, engine):
    await lake.add_collection(key("shelf"), DIDType.CONTAINER)
    await lake.add_collection(key("top2"), DIDType.CONTAINER)
    await lake.attach(key("top2"), [key("shelf")])
    await clear_outbox(engine)
    await lake.attach(key("shelf"), [key("box")])
    marked = {"box", "ds", "f1.fits", "f2.fits", "shelf", "top2"}
    assert sorted(await outbox(engine)) == sorted(f"lake:{n}" for n in marked)
    assert await document(engine, "f2.fits") == ("f2 fits lake second light box ds shelf top top2")


async def test_attaching_nothing_new_marks_nothing(lake, engine):
    await clear_outbox(engine)
    assert await lake.attach(key("box"), [key("ds")]) == 0
    assert await outbox(engine) == []


async def test_detaching_marks_the_same_and_drops_the_parent_from_the_text(lake, engine):
    await clear_outbox(engine)
    await lake.detach(key("box"), [key("ds")])
    marked = {"box", "ds", "f1.fits", "f2.fits", "top"}
    assert sorted(await outbox(engine)) == sorted(f"lake:{n}" for n in marked)
    assert await document(engine, "f1.fits") == "f1 fits lake crab nebula ds"
    assert await document(engine, "box") == "box lake top"


async def test_closing_marks_the_collection(lake, engine):
    await clear_outbox(engine)
    await lake.close(key("ds"))
    assert await outbox(engine) == ["lake:ds"]


async def test_deleting_removes_the_document_and_still_writes_an_outbox_row(lake, engine):
    await clear_outbox(engine)
    await lake.delete(key("f1.fits"))
    assert sorted(await outbox(engine)) == ["lake:box", "lake:ds", "lake:f1.fits", "lake:top"]
    assert await document(engine, "f1.fits") is None
    assert await document(engine, "ds") == "ds lake box top"  # Crab went with f1


async def test_setting_metadata_marks_the_did_and_rewrites_its_text(lake, engine):
    await clear_outbox(engine)
    await lake.set_metadata(key("loose.fits"), {"description": "Flat field", "n": 3})
    assert await outbox(engine) == ["lake:loose.fits"]
    assert await document(engine, "loose.fits") == "loose fits lake flat field"


async def test_replica_changes_mark_the_file(lake, engine):
    await clear_outbox(engine)
    await lake.add_replicas(key("f1.fits"), [ReplicaSpec("SITE-B")])
    await lake.add_replicas(key("f1.fits"), [ReplicaSpec("SITE-B")])  # unchanged
    await lake.set_replica_state(key("f1.fits"), "SITE-B", ReplicaState.BAD)
    assert await outbox(engine) == ["lake:f1.fits", "lake:f1.fits"]


async def test_the_worker_reads_the_outbox_oldest_first_and_forgets_what_it_indexed(lake, engine):
    sessions = create_sessions(engine)
    async with sessions() as session:
        waiting, oldest = await search_docs.outbox_lag(session)
        batch = await search_docs.outbox_batch(session, 3)
    assert waiting == len(await outbox(engine))
    assert oldest is not None
    assert oldest.tzinfo is not None
    assert [seq for seq, _ in batch] == sorted(seq for seq, _ in batch)
    async with sessions.begin() as session:
        await search_docs.outbox_done(session, [seq for seq, _ in batch])
    async with sessions() as session:
        assert (await search_docs.outbox_lag(session))[0] == waiting - 3
        assert (await search_docs.outbox_batch(session, 1))[0][0] > batch[-1][0]


async def test_documents_carry_facets_parents_and_tombstones(lake, engine):
    await lake.delete(key("f2.fits"))
    sessions = create_sessions(engine)
    async with sessions() as session:
        ids = [seq_id for _, seq_id in await search_docs.outbox_batch(session, 1000)]
        documents = {d.name: d for d in await search_docs.build_documents(session, ids)}
    f1, ds, f2 = documents["f1.fits"], documents["ds"], documents["f2.fits"]
    assert f1.text == "f1 fits lake crab nebula box ds top"
    assert f1.parents == ["lake:box", "lake:ds", "lake:top"]
    assert f1.rses == ["SITE-A"]
    assert (f1.bytes, f1.em_min, f1.em_max, f1.deleted) == (1000, 5e-7, 6e-7, False)
    assert f1.facets[SearchFacet.BAND] == ["optical"]
    assert f1.facets[SearchFacet.RSE] == ["SITE-A"]
    assert f1.facets[SearchFacet.SOURCE] == ["lake"]
    assert f1.facets[SearchFacet.TYPE] == ["FILE"]
    assert f1.characterisation["target_name"] == "Crab Nebula"
    assert ds.bytes is None  # collections sort last by size
    assert ds.facets[SearchFacet.BAND] == ["optical"]
    assert ds.parents == ["lake:box", "lake:top"]
    assert f2.deleted
    assert f2.text == ""


async def test_the_migration_backfills_documents_and_outbox_rows(lake, engine):
    await lake.delete(key("loose.fits"))
    before = await all_documents(engine)
    await downgrade(engine, "0002")
    try:
        await migrate(engine)
    finally:
        await migrate(engine)  # never leave the shared database behind
    assert await all_documents(engine) == before
    async with engine.connect() as connection:
        live_or_not = set((await connection.scalars(select(t.did.c.id))).all())
    assert set(before) == live_or_not - {await _id_of(engine, "loose.fits")}
    assert sorted(set(await outbox(engine))) == sorted(
        f"lake:{n}" for n in ("top", "box", "ds", "f1.fits", "f2.fits", "loose.fits")
    )


async def _id_of(engine, name):
    async with engine.connect() as connection:
        return await connection.scalar(select(t.did.c.id).where(t.did.c.name == name))
