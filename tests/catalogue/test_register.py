"""Registering files from manifests: JSON Lines and CSV, all or nothing, and what is derived."""

import io
import json
from datetime import UTC, datetime

import pytest

from catalogue.ingest import Candidate, Rejected, read_manifest
from catalogue.models import RSE, DIDKey, DIDType, ReplicaState
from catalogue.query import DIDQuery
from tests.support.records import file_record, manifest, names, register, square

SPEED_OF_LIGHT = 299_792_458.0
NOT_REGISTERED = (
    "RSE 'SITE-Z' is not registered; add it first with `lakecat rse add SITE-Z BASE_URL`"
)


def key(name: str) -> DIDKey:
    return DIDKey("lake", name)


def jsonl(*lines: object) -> list[Candidate | Rejected]:
    """Candidates of a JSON Lines manifest; strings are written as they are, dicts as JSON."""
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    return list(read_manifest(io.StringIO(text), "jsonl", None))


async def all_names(catalogue) -> list[str]:
    return names((await catalogue.search(DIDQuery(limit=1000))).items)


async def register_items(catalogue, items):
    summary = await catalogue.register_files(items, all_or_nothing=True)
    assert summary.problems == []


@pytest.fixture
async def site_a(catalogue):
    await catalogue.add_rse(RSE("SITE-A", "root://a.example.org:1094/lake"))
    return catalogue


# --- registering -----------------------------------------------------------------------------


async def test_a_manifest_registers_each_file_with_its_checksums(catalogue):
    records = [
        file_record("f1.fits", size=2048, adler32="0A1B2C3D", md5="0" * 31 + "F", guid="g-1"),
        file_record("f2.fits", size=10, adler32="ad:1b2c3d"),
    ]
    summary = await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert (summary.registered, summary.unchanged, summary.failed, summary.problems) == (
        2,
        0,
        0,
        [],
    )
    f1 = (await catalogue.get_did(key("f1.fits"))).did
    f2 = (await catalogue.get_did(key("f2.fits"))).did
    assert (f1.type, f1.bytes, f1.adler32, f1.md5, f1.guid) == (
        DIDType.FILE,
        2048,
        "0a1b2c3d",
        "0" * 31 + "f",
        "g-1",
    )
    assert (f2.bytes, f2.adler32, f2.md5, f2.guid) == (10, "001b2c3d", None, None)


async def test_replica_urls_come_from_the_rse_base_url_a_path_or_a_given_url(site_a):
    await site_a.add_rse(RSE("SITE-B", "https://b.example.org/store/"))
    records = [
        file_record(
            "f1.fits",
            replicas=[
                {"rse": "SITE-A"},
                {"rse": "SITE-B", "url": "https://b.example.org/other/f1.fits", "state": "copying"},
            ],
        ),
        file_record("f2.fits", replicas=[{"rse": "SITE-B", "path": "/raw/f2.fits"}]),
    ]
    await register(site_a, records)
    f1 = (await site_a.get_did(key("f1.fits"))).replicas
    f2 = (await site_a.get_did(key("f2.fits"))).replicas
    assert [(r.rse, r.url, r.state) for r in f1] == [
        ("SITE-A", "root://a.example.org:1094/lake/lake/f1.fits", ReplicaState.AVAILABLE),
        ("SITE-B", "https://b.example.org/other/f1.fits", ReplicaState.COPYING),
    ]
    assert [(r.rse, r.url) for r in f2] == [("SITE-B", "https://b.example.org/store/raw/f2.fits")]


async def test_rerunning_a_manifest_changes_nothing(site_a):
    records = [
        file_record(
            f"f{i}",
            obscore={"s_region": square(10 + i, 20)},
            metadata={"run": i},
            replicas=[{"rse": "SITE-A"}],
            dataset="ds",
        )
        for i in range(3)
    ]
    await register(site_a, records)
    before = [await site_a.get_did(key(n)) for n in ("f0", "f1", "f2", "ds")]
    summary = await site_a.register_files(manifest(records), all_or_nothing=True)
    assert (summary.registered, summary.unchanged, summary.failed, summary.skipped) == (0, 3, 0, 0)
    assert [await site_a.get_did(key(n)) for n in ("f0", "f1", "f2", "ds")] == before
    assert await all_names(site_a) == ["lake:ds", "lake:f0", "lake:f1", "lake:f2"]


