"""VOTable output read back by astropy and pyvo: BINARY2 and TABLEDATA alike."""

from __future__ import annotations

import base64
import io
import math
import re
import time
import warnings
from decimal import Decimal

import numpy as np
import pytest
from astropy.io.votable import parse
from pyvo.dal import DALQueryError, TAPResults

from bridges.tap.errors import UsageError
from bridges.tap.formats import (
    BINARY2,
    CSV,
    FORMATS,
    TABLEDATA,
    TSV,
    canonical_format,
    error_document,
    stream_result,
    write_result,
)
from bridges.tap.results import ResultColumn, ResultTable
from tests.bridges.formats.samples import typed_table, xml_root

NS = "{http://www.ivoa.net/xml/VOTable/v1.3}"
SERIALIZATIONS = ["votable", "votable/td"]


def read(content: bytes):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy's VOTable warnings are our bugs
        return parse(io.BytesIO(content), verify="exception")


def test_formats_accept_every_alias_of_each_format():
    assert canonical_format(None) == BINARY2
    assert canonical_format("votable") == BINARY2
    assert canonical_format("application/x-votable+xml") == BINARY2
    assert canonical_format("application/x-votable+xml; serialization=binary2") == BINARY2
    assert canonical_format("text/xml") == TABLEDATA
    assert canonical_format("votable/td") == TABLEDATA
    assert canonical_format("application/x-votable+xml;serialization=TABLEDATA") == TABLEDATA
    assert canonical_format("CSV") == CSV
    assert canonical_format("text/csv;header=present") == CSV
    assert canonical_format("text/tab-separated-values") == TSV
    assert set(FORMATS.values()) == {BINARY2, TABLEDATA, CSV, TSV}


def test_unknown_format_is_a_usage_error_naming_the_accepted_values():
    with pytest.raises(UsageError, match=r"'fits' is not supported.*votable/td.*csv"):
        canonical_format("fits")


def test_write_result_gives_the_mime_type_with_its_serialization():
    table = typed_table()
    assert write_result(table, "votable")[1] == BINARY2
    assert write_result(table, "text/xml")[1] == TABLEDATA
    assert write_result(table, "csv")[1] == "text/csv;header=present"
    assert write_result(table, "tsv")[1] == "text/tab-separated-values"


@pytest.mark.parametrize("fmt", SERIALIZATIONS)
def test_values_and_nulls_of_every_type_survive_astropy(fmt):
    votable = read(write_result(typed_table(), fmt)[0])
    array = votable.get_first_table().array
    assert array["c_short"][0] == 1
    assert array["c_int"][2] == -1
    assert array["c_long"][0] == 2**40
    assert array["c_float"][0] == 1.5
    assert math.isnan(array["c_float"].data[2])
    assert array["c_double"][2] == -0.25
    assert bool(array["c_bool"][0]) is True
    assert bool(array["c_bool"][2]) is False
    assert list(array["c_bytes"][0]) == [0, 255]
    assert array["c_text"][0] == 'a <b> & "c",\nd'
    assert array["c_fixed"][0] == "abcdef01"
    assert array["c_fixed"][2] == "x"
    assert array["c_unicode"][0] == "Ångström 😀"
    assert array["c_time"][0] == "2026-11-22T00:36:20.945144"
    assert array["c_time"][2] == "2026-11-22T00:36:20.945144"
    assert list(array["c_point"][0]) == [83.6, 22.0]
    assert list(array["c_circle"][2]) == [1.0, 2.0, 3.0]
    assert list(array["c_polygon"][2]) == [0, 0, 1, 0, 1, 1, 0, 1]
    assert array["c_expr_int"][2] == -7
    assert array["c_expr_float"][2] == 3.0
    assert array["c_expr_text"][2] == "tab\there"
    assert array["c_expr_time"][0] == "2026-01-02T01:04:05"
    assert array["c_expr_time"][2] == "2026-01-02T00:00:00"
    # astropy masks no text NULLs (astropy#8995): STILTS checks those (test_stilts.py)
    text = {"c_text", "c_fixed", "c_unicode", "c_time", "c_expr_text", "c_expr_time"}
    for name in set(array.dtype.names) - text - {"c_bytes", "c_polygon"}:
        assert np.all(np.ma.getmaskarray(array[name][1])), name


