"""Harvest ObsCore records from a TAP service, in keyset chunks that respect its limits.

Each request is ``SELECT TOP n * FROM table WHERE [--where AND] obs_publisher_did > 'last'
ORDER BY obs_publisher_did``: the ordering key makes every chunk a fresh query, so a
service that caps its answers (MAXREC, an overflow it reports) is simply asked again from
the last row it did send, and a failed run resumes after the last key it committed.
``n`` is the chunk size (``--chunk-size``), never above the service's hard output limit.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
from astropy.table import Table
from pyvo.dal import TAPService
from pyvo.dal.exceptions import DALOverflowWarning

from bridges.harvest.errors import RemoteError, describe
from bridges.harvest.http import DEFAULT_TIMEOUT, RemoteSession
from bridges.harvest.run import Chunk
from catalogue.errors import InvalidInputError
from catalogue.harvest import (
    HarvestedRecord,
    RecordProblem,
    SourceKind,
    SourceSpec,
    default_source_name,
)
from catalogue.models import DIDType, MetaValue, check_metadata
from catalogue.obscore import FIELDS_BY_NAME, parse_characterisation

DEFAULT_CHUNK = 10_000
KEY = "obs_publisher_did"
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_META_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
Mode = Literal["auto", "sync", "async"]


def adql_string(value: str) -> str:
    """An ADQL character literal: quoted, with quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def chunk_query(table: str, where: str | None, after: str | None, limit: int) -> str:
    """The ADQL of one chunk (without parentheses when there is one condition, as people write)."""
    conditions = [where] if where else []
    if after is not None:
        conditions.append(f"{KEY} > {adql_string(after)}")
    if len(conditions) > 1:
        conditions[0] = f"({conditions[0]})"
    clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # ADQL for the remote, not SQL here: the table name is checked, the key a literal.
    return f"SELECT TOP {limit} * FROM {table}{clause} ORDER BY {KEY}"  # noqa: S608


def _column_values(column: Any) -> list[Any]:
    """A column as Python values, masked cells as None, empty strings as None (VOTable null)."""
    data = column.data if hasattr(column, "mask") else column
    values = np.asarray(data).tolist() if column.dtype.kind != "O" else list(data)
    mask = getattr(column, "mask", None)
    if mask is not None and np.any(mask):
        for i in np.flatnonzero(np.asarray(mask).reshape(len(values), -1).any(axis=1)):
            values[i] = None
    out: list[Any] = []
    for value in values:
        if isinstance(value, bytes):
            value = value.decode()  # noqa: PLW2901 - normalising in place
        if isinstance(value, str) and not value.strip():
            value = None  # noqa: PLW2901
        if isinstance(value, float) and value != value:  # noqa: PLR0124 - NaN is null
            value = None  # noqa: PLW2901
        out.append(value)
    return out


def _region_text(value: Any, xtype: str | None) -> Any:
    """``s_region`` as STC-S: DALI ``polygon``/``circle`` arrays become STC-S strings."""
    if isinstance(value, list) and xtype in ("polygon", "circle"):
        numbers = " ".join(repr(float(v)) for v in value)
        return f"{'Polygon' if xtype == 'polygon' else 'Circle'} ICRS {numbers}"
    return value


def records_from_table(table: Table) -> list[HarvestedRecord | RecordProblem]:
    """ObsCore rows as harvested records: ObsCore columns typed, the rest kept as metadata.

    A row without ``obs_publisher_did``, or whose values do not read as ObsCore, is a
    problem naming the row.
    """
    names = {name.lower(): name for name in table.colnames}
    if KEY not in names:
        msg = f"the table has no {KEY} column (columns: {', '.join(table.colnames[:10])}...)"
        raise RemoteError(msg)
    columns = {lower: _column_values(table[name]) for lower, name in names.items()}
    if "s_region" in columns:
        xtype = table[names["s_region"]].meta.get("xtype")
        columns["s_region"] = [_region_text(v, xtype) for v in columns["s_region"]]
    obscore = [n for n in columns if n in FIELDS_BY_NAME]
    extra = [n for n in columns if n not in FIELDS_BY_NAME and _META_KEY.match(n)]
    out: list[HarvestedRecord | RecordProblem] = []
    for i in range(len(table)):
        remote_id = columns[KEY][i]
        if not remote_id:
            out.append(RecordProblem(f"row {i + 1}", f"no {KEY}"))
            continue
        raw = {n: columns[n][i] for n in obscore if columns[n][i] is not None}
        try:
            characterisation = parse_characterisation(raw)
            metadata = check_metadata(
                {n: _meta_value(columns[n][i]) for n in extra if columns[n][i] is not None}
            )
        except InvalidInputError as exc:
            out.append(RecordProblem(str(remote_id), str(exc)))
            continue
        out.append(
            HarvestedRecord(
                remote_id=str(remote_id),
                did_type=DIDType.FILE,
                characterisation=characterisation,
                metadata=metadata,
            )
        )
    return out