async def test_a_new_replica_of_a_registered_file_is_added_on_a_rerun(site_a):
    await site_a.add_rse(RSE("SITE-B", "https://b.example.org/store"))
    await register(site_a, [file_record("f1", replicas=[{"rse": "SITE-A"}])])
    summary = await site_a.register_files(
        manifest([file_record("f1", replicas=[{"rse": "SITE-A"}, {"rse": "SITE-B"}])]),
        all_or_nothing=True,
    )
    assert (summary.registered, summary.unchanged) == (0, 1)
    replicas = (await site_a.get_did(key("f1"))).replicas
    assert [r.rse for r in replicas] == ["SITE-A", "SITE-B"]


async def test_a_file_named_twice_in_one_manifest_is_registered_once(catalogue):
    summary = await catalogue.register_files(
        manifest([file_record("f1"), file_record("f2"), file_record("f1")]), all_or_nothing=True
    )
    assert (summary.registered, summary.unchanged, summary.failed) == (2, 1, 0)
    assert await all_names(catalogue) == ["lake:f1", "lake:f2"]


async def test_a_file_named_twice_with_other_checksums_is_a_conflict(catalogue):
    records = [file_record("f1"), file_record("f1", adler32="00000001")]
    summary = await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert summary.problems == [
        (
            "line 2",
            "lake:f1 is named earlier in the batch with different adler32 00ff0098 -> 00000001",
        )
    ]
    assert await all_names(catalogue) == []


# --- conflicts -------------------------------------------------------------------------------


async def test_a_changed_adler32_is_a_conflict_naming_the_did_and_the_field(catalogue):
    await register(catalogue, [file_record("f1")])
    changed = file_record("f1", adler32="0badf00d")
    summary = await catalogue.register_files(
        manifest([file_record("new"), changed]), all_or_nothing=True
    )
    assert summary.problems == [
        ("line 2", "lake:f1 is already registered with different adler32 00ff0098 -> 0badf00d")
    ]
    assert (summary.registered, summary.unchanged, summary.failed, summary.skipped) == (0, 0, 1, 1)


async def test_a_changed_size_is_a_conflict_naming_the_did_and_the_field(catalogue):
    await register(catalogue, [file_record("f1", size=1000)])
    summary = await catalogue.register_files(
        manifest([file_record("f1", size=999)]), all_or_nothing=True
    )
    assert summary.problems == [
        ("line 1", "lake:f1 is already registered with different bytes 1000 -> 999")
    ]


async def test_a_conflict_writes_nothing_of_its_run(catalogue):
    await register(catalogue, [file_record("f1")])
    records = [
        file_record("new", dataset="fresh-ds"),
        file_record("f1", adler32="0badf00d"),
        file_record("later"),
    ]
    await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert await all_names(catalogue) == ["lake:f1"]
    assert await catalogue.get_did(key("new")) is None


async def test_a_conflict_in_a_later_batch_writes_nothing_of_its_run(catalogue):
    await register(catalogue, [file_record("f1")])
    records = [file_record(f"new{i:03}") for i in range(120)]  # batches of 50
    records.append(file_record("f1", adler32="0badf00d"))
    summary = await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert summary.problems == [
        ("line 121", "lake:f1 is already registered with different adler32 00ff0098 -> 0badf00d")
    ]
    assert await all_names(catalogue) == ["lake:f1"]


async def test_a_name_registered_as_a_dataset_is_a_conflict_for_a_file(catalogue):
    await catalogue.add_collection(key("ds"), DIDType.DATASET)
    summary = await catalogue.register_files(manifest([file_record("ds")]), all_or_nothing=True)
    assert summary.problems == [("line 1", "lake:ds is already registered as a DATASET")]


async def test_without_all_or_nothing_a_conflict_is_reported_and_the_others_are_kept(catalogue):
    await register(catalogue, [file_record("f1")])
    records = [file_record("a"), file_record("f1", adler32="0badf00d"), file_record("b")]
    summary = await catalogue.register_files(manifest(records), all_or_nothing=False)
    assert summary.problems == [
        ("line 2", "lake:f1 is already registered with different adler32 00ff0098 -> 0badf00d")
    ]
    assert (summary.registered, summary.unchanged, summary.failed) == (2, 0, 1)
    assert await all_names(catalogue) == ["lake:a", "lake:b", "lake:f1"]
    assert (await catalogue.get_did(key("f1"))).did.adler32 == "00ff0098"


