"""TAP_UPLOAD: VOTables sent with a query become temporary tables it can join.

An upload arrives inline (``param:NAME``, a part of the same multipart POST) or by an
``http(s)`` URL the service fetches. Its VOTable is read with astropy, its rows go into a
temporary table of the query's own connection, and it is published to that one query as
``TAP_UPLOAD.<name>`` with the FIELD metadata it came with. Temporary tables die with the
connection's session (PostgreSQL) or are dropped after the query (both engines).
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from astropy.io.votable import parse_single_table
from astropy.io.votable.exceptions import VOWarning
from sqlalchemy import BigInteger, Column, Float, MetaData, Select, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from bridges.tap.errors import UsageError
from bridges.tap.params import MAX_UPLOAD_BYTES
from bridges.tap.tables import RelationContext, TapColumn, TapTable

#: Most rows an upload may have; advertised in the capabilities.
MAX_UPLOAD_ROWS = 200_000
_FETCH_TIMEOUT = 20.0
_SAFE = re.compile(r"[^a-z0-9_]")


def _sql_type(datatype: str) -> TypeEngine[Any]:
    if datatype in _INTEGERS:
        return BigInteger()
    if datatype in _REALS:
        return Float()
    return Text()


@dataclass(slots=True)
class UploadedTable:
    """One upload, read: its columns as published and its rows as Python values."""

    name: str
    columns: list[TapColumn]
    rows: list[tuple[Any, ...]]

    @property
    def sql_name(self) -> str:
        """The temporary table's name (the upload name is already checked as an identifier)."""
        return f"tap_upload_{_SAFE.sub('_', self.name.lower())}"

    def sql_table(self) -> Table:
        """The temporary table: one column ``cN`` per upload column, in order."""
        return Table(
            self.sql_name,
            MetaData(),
            *(Column(f"c{i}", _sql_type(c.datatype)) for i, c in enumerate(self.columns)),
            prefixes=["TEMPORARY"],
        )

    def tap_table(self) -> TapTable:
        """The upload as ``TAP_UPLOAD.name``, reading the temporary table."""
        table = self.sql_table()
        columns = self.columns

        def relation(context: RelationContext) -> Select[Any]:
            del context
            return select(*(table.c[f"c{i}"].label(c.name) for i, c in enumerate(columns)))

        return TapTable(
            "TAP_UPLOAD",
            self.name,
            "Table uploaded with the query",
            tuple(columns),
            relation,
            table_type="table",
            cacheable=False,
        )


async def fetch(uri: str, files: dict[str, bytes]) -> bytes:
    """The bytes an upload URI names: a multipart part or an http(s) resource."""
    if uri.startswith("param:"):
        part = uri.removeprefix("param:")
        if part not in files:
            msg = f"UPLOAD refers to param:{part}, but the request has no part named {part!r}"
            raise UsageError(msg)
        return files[part]
    if uri.startswith(("http://", "https://")):
        try:
            async with (
                httpx.AsyncClient(timeout=_FETCH_TIMEOUT, follow_redirects=True) as client,
                client.stream("GET", uri) as response,
            ):
                response.raise_for_status()
                chunks = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        msg = f"upload {uri} is larger than {MAX_UPLOAD_BYTES} bytes"
                        raise UsageError(msg)
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            msg = f"cannot fetch upload {uri}: {exc}"
            raise UsageError(msg) from exc
    msg = f"UPLOAD URI {uri!r} is not supported: use param:NAME or an http(s) URL"
    raise UsageError(msg)


_INTEGERS = frozenset({"short", "int", "long", "unsignedByte"})
_REALS = frozenset({"float", "double"})


def _datatype(field: Any) -> tuple[str, str | None, str | None]:
    """Published (datatype, arraysize, xtype) of an uploaded FIELD.

    Scalar numbers keep their VOTable type; the rest is text (booleans as T/F, arrays as
    space-separated values).
    """
    scalar = field.arraysize is None or field.datatype in {"char", "unicodeChar"}
    if scalar and field.datatype in _INTEGERS | _REALS:
        return field.datatype, None, None
    xtype = field.xtype if field.xtype == "timestamp" else None
    return "char", "*", xtype


def _cell(value: Any, datatype: str) -> Any:
    if value is None or value is np.ma.masked:
        return None
    if datatype in _INTEGERS:
        return int(value)
    if datatype in _REALS:
        number = float(value)
        return None if np.isnan(number) else number
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return " ".join(str(v) for v in value.tolist())
    return str(value)


def read_votable(name: str, content: bytes) -> UploadedTable:
    """Parse an uploaded VOTable into published columns and Python rows."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VOWarning)
            votable = parse_single_table(io.BytesIO(content), verify="ignore")
    except Exception as exc:
        msg = f"upload {name!r} is not a readable VOTable: {exc}"
        raise UsageError(msg) from exc
    table = votable.array
    if len(table) > MAX_UPLOAD_ROWS:
        msg = f"upload {name!r} has {len(table)} rows; at most {MAX_UPLOAD_ROWS} are accepted"
        raise UsageError(msg)
    columns: list[TapColumn] = []
    seen: set[str] = set()
    for field in votable.fields:
        column_name = field.name or field.ID
        if not column_name or column_name.lower() in seen:
            msg = f"upload {name!r}: column names must be present and unique ({column_name!r})"
            raise UsageError(msg)
        seen.add(column_name.lower())
        datatype, arraysize, xtype = _datatype(field)
        columns.append(
            TapColumn(
                column_name,
                datatype,
                str(field.description or ""),
                arraysize,
                xtype=xtype,
                unit=str(field.unit) if field.unit is not None else None,
                ucd=field.ucd,
                utype=field.utype,
            )
        )
    data = [table[f.ID or f.name] for f in votable.fields]
    rows = [
        tuple(_cell(values[i], c.datatype) for values, c in zip(data, columns, strict=True))
        for i in range(len(table))
    ]
    return UploadedTable(name, columns, rows)


async def load(connection: AsyncConnection, uploads: Sequence[UploadedTable]) -> None:
    """Create and fill the temporary tables of ``uploads`` on ``connection``."""
    for upload in uploads:
        table = upload.sql_table()
        await connection.run_sync(table.create)
        if upload.rows:
            keys = [f"c{i}" for i in range(len(upload.columns))]
            await connection.execute(
                table.insert(), [dict(zip(keys, row, strict=True)) for row in upload.rows]
            )


async def drop(connection: AsyncConnection, uploads: Sequence[UploadedTable]) -> None:
    """Drop the temporary tables, so a pooled connection carries none into the next query."""
    for upload in uploads:
        await connection.run_sync(upload.sql_table().drop, checkfirst=True)