def test_binary2_rows_start_with_a_null_bitmap_of_one_bit_per_column():
    columns = [ResultColumn(f"c{i}", "char", "*") for i in range(9)]
    table = ResultTable(columns, [(None, "", *([None] * 6), "x")])
    stream = xml_root(write_result(table, "votable")[0]).find(f".//{NS}STREAM")
    assert stream is not None
    assert stream.text is not None
    row = base64.b64decode(stream.text)
    assert row[:2] == bytes([0b10111111, 0b00000000])  # c0, c2..c7 NULL; c1 "" and c8 not
    assert row[2:] == bytes(4 * 8) + b"\x00\x00\x00\x01x"


@pytest.mark.parametrize("fmt", SERIALIZATIONS)
def test_fields_carry_the_column_metadata_and_inferred_types(fmt):
    table = read(write_result(typed_table(), fmt)[0]).get_first_table()
    fields = {f.name: f for f in table.fields}
    assert fields["c_long"].description == 'A <long> & its "description"'
    assert (fields["c_double"].unit, fields["c_double"].ucd) == ("deg", "pos.eq.ra")
    assert fields["c_double"].utype == "x:y"
    assert fields["c_unicode"].datatype == "unicodeChar"
    assert fields["c_text"].datatype == "char"
    assert (fields["c_point"].arraysize, fields["c_point"].xtype) == ("2", "point")
    assert (fields["c_circle"].datatype, fields["c_circle"].arraysize) == ("double", "3")
    assert fields["c_fixed"].arraysize == "8"
    inferred = {
        name: (fields[name].datatype, fields[name].arraysize, fields[name].xtype)
        for name in ("c_expr_int", "c_expr_float", "c_expr_text", "c_expr_time")
    }
    assert inferred == {
        "c_expr_int": ("long", None, None),
        "c_expr_float": ("double", None, None),
        "c_expr_text": ("char", "*", None),
        "c_expr_time": ("char", "*", "timestamp"),
    }


def test_boolean_and_bytes_are_inferred_and_all_null_columns_are_text():
    columns = [ResultColumn("b", None), ResultColumn("raw", None), ResultColumn("n", None)]
    table = ResultTable(columns, [(True, b"\x01", None), (None, None, None)])
    fields = read(write_result(table, "votable")[0]).get_first_table().fields
    assert [(f.datatype, f.arraysize) for f in fields] == [
        ("boolean", None),
        ("unsignedByte", "*"),
        ("char", "*"),
    ]


@pytest.mark.parametrize("fmt", SERIALIZATIONS)
def test_text_longer_than_a_fixed_arraysize_widens_the_column(fmt):
    table = ResultTable([ResultColumn("md5", "char", "8")], [("0123456789",), ("a",)])
    votable = read(write_result(table, fmt)[0]).get_first_table()
    assert votable.fields[0].arraysize == "*"
    assert votable.array["md5"][0] == "0123456789"


@pytest.mark.parametrize("fmt", SERIALIZATIONS)
def test_empty_result_is_a_table_without_rows(fmt):
    votable = read(write_result(typed_table(rows=False), fmt)[0])
    table = votable.get_first_table()
    assert len(table.array) == 0
    assert len(table.fields) == len(typed_table().columns)


@pytest.mark.parametrize("fmt", SERIALIZATIONS)
def test_status_infos_surround_the_table_and_overflow_comes_after_it(fmt):
    table = typed_table()
    table.overflow = True
    table.infos = {"request_date": "2026-11-22T00:00:00"}
    resource = xml_root(write_result(table, fmt)[0]).find(f"{NS}RESOURCE")
    assert resource is not None
    assert resource.get("type") == "results"
    children = [(c.tag.removeprefix(NS), c.get("name"), c.get("value")) for c in resource]
    assert children == [
        ("INFO", "QUERY_STATUS", "OK"),
        ("INFO", "QUERY", "SELECT * FROM t WHERE a < 1"),
        ("INFO", "request_date", "2026-11-22T00:00:00"),
        ("TABLE", "result", None),
        ("INFO", "QUERY_STATUS", "OVERFLOW"),
    ]