async def test_without_all_or_nothing_a_bad_line_is_skipped_and_the_others_are_kept(catalogue):
    items = jsonl(file_record("a"), "{not json", file_record("b"))
    summary = await catalogue.register_files(items, all_or_nothing=False)
    assert [where for where, _ in summary.problems] == ["line 2"]
    assert await all_names(catalogue) == ["lake:a", "lake:b"]


# --- bad lines -------------------------------------------------------------------------------

BAD_LINES = {
    "invalid JSON": (
        '{"scope": "lake", "name": "x", "bytes": 1',
        "not JSON: Expecting ',' delimiter at column 42",
    ),
    "missing adler32": (
        {"scope": "lake", "name": "x", "bytes": 1},
        "'bytes' and 'adler32' are required",
    ),
    "bad adler32": (
        file_record("x", adler32="xyz"),
        "adler32 'xyz' must be 8 hexadecimal digits",
    ),
    "bad md5": (file_record("x", md5="abc"), "md5 'abc' must be 32 hexadecimal digits"),
    "unknown obscore field": (
        file_record("x", obscore={"colour": "red"}),
        "unknown ObsCore field(s) ['colour']",
    ),
    "dataproduct_type picture": (
        file_record("x", obscore={"dataproduct_type": "picture"}),
        (
            "dataproduct_type 'picture' is not one of ['cube', 'event', 'image', "
            "'measurements', 'sed', 'spectrum', 'timeseries', 'visibility']"
        ),
    ),
    "calib_level 7": (
        file_record("x", obscore={"calib_level": 7}),
        "calib_level 7 is not one of [0, 1, 2, 3, 4]",
    ),
    "pol_states without slashes": (
        file_record("x", obscore={"pol_states": "I Q"}),
        "pol_states 'I Q' must look like '/I/Q/U/V/' (leading and trailing '/')",
    ),
    "s_region with too few coordinates": (
        file_record("x", obscore={"s_region": "Polygon ICRS 1 2 3"}),
        "s_region: region 'Polygon ICRS 1 2 3' is not a Circle, Box or Polygon in STC-S",
    ),
    "replica on an unknown RSE": (
        file_record("x", replicas=[{"rse": "SITE-Z"}]),
        NOT_REGISTERED,
    ),
}


@pytest.mark.parametrize("line", BAD_LINES.values(), ids=BAD_LINES.keys())
async def test_a_bad_line_is_reported_with_its_number_and_nothing_is_written(site_a, line):
    bad, reason = line
    items = jsonl(file_record("before", replicas=[{"rse": "SITE-A"}]), bad, file_record("after"))
    summary = await site_a.register_files(items, all_or_nothing=True)
    assert summary.problems == [("line 2", reason)]
    assert (summary.registered, summary.unchanged, summary.failed) == (0, 0, 1)
    assert await all_names(site_a) == []


async def test_every_bad_line_of_a_manifest_is_reported_with_its_own_number(site_a):
    lines: list[object] = [file_record("good0")]
    expected = []
    for n, (bad, reason) in enumerate(BAD_LINES.values()):
        lines += ["", bad, file_record(f"good{n + 1}")]
        expected.append((f"line {len(lines) - 1}", reason))
    summary = await site_a.register_files(jsonl(*lines), all_or_nothing=True)
    assert sorted(summary.problems, key=lambda p: int(p[0].split()[1])) == expected
    assert summary.failed == len(BAD_LINES)
    assert await all_names(site_a) == []


def test_a_json_line_that_is_not_an_object_is_rejected():
    assert jsonl("[1, 2]") == [Rejected("line 1", "a line must hold one JSON object")]


def test_a_record_without_a_scope_is_rejected_unless_a_default_scope_is_given():
    text = json.dumps({"name": "x", "bytes": 1, "adler32": "00000001"})
    assert list(read_manifest(io.StringIO(text), "jsonl", None)) == [
        Rejected("line 1", "no scope: give 'scope' in the record or --scope")
    ]
    (candidate,) = read_manifest(io.StringIO(text), "jsonl", "lake")
    assert candidate.spec.key == key("x")


# --- CSV -------------------------------------------------------------------------------------

