"""Writing many rows at once: PostgreSQL's COPY, or executemany elsewhere.

Bulk registration writes hundreds of thousands of rows into half a dozen tables. Through
SQLAlchemy's executemany most of the time goes into building statements; COPY (asyncpg's
``copy_records_to_table``) streams the same rows in the server's binary format. Both paths
write exactly the same rows; SQLite keeps the portable one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

IN_LIST_LIMIT = 900
"""Values per ``IN (...)`` list: below SQLite's default limit of bound parameters."""


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def in_chunks(session: AsyncSession, values: Sequence[Any]) -> list[Sequence[Any]]:
    """``values`` cut for ``IN`` lists: whole on PostgreSQL, by :data:`IN_LIST_LIMIT` on SQLite.

    PostgreSQL gets them as one array parameter (:func:`matches`): one statement instead of
    one per 900 values, and no per-value bind parameters for SQLAlchemy to expand.
    """
    if _is_postgresql(session):
        return [values] if values else []
    return [values[i : i + IN_LIST_LIMIT] for i in range(0, len(values), IN_LIST_LIMIT)]


def matches(
    session: AsyncSession, column: ColumnElement[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``, one parameter."""
    if _is_postgresql(session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


async def _driver(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (dicts with every column of the table that is not defaulted)."""
    if not rows:
        return
    if not _is_postgresql(session):
        await session.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    records = [tuple(row[c] for c in columns) for row in rows]
    driver = await _driver(session)
    await driver.copy_records_to_table(table.name, records=records, columns=columns)


async def insert_with_ids(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert rows and return their new ids, in order."""
    if not rows:
        return []
    if not _is_postgresql(session):
        # One writer at a time (WAL): ids follow the largest; rows are never removed (DIDs
        # leave tombstones), so they are never reused. RETURNING would mean a row at a time.
        last = await session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
        ids = list(range(int(last or 0) + 1, int(last or 0) + 1 + len(rows)))
        await session.execute(
            insert(table), [{"id": i, **row} for i, row in zip(ids, rows, strict=True)]
        )
        return ids
    sequence = f"{table.name}_id_seq"  # SERIAL/IDENTITY naming; the table name is ours
    ids = list(
        (
            await session.scalars(
                select(text(f"nextval('{sequence}')")).select_from(text("generate_series(1, :n)")),
                {"n": len(rows)},
            )
        ).all()
    )
    await insert_rows(session, table, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    return ids
