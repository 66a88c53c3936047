"""VOSI, DataLink, examples and CSV/TSV documents, read back by pyvo and the csv module."""

from __future__ import annotations

import csv
import io
import warnings
from datetime import UTC, datetime

from astropy.io.votable import parse
from pyvo.dal.adhoc import DatalinkResults
from pyvo.dal.tap import TAPService
from pyvo.io.vosi import parse_availability, parse_capabilities, parse_tables

from bridges.tap import vosi
from bridges.tap.datalink import LINKS_STANDARD_ID, did_key, links_document, replica_links
from bridges.tap.examples import examples_document
from bridges.tap.formats import FORMATS, write_result
from bridges.tap.tables import ALL_TABLES, OBSCORE
from catalogue.models import DID, DIDDetail, DIDKey, DIDType, Replica, ReplicaState
from tests.bridges.formats.samples import typed_table, xml_root

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def strict(parser, content: bytes):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return parser(io.BytesIO(content))


def capabilities() -> bytes:
    return vosi.capabilities(
        "https://lake.example.org/tap",
        datalink_url="https://lake.example.org/datalink/links",
        sync_limit=60,
        async_limit=3600,
        max_rec=1_000_000,
        default_rec=10_000,
        upload_limit_bytes=16_000_000,
    )


def test_pyvo_reads_the_tap_capability_with_limits_formats_and_features():
    caps = {c.standardid: c for c in strict(parse_capabilities, capabilities())}
    tap = caps["ivo://ivoa.net/std/TAP"]
    assert tap.interfaces[0].accessurls[0].content == "https://lake.example.org/tap"
    assert tap.outputlimit.default.content == 10_000
    assert tap.outputlimit.hard.content == 1_000_000
    assert tap.uploadlimit.hard.unit == "byte"
    assert tap.executionduration.hard == 3600
    assert {m.ivo_id for m in tap.uploadmethods} == {
        "ivo://ivoa.net/std/TAPRegExt#upload-inline",
        "ivo://ivoa.net/std/TAPRegExt#upload-http",
    }
    aliases = {a for f in tap.outputformats for a in [f.mime, *f.aliases]}
    assert {a.lower() for a in aliases} == set(FORMATS)
    adql = tap.get_adql()
    assert [v.ivo_id for v in adql.versions] == [
        "ivo://ivoa.net/std/ADQL#v2.0",
        "ivo://ivoa.net/std/ADQL#v2.1",
    ]
    assert adql.get_feature("ivo://ivoa.net/std/TAPRegExt#features-adqlgeo", "COORDSYS")
    assert adql.get_feature("ivo://ivoa.net/std/TAPRegExt#features-adql-common-table", "WITH")
    assert adql.get_feature(
        "ivo://ivoa.net/std/TAPRegExt#features-udf", "MOC(moc VARCHAR) -> REGION"
    )
    assert adql.get_feature("ivo://ivoa.net/std/TAPRegExt#features-adql-unit", "IN_UNIT") is None


def test_capabilities_name_the_vosi_examples_and_datalink_endpoints():
    caps = {c.standardid: c for c in strict(parse_capabilities, capabilities())}
    urls = {sid: c.interfaces[0].accessurls[0].content for sid, c in caps.items()}
    base = "https://lake.example.org/tap"
    assert urls == {
        "ivo://ivoa.net/std/TAP": base,
        "ivo://ivoa.net/std/VOSI#capabilities": f"{base}/capabilities",
        "ivo://ivoa.net/std/VOSI#availability": f"{base}/availability",
        "ivo://ivoa.net/std/VOSI#tables-1.1": f"{base}/tables",
        "ivo://ivoa.net/std/DALI#examples": f"{base}/examples",
        "ivo://ivoa.net/std/DataLink#links-1.1": "https://lake.example.org/datalink/links",
    }


