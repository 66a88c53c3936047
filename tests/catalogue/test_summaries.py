from catalogue.filters import parse_rucio_filter
from catalogue.models import DIDKey, DIDType
from catalogue.query import DIDQuery, FacetField
from tests.support.records import file_record, manifest


def key(name):
    return DIDKey("lake", name)


async def names(catalogue, text, types=()):
    page = await catalogue.search(DIDQuery(filter=parse_rucio_filter(text), types=types))
    return sorted(str(d.key) for d in page.items)


async def lake(catalogue):
    records = [
        file_record("raw1", obscore={"calib_level": 0, "facility_name": "LOFAR"}, dataset="raw"),
        file_record("cal1", obscore={"calib_level": 2, "facility_name": "LOFAR"}, dataset="cal"),
        file_record("img1", obscore={"calib_level": 3, "facility_name": "MeerKAT"}, dataset="cal"),
    ]
    summary = await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert summary.failed == 0
    await catalogue.add_collection(key("box"), DIDType.CONTAINER)
    await catalogue.attach(key("box"), [key("cal")])


async def test_a_dataset_matches_an_obscore_condition_when_one_of_its_files_does(catalogue):
    await lake(catalogue)
    found = await names(catalogue, "calib_level>=2", (DIDType.DATASET,))
    assert found == ["lake:cal"]


async def test_a_container_matches_through_its_datasets(catalogue):
    await lake(catalogue)
    assert await names(catalogue, "facility_name=MeerKAT", (DIDType.CONTAINER,)) == ["lake:box"]
    assert await names(catalogue, "facility_name=MeerKAT") == ["lake:box", "lake:cal", "lake:img1"]


async def test_not_exists_holds_only_for_collections_without_such_members(catalogue):
    await lake(catalogue)
    await catalogue.add_collection(key("empty"), DIDType.DATASET)
    assert await names(catalogue, "target_name !exists,facility_name !exists") == ["lake:empty"]


async def test_detaching_the_last_matching_file_updates_the_summary_upward(catalogue):
    await lake(catalogue)
    await catalogue.detach(key("cal"), [key("img1")])
    assert await names(catalogue, "facility_name=MeerKAT") == ["lake:img1"]


async def test_facets_count_collections_by_their_members_values(catalogue):
    await lake(catalogue)
    counts = await catalogue.facets(DIDQuery(), [FacetField.FACILITY, FacetField.CALIB_LEVEL])
    assert counts[FacetField.FACILITY] == [("LOFAR", 5), ("MeerKAT", 3)]
    assert dict(counts[FacetField.CALIB_LEVEL]) == {"0": 2, "2": 3, "3": 3}