def _meta_value(value: Any) -> MetaValue:
    if isinstance(value, list):
        return [v for v in value if v is not None]
    return value  # type: ignore[no-any-return]


class TapReader:
    """ObsCore rows of one TAP service table, read chunk by chunk (bridges/harvest/run.py)."""

    def __init__(
        self,
        url: str,
        *,
        table: str = "ivoa.obscore",
        where: str | None = None,
        source: str | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        max_records: int | None = None,
        mode: Mode = "auto",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not _TABLE.match(table):
            msg = f"table {table!r} must be a name such as ivoa.obscore"
            raise InvalidInputError(msg)
        if chunk_size < 1:
            msg = f"chunk size {chunk_size} must be at least 1"
            raise InvalidInputError(msg)
        self.url = url.rstrip("/")
        self.table = table
        self.where = where or None
        self.chunk_size = chunk_size
        self.max_records = max_records
        self.mode = mode
        self.timeout = timeout
        name = source or default_source_name(self.url, SourceKind.TAP)
        self.spec = SourceSpec(name, SourceKind.TAP, self.url, {"table": table, "where": where})
        self._complete = False
        #: Chunks the service cut short (it reported an overflow), for the run's summary.
        self.overflows = 0

    @property
    def complete(self) -> bool:
        """Whether the last read reached the end of the table."""
        return self._complete

    def service(self) -> TAPService:
        """The remote service, its requests time-limited."""
        return TAPService(self.url, session=RemoteSession(self.timeout))

    def _limit(self, service: TAPService) -> int:
        """The chunk size, lowered to the service's hard output limit if it declares one."""
        try:
            hard = service.hardlimit
        except Exception as exc:  # noqa: BLE001 - a service without capabilities still works
            del exc
            return self.chunk_size
        return min(self.chunk_size, int(hard)) if hard else self.chunk_size

    def fetch(self, service: TAPService, query: str, limit: int) -> tuple[Table, bool]:
        """One chunk as a table, and whether the service reported an overflow.

        In ``auto`` mode a chunk whose synchronous answer times out is asked again as a UWS
        job, and so is the rest of the run: a service that cannot answer a chunk within the
        time limit synchronously may well do it asynchronously (TAP 1.1 §2.1).
        """
        if self.mode != "auto":
            return self._fetch(service, query, limit, self.mode)
        try:
            return self._fetch(service, query, limit, "sync")
        except RemoteError as exc:
            if "timed out" not in str(exc):
                raise
        self.mode = "async"
        return self._fetch(service, query, limit, "async")

    def _fetch(
        self, service: TAPService, query: str, limit: int, mode: Literal["sync", "async"]
    ) -> tuple[Table, bool]:
        try:
            with warnings.catch_warnings():  # an overflow is handled here, not a warning
                warnings.simplefilter("ignore", DALOverflowWarning)
                if mode == "async":
                    result = service.run_async(query, maxrec=limit)
                else:
                    result = service.run_sync(query, maxrec=limit)
                table = result.to_table()
        except Exception as exc:
            raise describe(f"{self.url}/{mode}", exc, self.timeout) from exc
        overflow = str(getattr(result, "query_status", "")).upper() == "OVERFLOW"
        return table, overflow

    def chunks(self, resume_after: str | None) -> Iterator[Chunk]:
        """The table's rows in ``obs_publisher_did`` order, after ``resume_after``."""
        self._complete = False
        service = self.service()
        limit = self._limit(service)
        after, read = resume_after, 0
        while True:
            n = limit if self.max_records is None else min(limit, self.max_records - read)
            if n <= 0:
                return  # the record limit: not complete, nothing withdrawn
            table, overflow = self.fetch(service, chunk_query(self.table, self.where, after, n), n)
            records = records_from_table(table)
            last = _last_key(table)
            if last is not None and after is not None and last <= after:
                msg = f"{self.url}: rows are not in {KEY} order (got {last!r} after {after!r})"
                raise RemoteError(msg)
            read += len(table)
            if last is not None:
                after = last
            yield Chunk(records, resume_after=after)
            if overflow:
                self.overflows += 1
                if not len(table):
                    msg = f"{self.url}: the service reports an overflow but sent no rows"
                    raise RemoteError(msg)
                limit = len(table)  # ask for what it will send, from where it stopped
                continue
            if len(table) < n:
                self._complete = True
                return


def _last_key(table: Table) -> str | None:
    names = {name.lower(): name for name in table.colnames}
    values = [v for v in _column_values(table[names[KEY]]) if v] if len(table) else []
    return str(values[-1]) if values else None


__all__: Sequence[str] = ["TapReader", "adql_string", "chunk_query", "records_from_table"]