def test_availability_reads_back():
    availability = strict(parse_availability, vosi.availability(NOW, "serving"))
    assert availability.available is True
    assert availability.upsince == "2026-11-22T00:00:00Z"
    assert availability.notes == ["serving"]


def test_tableset_lists_every_table_with_typed_columns_and_keys():
    tableset = strict(parse_tables, vosi.tableset(ALL_TABLES))
    tables = {t.name: t for t in tableset.iter_tables()}
    assert set(tables) == {t.qualified_name for t in ALL_TABLES}
    s_region = next(c for c in tables["ivoa.obscore"].columns if c.name == "s_region")
    assert s_region.datatype.content == "char"
    assert s_region.datatype.arraysize == "*"
    assert "indexed" in s_region.flags
    raw = xml_root(vosi.tableset(ALL_TABLES))
    data_type = raw.find(".//column[name='s_region']/dataType")
    assert data_type is not None
    assert data_type.get("extendedType") == "adql:REGION"  # pyvo 1.9 does not read it
    assert "indexed" in s_region.flags
    assert tables["ivoa.obscore"].utype == "ivo://ivoa.net/std/ObsCore#core-1.1"
    keys = tables["lake.replicas"].foreignkeys
    assert {k.targettable for k in keys} == {"lake.files", "lake.rses"}
    assert [s.findtext("name") for s in raw.findall("schema")] == [
        "ivoa",
        "lake",
        "provenance",
        "TAP_SCHEMA",
    ]


def test_min_detail_tableset_has_no_columns():
    tableset = strict(parse_tables, vosi.tableset(ALL_TABLES, detail=False))
    assert all(not t.columns for t in tableset.iter_tables())


def test_table_detail_is_one_table_element():
    root = xml_root(vosi.table_detail(OBSCORE))
    assert root.tag == "{http://www.ivoa.net/xml/VOSITables/v1.0}table"
    assert root.findtext("name") == "ivoa.obscore"
    assert len(root.findall("column")) == len(OBSCORE.columns)


class FakeSession:
    def __init__(self, content: bytes) -> None:
        self.content = content
        self.status_code = 200

    def get(self, url, **kwargs):
        del url, kwargs
        return self

    def raise_for_status(self):
        return None


def test_pyvo_reads_the_examples():
    service = TAPService("https://lake.example.org/tap", session=FakeSession(examples_document()))
    queries = [q["QUERY"] for q in service.examples]
    assert any("CIRCLE('ICRS', 83.63, 22.01, 0.5)" in q for q in queries)
    assert any("INTERSECTS(s_region, " in q.replace("\n", " ") for q in queries)
    assert any("TAP_UPLOAD.mysources" in q for q in queries)
    assert any("MOC('2/16-20')" in q for q in queries)
    assert any("GROUP BY obs_collection" in q for q in queries)
    assert any("JOIN lake.replicas" in q for q in queries)


def test_examples_carry_dali_rdfa_attributes():
    root = xml_root(examples_document())
    examples = root.findall(".//*[@typeof='example']")
    assert len(examples) >= 6
    assert len({e.get("id") for e in examples}) == len(examples)
    for example in examples:
        assert example.find(".//*[@property='name']") is not None
        assert example.find(".//*[@property='query']") is not None
        assert example.findall(".//*[@property='table']")


def detail(replicas, *, did_type=DIDType.FILE, characterisation=None) -> DIDDetail:
    did = DID(1, DIDKey("lake", "a.fits"), did_type, NOW, NOW, 2880, "0a1b2c3d", None)
    return DIDDetail(did, characterisation or {}, {}, replicas, None)


def links(rows) -> DatalinkResults:
    return DatalinkResults(strict(parse, links_document(rows)))


