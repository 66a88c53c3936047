"""Running one ADQL query: uploads in, translation, the sky index, limits, rows out.

The translated SQL runs in a transaction of its own on one connection: read-only on
PostgreSQL (with ``statement_timeout``), ``query_only`` on SQLite (with a progress handler
that interrupts it at the deadline), so neither engine lets a query write or run past its
limit even if the whitelist in ``bridges.tap.adql`` had a hole.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bridges.tap.adql import translate
from bridges.tap.errors import QueryTimeoutError, TapError, UsageError
from bridges.tap.results import ResultTable
from bridges.tap.tables import RelationContext, TableSet
from bridges.tap.upload import UploadedTable, drop, fetch, load, read_votable
from catalogue.service import Catalogue

logger = logging.getLogger(__name__)

LANGUAGES = ("ADQL", "ADQL-2.0", "ADQL-2.1")
_PROGRESS_STEPS = 10_000  # SQLite VM instructions between deadline checks


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """A TAP query as the protocol layer hands it over, parameters already read."""

    query: str
    lang: str
    maxrec: int
    context: RelationContext
    uploads: Sequence[tuple[str, str]] = ()
    files: dict[str, bytes] | None = None
    timeout: float = 60.0


def parse_maxrec(value: str | None, default: int, hard: int) -> int:
    """MAXREC as an int within the service's hard limit (DALI §3.3.3)."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        msg = f"MAXREC must be a non-negative integer, got {value!r}"
        raise UsageError(msg) from exc
    if number < 0:
        msg = f"MAXREC must be a non-negative integer, got {value!r}"
        raise UsageError(msg)
    return min(number, hard)


def check_lang(lang: str | None) -> str:
    """LANG is required and must name ADQL (any of the versions we speak)."""
    if not lang:
        msg = "LANG is required: use LANG=ADQL"
        raise UsageError(msg)
    if lang.upper() not in LANGUAGES:
        msg = f"LANG={lang} is not supported; use one of {', '.join(LANGUAGES)}"
        raise UsageError(msg)
    return lang


class QueryRunner:
    """Runs ADQL over the store the catalogue uses."""

    def __init__(self, engine: AsyncEngine, catalogue: Catalogue, tables: TableSet) -> None:
        self._engine = engine
        self._catalogue = catalogue
        self._tables = tables

    async def read_uploads(
        self, uploads: Sequence[tuple[str, str]], files: dict[str, bytes]
    ) -> list[UploadedTable]:
        """Fetch and parse every upload; later uploads of a name replace earlier ones."""
        by_name: dict[str, UploadedTable] = {}
        for name, uri in uploads:
            by_name[name.lower()] = read_votable(name, await fetch(uri, files))
        return list(by_name.values())

    async def run(self, request: QueryRequest) -> ResultTable:
        """The query's rows, cut at MAXREC, or a TapError saying why not."""
        check_lang(request.lang)
        if not request.query or not request.query.strip():
            msg = "QUERY is required"
            raise UsageError(msg)
        uploads = await self.read_uploads(request.uploads, request.files or {})
        tables = self._tables.with_tables(u.tap_table() for u in uploads)
        plan = translate(request.query, tables, self._engine.dialect, request.context)
        if request.maxrec == 0:  # metadata only (TAP 1.1 §2.7.4)
            return ResultTable(plan.columns, [], overflow=False, query=request.query)
        viewer = request.context.viewer
        region_ids = [
            await self._catalogue.region_ids(n.region, viewer=viewer) for n in plan.regions
        ]
        sql = plan.sql(region_ids, request.maxrec + 1)
        deadline = time.monotonic() + request.timeout
        try:
            rows = await asyncio.wait_for(
                self._execute(sql, uploads, deadline, request.timeout),
                timeout=request.timeout + 5,
            )
        except TimeoutError as exc:
            raise self._timeout(request.timeout) from exc
        overflow = len(rows) > request.maxrec
        rows = rows[: request.maxrec]
        convert = getattr(plan, "row_converter", None)
        if convert is not None:
            rows = [convert(row) for row in rows]
        return ResultTable(plan.columns, rows, overflow=overflow, query=request.query)

    @staticmethod
    def _timeout(seconds: float) -> QueryTimeoutError:
        return QueryTimeoutError(
            f"the query ran longer than the limit of {seconds:g} s and was cancelled; "
            "narrow it (TOP, a smaller region) or run it as an async job"
        )

    async def _execute(
        self, sql: str, uploads: Sequence[UploadedTable], deadline: float, limit_s: float
    ) -> list[tuple[Any, ...]]:
        async with self._engine.connect() as connection:
            try:
                if uploads:
                    await load(connection, uploads)
                    await connection.commit()
                if connection.dialect.name == "postgresql":
                    return await self._on_postgresql(connection, sql, limit_s)
                return await self._on_sqlite(connection, sql, deadline, limit_s)
            finally:
                if uploads:
                    await connection.rollback()
                    await drop(connection, uploads)
                    await connection.commit()

    async def _on_postgresql(
        self, connection: AsyncConnection, sql: str, limit_s: float
    ) -> list[tuple[Any, ...]]:
        # READ ONLY rides on the BEGIN (no round trip of its own); the timeout is local to it.
        await connection.execution_options(postgresql_readonly=True)
        await connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(limit_s * 1000)}")
        try:
            result = await connection.exec_driver_sql(sql)
            return [tuple(row) for row in result.fetchall()]
        except DBAPIError as exc:
            if "statement timeout" in str(exc.orig) or "canceling statement" in str(exc.orig):
                raise self._timeout(limit_s) from exc
            raise self._database_error(exc) from exc
        finally:
            await connection.rollback()
            await connection.execution_options(
                postgresql_readonly=False
            )  # uploads are dropped next

    async def _on_sqlite(
        self, connection: AsyncConnection, sql: str, deadline: float, limit_s: float
    ) -> list[tuple[Any, ...]]:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None  # noqa: S101 - an open aiosqlite connection

        def past_deadline() -> int:
            return 1 if time.monotonic() > deadline else 0

        await raw.set_progress_handler(past_deadline, _PROGRESS_STEPS)
        await connection.exec_driver_sql("PRAGMA query_only = ON")
        await connection.exec_driver_sql("PRAGMA case_sensitive_like = ON")  # ADQL's LIKE
        try:
            result = await connection.exec_driver_sql(sql)
            return [tuple(row) for row in result.fetchall()]
        except OperationalError as exc:
            if "interrupted" in str(exc.orig):
                raise self._timeout(limit_s) from exc
            raise self._database_error(exc) from exc
        except DBAPIError as exc:
            raise self._database_error(exc) from exc
        finally:
            await connection.rollback()
            await connection.exec_driver_sql("PRAGMA case_sensitive_like = OFF")
            await connection.exec_driver_sql("PRAGMA query_only = OFF")
            await raw.set_progress_handler(None, _PROGRESS_STEPS)

    @staticmethod
    def _database_error(exc: DBAPIError) -> TapError:
        """What the database refused, said without SQL internals (logged in full)."""
        logger.warning("TAP query failed in the database: %s", exc)
        detail = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        detail = detail.split(">: ", 1)[-1]
        return TapError(f"the query could not be executed: {detail}")