CSV = (
    "scope,name,bytes,adler32,dataproduct_type,calib_level,em_min,em_max,s_region,"
    "obs_release_date,meta.run,meta.band,meta.good,meta.seeing,meta.night,meta.label,"
    "replicas,dataset\n"
    "lake,c1.fits,2048,0a1b2c3d,image,2,500 nm,1.4 GHz,Circle ICRS 10 20 0.5,"
    "2025-01-01T00:00:00Z,7,g,true,0.85,2024-05-01T03:04:05Z,'42',"
    "SITE-A=raw/c1.fits SITE-B=root://b.example.org:1094/x/c1.fits,ds\n"
    "lake,c2.fits,10,00000010,,,,,,,,,,,,,,\n"
)


async def test_a_csv_manifest_registers_obscore_metadata_replicas_and_dataset(site_a):
    await site_a.add_rse(RSE("SITE-B", "root://b.example.org:1094/lake"))
    items = list(read_manifest(io.StringIO(CSV), "csv", None))
    await register_items(site_a, items)
    detail = await site_a.get_did(key("c1.fits"))
    assert (detail.did.bytes, detail.did.adler32) == (2048, "0a1b2c3d")
    assert detail.characterisation == {
        "dataproduct_type": "image",
        "calib_level": 2,
        "em_min": pytest.approx(5e-7, rel=1e-12),
        "em_max": pytest.approx(SPEED_OF_LIGHT / 1.4e9, rel=1e-12),
        "s_region": "Circle ICRS 10 20 0.5",
        "s_ra": 10.0,
        "s_dec": 20.0,
        "s_fov": 1.0,
        "obs_release_date": datetime(2025, 1, 1, tzinfo=UTC),
        "access_estsize": 3,
    }
    assert detail.metadata == {
        "run": 7,
        "band": "g",
        "good": True,
        "seeing": 0.85,
        "night": datetime(2024, 5, 1, 3, 4, 5, tzinfo=UTC),
        "label": "42",
    }
    assert [(r.rse, r.url) for r in detail.replicas] == [
        ("SITE-A", "root://a.example.org:1094/lake/raw/c1.fits"),
        ("SITE-B", "root://b.example.org:1094/x/c1.fits"),
    ]
    assert names(await site_a.list_children(key("ds"))) == ["lake:c1.fits"]
    c2 = await site_a.get_did(key("c2.fits"))
    assert (c2.did.bytes, c2.characterisation, c2.metadata, c2.replicas) == (
        10,
        {"access_estsize": 1},
        {},
        [],
    )


def test_a_bad_csv_row_is_reported_with_its_line_number():
    text = (
        "scope,name,bytes,adler32,calib_level\n"
        "lake,a,1,00000001,1\n"
        "lake,b,1,zz,1\n"
        "lake,c,1,00000003,9\n"
    )
    items = list(read_manifest(io.StringIO(text), "csv", None))
    assert [type(i) for i in items] == [Candidate, Rejected, Rejected]
    assert items[1:] == [
        Rejected("line 3", "adler32 'zz' must be 8 hexadecimal digits"),
        Rejected("line 4", "calib_level 9 is not one of [0, 1, 2, 3, 4]"),
    ]


def test_a_csv_replica_without_an_rse_is_rejected():
    text = "scope,name,bytes,adler32,replicas\nlake,a,1,00000001,raw/a.fits\n"
    assert list(read_manifest(io.StringIO(text), "csv", None)) == [
        Rejected("line 2", "replica 'raw/a.fits' must be RSE=path or RSE=URL")
    ]


# --- what registration derives ---------------------------------------------------------------


async def characterisation_of(catalogue, **obscore):
    await register(catalogue, [file_record("f", obscore=obscore)])
    return dict((await catalogue.get_did(key("f"))).characterisation)


async def test_a_wavelength_with_a_unit_is_stored_in_metres(catalogue):
    char = await characterisation_of(catalogue, em_min="500 nm", em_max={"value": 2, "unit": "um"})
    assert char["em_min"] == pytest.approx(5e-7, rel=1e-12)
    assert char["em_max"] == pytest.approx(2e-6, rel=1e-12)


async def test_a_frequency_is_converted_to_a_wavelength_in_metres(catalogue):
    char = await characterisation_of(catalogue, em_min="1.4 GHz")
    assert char["em_min"] == pytest.approx(SPEED_OF_LIGHT / 1.4e9, rel=1e-12)


async def test_an_exposure_with_a_unit_is_stored_in_seconds(catalogue):
    char = await characterisation_of(catalogue, t_exptime="2 min", s_resolution="0.5 deg")
    assert (char["t_exptime"], char["s_resolution"]) == (pytest.approx(120.0), 1800.0)


