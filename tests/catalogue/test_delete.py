import pytest

from catalogue.errors import AttachmentError, ConflictError, NotFoundError
from catalogue.models import DIDKey, DIDType
from catalogue.query import DIDQuery
from tests.support.records import file_record, manifest, square


def key(name):
    return DIDKey("lake", name)


async def test_a_deleted_file_leaves_searches_and_its_dataset_extent(catalogue):
    records = [
        file_record("a", obscore={"s_region": square(10, 10)}, dataset="ds"),
        file_record("b", obscore={"s_region": square(50, 10)}, dataset="ds"),
    ]
    await catalogue.register_files(manifest(records), all_or_nothing=True)
    before = (await catalogue.get_did(key("ds"))).extent.sky_fraction
    await catalogue.delete(key("b"))
    page = await catalogue.search(DIDQuery())
    assert sorted(str(d.key) for d in page.items) == ["lake:a", "lake:ds"]
    detail = await catalogue.get_did(key("ds"))
    assert detail.did.length == 1
    assert detail.extent.sky_fraction == pytest.approx(before / 2, rel=0.2)
    assert await catalogue.get_did(key("b")) is None


async def test_a_deleted_name_is_never_registered_again(catalogue):
    await catalogue.register_files(manifest([file_record("a")]), all_or_nothing=True)
    await catalogue.delete(key("a"))
    summary = await catalogue.register_files(manifest([file_record("a")]), all_or_nothing=True)
    assert summary.problems == [("line 1", "lake:a was deleted; a DID name is never reused")]
    with pytest.raises(ConflictError, match="never reused"):
        await catalogue.add_collection(key("a"), DIDType.DATASET)


async def test_a_collection_with_content_is_not_deleted(catalogue):
    await catalogue.register_files(manifest([file_record("a", dataset="ds")]), all_or_nothing=True)
    with pytest.raises(AttachmentError, match="still holds 1 DIDs"):
        await catalogue.delete(key("ds"))
    await catalogue.detach(key("ds"), [key("a")])
    await catalogue.delete(key("ds"))
    with pytest.raises(NotFoundError):
        await catalogue.delete(key("ds"))