def test_no_overflow_info_without_overflow():
    content = write_result(typed_table(), "votable")[0]
    assert b"OVERFLOW" not in content
    assert b'version="1.4"' in content


def test_pyvo_reads_an_overflowing_result_as_a_result():
    table = typed_table()
    table.overflow = True
    results = TAPResults(read(write_result(table, "votable")[0]))
    assert len(results) == 3
    assert results.query_status == "OVERFLOW"


def test_invalid_xml_characters_are_replaced_not_written():
    table = ResultTable([ResultColumn("s", "char", "*")], [("bell\x07",)], query="x\x00")
    for fmt in SERIALIZATIONS:
        votable = read(write_result(table, fmt)[0])
        if fmt == "votable":
            assert votable.get_first_table().array["s"][0] == "bell\x07"
        else:
            assert votable.get_first_table().array["s"][0] == "bell?"


@pytest.mark.parametrize("fmt", SERIALIZATIONS)
def test_many_rows_cross_chunk_and_base64_line_boundaries(fmt):
    n = 10_001
    columns = [
        ResultColumn("i", "long"),
        ResultColumn("s", "char", "*"),
        ResultColumn("d", "double"),
        ResultColumn("v", "double", "*"),
    ]
    rows = [(i, "x" * (i % 7), i / 3 if i % 5 else None, [float(i)] * (i % 4)) for i in range(n)]
    array = read(write_result(ResultTable(columns, rows), fmt)[0]).get_first_table().array
    assert len(array) == n
    assert list(array["i"][-3:]) == [n - 3, n - 2, n - 1]
    assert array["s"][9999] == "x" * (9999 % 7)
    assert array["d"][10000] is np.ma.masked
    assert array["d"][9999] == 9999 / 3
    assert list(array["v"][10000]) == []
    assert list(array["v"][9999]) == [9999.0] * 3


@pytest.mark.parametrize("fmt", [*SERIALIZATIONS, "csv", "tsv"])
def test_integer_columns_write_decimal_and_float_values_as_integers(fmt):
    # PostgreSQL returned Decimal for a long column and TABLEDATA wrote 39895.0
    columns = [ResultColumn("l", "long"), ResultColumn("i", "int"), ResultColumn("s", "short")]
    rows = [
        (Decimal(39895), 7.0, np.float64(3.0)),
        (Decimal(2) ** 40, Decimal(-5), -1.0),
        (None, math.nan, None),
    ]
    content = write_result(ResultTable(columns, rows), fmt)[0]
    if fmt in {"csv", "tsv"}:
        text = content.decode()
        assert ".0" not in text
        lines = [re.split("[,\t]", line) for line in text.splitlines()]
        assert lines[1:] == [["39895", "7", "3"], [str(2**40), "-5", "-1"], ["", "", ""]]
        return
    array = read(content).get_first_table().array
    assert array["l"].dtype.kind == "i"
    assert [array[name][0] for name in "lis"] == [39895, 7, 3]
    assert [array[name][1] for name in "lis"] == [2**40, -5, -1]
    assert all(array[name][2] is np.ma.masked for name in "lis")


