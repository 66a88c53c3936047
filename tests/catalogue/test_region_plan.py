"""The region index must be probed, never scanned: a plan regression costs seconds at 1M files."""

from sqlalchemy import text
from sqlalchemy.dialects import sqlite

from catalogue.query import DIDQuery, RegionFilter
from catalogue.region import Circle
from catalogue.store import queries
from catalogue.store import tables as t
from catalogue.store.engine import create_engine, migrate


async def test_sqlite_probes_the_lo_index_for_a_cone(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'plan.sqlite'}")
    await migrate(engine)
    query = DIDQuery(region=RegionFilter.from_shape(Circle(150, 2, 1.0), 10))
    statement = queries.base_query(query, t.did.c.id)
    sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    async with engine.connect() as connection:
        plan = " | ".join(
            str(row[3]) for row in await connection.execute(text("EXPLAIN QUERY PLAN " + sql))
        )
    await engine.dispose()
    assert "USING COVERING INDEX ix_coverage_cell_lo_hi_did_id (lo>? AND lo<?)" in plan
    assert "SCAN coverage_cell" not in plan