def test_each_available_replica_is_a_this_link_named_by_its_rse():
    replicas = [
        Replica("RSE_B", "https://b.example.org/a.fits", ReplicaState.AVAILABLE, NOW),
        Replica("RSE_A", "https://a.example.org/a.fits", ReplicaState.AVAILABLE, NOW),
        Replica("RSE_C", "https://c.example.org/a.fits", ReplicaState.BAD, NOW),
    ]
    characterisation = {"access_format": "application/fits", "dataproduct_type": "image"}
    rows = replica_links("lake:a.fits", detail(replicas, characterisation=characterisation))
    results = links(rows)
    this = list(results.bysemantics("#this", include_narrower=False))
    assert [r["local_semantics"] for r in this] == ["RSE_A", "RSE_B"]
    assert [r["access_url"] for r in this] == [
        "https://a.example.org/a.fits",
        "https://b.example.org/a.fits",
    ]
    first = this[0]
    assert first["ID"] == "lake:a.fits"
    assert first["content_type"] == "application/fits"
    assert first["content_length"] == 2880
    assert first["content_qualifier"] == "#image"
    assert "adler32 0a1b2c3d" in first["description"]


def test_links_document_declares_the_datalink_standard():
    votable = strict(parse, links_document(replica_links("x:y", None)))
    infos = {i.name: i.value for i in votable.resources[0].infos}
    assert infos["standardID"] == LINKS_STANDARD_ID
    names = [f.name for f in votable.get_first_table().fields]
    assert names[:8] == [
        "ID",
        "access_url",
        "service_def",
        "error_message",
        "semantics",
        "description",
        "content_type",
        "content_length",
    ]


def test_unknown_id_is_one_not_found_row():
    results = links(replica_links("lake:nope", None))
    assert len(results) == 1
    assert results[0]["error_message"].startswith("NotFoundFault: lake:nope")
    assert results[0]["semantics"] == "#this"


def test_collections_and_files_without_replicas_are_not_found():
    dataset = replica_links("lake:ds", detail([], did_type=DIDType.DATASET))
    assert dataset[0].error_message is not None
    assert "is a dataset" in dataset[0].error_message
    assert replica_links("lake:a.fits", detail([]))[0].error_message is not None


def test_replicas_being_copied_are_transient_faults_and_type_defaults():
    replicas = [Replica("RSE_A", "https://a/x", ReplicaState.COPYING, NOW)]
    assert replica_links("lake:a.fits", detail(replicas))[0].error_message == (
        "TransientFault: the replica on RSE_A is copying"
    )
    available = [Replica("RSE_A", "https://a/x", ReplicaState.AVAILABLE, NOW)]
    assert replica_links("lake:a.fits", detail(available))[0].content_type == (
        "application/octet-stream"
    )


def test_did_key_reads_scope_name_and_publisher_dids():
    assert did_key("lake:a.fits") == DIDKey("lake", "a.fits")
    assert did_key("ivo://lakecat.invalid/lake?lake:a.fits") == DIDKey("lake", "a.fits")
    assert did_key("no-colon") is None


def test_csv_is_rfc4180_with_a_header():
    content, mime = write_result(typed_table(), "csv")
    assert mime == "text/csv;header=present"
    assert content.count(b"\r\n") >= 4
    rows = list(csv.reader(io.StringIO(content.decode(), newline="")))
    header, first, null, last = rows
    assert header[:3] == ["c_short", "c_int", "c_long"]
    assert first[header.index("c_text")] == 'a <b> & "c",\nd'
    assert first[header.index("c_bool")] == "true"
    assert first[header.index("c_point")] == "83.6 22.0"
    assert set(null) == {""}
    assert last[header.index("c_float")] == "NaN"


def test_tsv_escapes_tabs_and_newlines():
    content, mime = write_result(typed_table(), "tsv")
    assert mime == "text/tab-separated-values"
    lines = content.decode().split("\n")
    assert len(lines) == 5  # header, three rows, and the final newline
    header = lines[0].split("\t")
    first, last = lines[1].split("\t"), lines[3].split("\t")
    assert len(first) == len(header) == len(last)
    assert first[header.index("c_text")] == 'a <b> & "c",\\nd'
    assert last[header.index("c_expr_text")] == "tab\\there"
