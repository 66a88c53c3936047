"""Sample results and a STILTS runner for the output-format tests."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from xml.etree import ElementTree as ET

from bridges.tap.results import ResultColumn, ResultTable


def xml_root(content: bytes) -> ET.Element:
    """Our own output parsed (trusted: the S314 warning is about hostile documents)."""
    return ET.fromstring(content)


def run_stilts(stilts: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [stilts, *map(str, args)], capture_output=True, text=True, check=False, timeout=120
    )


def typed_table(*, rows: bool = True) -> ResultTable:
    """Every datatype the writer supports, each with a NULL in the second row."""
    columns = [
        ResultColumn("c_short", "short", ucd="meta.code"),
        ResultColumn("c_int", "int"),
        ResultColumn("c_long", "long", description='A <long> & its "description"'),
        ResultColumn("c_float", "float", unit="deg"),
        ResultColumn("c_double", "double", unit="deg", ucd="pos.eq.ra", utype="x:y"),
        ResultColumn("c_bool", "boolean"),
        ResultColumn("c_bytes", "unsignedByte", "*"),
        ResultColumn("c_text", "char", "*"),
        ResultColumn("c_fixed", "char", "8"),
        ResultColumn("c_unicode", "char", "*"),
        ResultColumn("c_time", "char", "*", xtype="timestamp"),
        ResultColumn("c_point", "double", xtype="point"),
        ResultColumn("c_circle", None, xtype="circle"),
        ResultColumn("c_polygon", "double", "*", xtype="polygon"),
        ResultColumn("c_expr_int", None),
        ResultColumn("c_expr_float", None),
        ResultColumn("c_expr_text", None),
        ResultColumn("c_expr_time", None),
    ]
    data = [
        (
            1,
            100000,
            2**40,
            1.5,
            83.633,
            True,
            b"\x00\xff",
            'a <b> & "c",\nd',
            "abcdef01",
            "Ångström 😀",
            datetime(2026, 11, 22, 0, 36, 20, 945144),  # noqa: DTZ001 - naive is UTC
            (83.6, 22.0),
            (83.6, 22.0, 0.5),
            (10.0, 10.0, 11.0, 10.0, 11.0, 11.0),
            7,
            2.5,
            "x",
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        ),
        (None,) * len(columns),
        (
            -3,
            -1,
            -(2**40),
            float("nan"),
            -0.25,
            False,
            b"",
            "",
            "x",
            "ü",
            "2026-11-22 00:36:20.945144",
            (1, 2),
            (1, 2, 3),
            (0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0),
            -7,
            3,
            "tab\there",
            datetime(2026, 1, 2, tzinfo=UTC),
        ),
    ]
    return ResultTable(columns, data if rows else [], query="SELECT * FROM t WHERE a < 1")