async def test_a_time_range_is_the_extent_of_a_file(catalogue):
    await register(catalogue, [file_record("f", obscore={"t_min": 60000.25, "t_max": 60000.5})])
    extent = (await catalogue.get_did(key("f"))).extent
    assert (extent.t_min, extent.t_max, extent.sky_fraction) == (60000.25, 60000.5, None)


@pytest.mark.parametrize(("size", "estsize"), [(0, 0), (1, 1), (1000, 1), (1001, 2), (2048, 3)])
async def test_access_estsize_defaults_to_kilobytes_rounded_up(catalogue, size, estsize):
    await register(catalogue, [file_record("f", size=size)])
    assert (await catalogue.get_did(key("f"))).characterisation["access_estsize"] == estsize


async def test_a_given_access_estsize_is_kept(catalogue):
    await register(catalogue, [file_record("f", size=5000, obscore={"access_estsize": 7})])
    assert (await catalogue.get_did(key("f"))).characterisation["access_estsize"] == 7


async def test_position_and_field_of_view_are_derived_from_a_circle(catalogue):
    char = await characterisation_of(catalogue, s_region="CIRCLE ICRS 370 -45 0.25")
    assert {k: char[k] for k in ("s_ra", "s_dec", "s_fov", "s_region")} == {
        "s_ra": 10.0,
        "s_dec": -45.0,
        "s_fov": 0.5,
        "s_region": "Circle ICRS 370 -45 0.25",
    }


async def test_position_and_field_of_view_are_derived_from_a_polygon(catalogue):
    char = await characterisation_of(catalogue, s_region="Polygon ICRS 359 -1 1 -1 1 1 359 1")
    assert min(char["s_ra"], 360 - char["s_ra"]) == pytest.approx(0.0, abs=1e-9)
    assert char["s_dec"] == pytest.approx(0.0, abs=1e-9)
    # the corners are (1, 1) degree away from the centre: a great-circle distance of ~1.4142
    assert char["s_fov"] == pytest.approx(2 * 1.41413, rel=1e-4)
    assert char["s_region"] == "Polygon ICRS 359 -1 1 -1 1 1 359 1"


async def test_a_given_position_is_kept(catalogue):
    char = await characterisation_of(
        catalogue, s_region="Circle ICRS 10 20 0.5", s_ra=10.1, s_dec=20.1, s_fov=2.0
    )
    assert (char["s_ra"], char["s_dec"], char["s_fov"]) == (10.1, 20.1, 2.0)


async def test_a_file_without_a_region_is_listed_as_without_coverage(catalogue):
    summary = await catalogue.register_files(
        manifest([file_record("f1", obscore={"s_region": square(1, 2)}), file_record("f2")]),
        all_or_nothing=True,
    )
    assert summary.without_coverage == ["lake:f2"]


# --- datasets --------------------------------------------------------------------------------


async def test_each_line_joins_its_dataset_created_on_first_use(catalogue):
    records = [
        file_record("f1", size=10, dataset="ds1"),
        file_record("f2", size=20, dataset="ds1"),
        file_record("f3", size=40, dataset="other:ds2"),
        file_record("f4", size=80),
    ]
    await register(catalogue, records)
    assert names(await catalogue.list_children(key("ds1"))) == ["lake:f1", "lake:f2"]
    assert names(await catalogue.list_children(DIDKey("other", "ds2"))) == ["lake:f3"]
    ds1 = (await catalogue.get_did(key("ds1"))).did
    assert (ds1.type, ds1.is_open, ds1.length, ds1.bytes) == (DIDType.DATASET, True, 2, 30)
    assert names(await catalogue.list_parents(key("f4"))) == []
    assert await catalogue.list_scopes() == ["lake", "other"]


async def test_a_line_joins_an_existing_dataset(catalogue):
    await register(catalogue, [file_record("f1", dataset="ds")])
    await register(catalogue, [file_record("f2", dataset="ds")])
    ds = (await catalogue.get_did(key("ds"))).did
    assert (ds.length, ds.bytes) == (2, 2000)
    assert names(await catalogue.list_children(key("ds"))) == ["lake:f1", "lake:f2"]