@pytest.mark.parametrize("fmt", SERIALIZATIONS)
def test_nulls_nans_and_text_shapes_survive_across_chunks(fmt):
    n = 9_000  # three chunks
    columns = [
        ResultColumn("d", "double"),
        ResultColumn("empty", "char", "*"),  # all NULL
        ResultColumn("same", "char", "*"),  # as long in every row
        ResultColumn("mixed", "char", "*"),  # NULL, "" and text; one very long value
        ResultColumn("other", "char", "*"),  # not str: written as str()
        ResultColumn("u", "char", "*"),  # becomes unicodeChar
        ResultColumn("i", "long"),
    ]
    rows = [
        (
            None if i % 3 == 0 else (math.nan if i % 3 == 1 else i / 7),
            None,
            f"id{i:06d}",
            None if i % 5 == 0 else ("" if i % 5 == 1 else "y" * (i % 11)),
            i if i % 2 else None,
            "Å" * (i % 3),
            None if i % 4 == 0 else i,
        )
        for i in range(n)
    ]
    rows[4567] = (*rows[4567][:3], "z" * 50_000, *rows[4567][4:])
    table = read(write_result(ResultTable(columns, rows), fmt)[0]).get_first_table()
    array = table.array
    assert len(array) == n
    for i in (0, 1, 2, 4095, 4096, 4097, 4567, 8999):
        d, _, same, mixed, other, u, integer = rows[i]
        if d is None or math.isnan(d):  # astropy masks NaN too (the bitmap is checked below)
            assert array["d"][i] is np.ma.masked or math.isnan(array["d"][i])
        else:
            assert array["d"][i] == d
        assert array["same"][i] == same
        assert array["mixed"][i] == (mixed or "") or array["mixed"][i] is np.ma.masked
        assert array["other"][i] == ("" if other is None else str(other)) or other is None
        assert array["u"][i] == u
        assert (array["i"][i] is np.ma.masked) if integer is None else array["i"][i] == integer
    if fmt == "votable":  # BINARY2 keeps NULL apart from "" and NaN
        content = write_result(ResultTable(columns, rows[:2]), fmt)[0]
        stream = content.split(b'<STREAM encoding="base64">\n')[1].split(b"</STREAM>")[0]
        data = base64.b64decode(stream)
        # row 0: d, empty, mixed, other and i NULL; 1 + 8 + 4 + (4 + 8) + 4 + 4 + 4 + 8 bytes
        assert data[0] == 0b11011010
        # row 1: d is NaN, not NULL; only "empty" is NULL ("" is not NULL either)
        assert data[45] == 0b01000000
    fields = {f.name: f for f in table.fields}
    assert fields["u"].datatype == "unicodeChar"
    assert fields["same"].datatype == "char"


def test_binary2_stream_is_base64_in_lines_of_76_characters():
    rows = [(i, f"name-{i}" * (i % 3)) for i in range(5_000)]
    columns = [ResultColumn("i", "long"), ResultColumn("s", "char", "*")]
    content = write_result(ResultTable(columns, rows), "votable")[0]
    stream = content.split(b'<STREAM encoding="base64">\n')[1].split(b"</STREAM>")[0]
    lines = stream.splitlines()
    assert all(len(line) == 76 for line in lines[:-1])
    assert 0 < len(lines[-1]) <= 76
    assert base64.b64decode(stream)  # one valid base64 text


def test_streamed_chunks_join_to_the_written_document():
    table = typed_table()
    for fmt in (BINARY2, TABLEDATA, CSV, TSV):
        assert b"".join(stream_result(table, fmt)) == write_result(table, fmt)[0]


def test_binary2_writes_100k_rows_quickly():
    columns = [
        ResultColumn("obs_publisher_did", "char", "*"),
        ResultColumn("s_ra", "double"),
        ResultColumn("s_dec", "double"),
        ResultColumn("t_min", "double"),
        ResultColumn("calib_level", "short"),
        ResultColumn("obs_collection", "char", "*"),
        ResultColumn("access_estsize", "long"),
        ResultColumn("created", "char", "*", xtype="timestamp"),
    ]
    rows = [
        (
            f"ivo://lake/x?s:{i}",
            i / 1e3,
            -i / 1e4,
            60000 + i,
            i % 4,
            "LOFAR",
            i,
            "2026-01-01 00:00:00",
        )
        for i in range(100_000)
    ]
    start = time.perf_counter()
    content, _ = write_result(ResultTable(columns, rows), "votable")
    elapsed = time.perf_counter() - start
    assert elapsed < 5, f"{elapsed:.2f} s"  # astropy's BINARY2 writer needs about 3 s
    assert len(read(content).get_first_table().array) == 100_000


def test_error_document_is_a_dali_error_that_pyvo_raises():
    content = error_document("no such table: <ivoa.nope>", query="SELECT * FROM ivoa.nope")
    votable = read(content)
    infos = [(i.name, i.value, i.content) for i in votable.resources[0].infos]
    assert infos[0] == ("QUERY_STATUS", "ERROR", "no such table: <ivoa.nope>")
    assert ("QUERY", "SELECT * FROM ivoa.nope", None) in infos
    with pytest.raises(DALQueryError, match=re.escape("no such table: <ivoa.nope>")):
        TAPResults(votable)
