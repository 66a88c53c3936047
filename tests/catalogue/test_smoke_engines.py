from catalogue.models import RSE, DIDKey
from tests.support.records import file_record, manifest, square


async def test_registered_file_reads_back_with_replica_and_coverage(catalogue):
    await catalogue.add_rse(RSE("SITE-A", "root://a.example.org:1094/lake", "SAFE"))
    records = [
        file_record(
            "f1.fits",
            obscore={"s_region": square(10, 20), "dataproduct_type": "image"},
            replicas=[{"rse": "SITE-A"}],
        )
    ]
    summary = await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert (summary.registered, summary.failed) == (1, 0)
    detail = await catalogue.get_did(DIDKey("lake", "f1.fits"))
    assert detail is not None
    assert detail.replicas[0].url == "root://a.example.org:1094/lake/lake/f1.fits"
    assert detail.extent is not None
    assert detail.extent.sky_fraction > 0