async def test_a_manifest_dataset_gets_the_extent_of_its_files(catalogue):
    records = [
        file_record("f1", dataset="ds", obscore={"t_min": 60000.0, "t_max": 60001.0}),
        file_record("f2", dataset="ds", obscore={"t_min": 59000.0, "em_min": "1 um"}),
    ]
    await register(catalogue, records)
    extent = (await catalogue.get_did(key("ds"))).extent
    assert (extent.t_min, extent.t_max, extent.em_min, extent.em_max) == (
        59000.0,
        60001.0,
        pytest.approx(1e-6),
        None,
    )


async def test_a_line_naming_a_closed_dataset_is_reported_and_nothing_is_written(catalogue):
    await catalogue.add_collection(key("ds"), DIDType.DATASET)
    await catalogue.close(key("ds"))
    summary = await catalogue.register_files(
        manifest([file_record("f1"), file_record("f2", dataset="ds")]), all_or_nothing=True
    )
    assert summary.problems == [("line 2", "dataset lake:ds is closed; it takes no new files")]
    assert await all_names(catalogue) == ["lake:ds"]


async def test_a_line_naming_a_container_as_its_dataset_is_reported(catalogue):
    await catalogue.add_collection(key("box"), DIDType.CONTAINER)
    summary = await catalogue.register_files(
        manifest([file_record("f1", dataset="box")]), all_or_nothing=True
    )
    assert summary.problems == [
        ("line 1", "lake:box is a CONTAINER, not a dataset; files attach to datasets")
    ]
    assert await all_names(catalogue) == ["lake:box"]


async def test_in_fits_mode_a_file_for_a_closed_dataset_is_skipped_and_others_kept(catalogue):
    await catalogue.add_collection(key("ds"), DIDType.DATASET)
    await catalogue.close(key("ds"))
    summary = await catalogue.register_files(
        manifest([file_record("f1"), file_record("f2", dataset="ds")]), all_or_nothing=False
    )
    assert (summary.registered, summary.failed) == (1, 1)
    assert await all_names(catalogue) == ["lake:ds", "lake:f1"]


async def test_every_conflict_is_reported_even_after_the_first_problem(catalogue):
    await catalogue.register_files(manifest([file_record("f9")]), all_or_nothing=True)
    records = [file_record("bad", adler32="zz")] + [file_record(f"n{i}") for i in range(60)]
    records.append(file_record("f9", adler32="00000001"))
    summary = await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert [where for where, _ in summary.problems] == ["line 1", "line 62"]
    assert "lake:f9 is already registered with different adler32" in summary.problems[1][1]


# --- metadata --------------------------------------------------------------------------------


async def test_iso_datetime_strings_in_metadata_become_utc_datetimes(catalogue):
    metadata = {
        "zulu": "2024-05-01T03:04:05Z",
        "offset": "2024-05-01T05:04:05+02:00",
        "naive": "2024-05-01T03:04:05.250",
        "minutes": "2024-05-01T03:04",
        "tagged": {"$datetime": "2024-05-01T03:04:05Z"},
        "listed": ["2024-05-01T03:04:05Z", "x"],
        "date_only": "2024-05-01",
        "text": "observed 2024-05-01T03:04:05Z",
    }
    await register(catalogue, [file_record("f", metadata=metadata)])
    stored = (await catalogue.get_did(key("f"))).metadata
    when = datetime(2024, 5, 1, 3, 4, 5, tzinfo=UTC)
    assert stored == {
        "zulu": when,
        "offset": when,
        "naive": datetime(2024, 5, 1, 3, 4, 5, 250000, tzinfo=UTC),
        "minutes": datetime(2024, 5, 1, 3, 4, tzinfo=UTC),
        "tagged": when,
        "listed": [when, "x"],
        "date_only": "2024-05-01",
        "text": "observed 2024-05-01T03:04:05Z",
    }
    assert all(v.tzinfo is UTC for v in (stored["zulu"], stored["offset"], stored["naive"]))


async def test_json_metadata_keeps_its_types(catalogue):
    metadata = {"run": 7, "seeing": 0.5, "good": False, "bands": ["g", "r"], "n": 2.0}
    await register(catalogue, [file_record("f", metadata=metadata)])
    stored = (await catalogue.get_did(key("f"))).metadata
    assert stored == metadata
    assert [type(stored[k]) for k in ("run", "seeing", "good", "n")] == [int, float, bool, float]


def test_a_nan_metadata_value_is_rejected():
    assert jsonl(
        '{"scope": "lake", "name": "x", "bytes": 1, "adler32": "1", "metadata": {"v": NaN}}'
    ) == [Rejected("line 1", "metadata 'v': NaN is not a value")]
