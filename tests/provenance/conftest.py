"""Builders for provenance tests: a reduction chain recorded through the catalogue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from catalogue.ingest import Candidate
from catalogue.models import DIDKey
from catalogue.provenance import (
    ActivitySpec,
    AgentSpec,
    AgentType,
    EntityRef,
    Output,
    Parameter,
    Recorded,
    Usage,
)
from catalogue.service import Catalogue
from tests.support.app_client import app_client
from tests.support.auth import bearer, local_settings
from tests.support.records import file_record, manifest, register

T0 = datetime(2025, 1, 10, 20, 0, tzinfo=UTC)
CTAPIPE = AgentSpec("ctapipe", AgentType.SOFTWARE, role="software", version="0.19.2")


def key(text: str) -> DIDKey:
    return DIDKey.parse(text)


def uses(*dids: str, role: str = "input") -> list[Usage]:
    return [Usage(EntityRef(did=key(d)), role=role) for d in dids]


def new_files(*names: str, scope: str = "cta") -> list[Candidate]:
    found = manifest([file_record(n, scope=scope) for n in names])
    assert all(isinstance(c, Candidate) for c in found)
    return found  # type: ignore[return-value]


async def step(
    catalogue: Catalogue,
    name: str,
    used: list[Usage],
    outputs: list[str],
    *,
    hour: int = 0,
    generated: list[str] = (),  # type: ignore[assignment]
    **extra,
) -> Recorded:
    """Record one pipeline step whose outputs are new files cta:<name>; it must succeed."""
    spec = ActivitySpec(
        name=name,
        activity_type="Reduction",
        start_time=T0 + timedelta(hours=hour),
        end_time=T0 + timedelta(hours=hour, minutes=30),
        agents=[CTAPIPE],
        parameters=[Parameter("tailcuts", 10.5, unit="pe")],
        used=used,
        generated=[Output(key(g)) for g in generated],
        new_file_roles=["product"] * len(outputs),
        **extra,
    )
    recorded = await catalogue.record_activity(spec, new_files(*outputs))
    assert recorded.problems == [], recorded.problems
    assert recorded.activity is not None
    return recorded


async def chain(catalogue: Catalogue) -> dict[str, int]:
    """raw (2 runs) + calibration -> dl1 -> dl2 -> dl3 (one per run); a shared calibration."""
    await register(
        catalogue,
        [
            file_record("raw_1.fits.fz", scope="cta"),
            file_record("raw_2.fits.fz", scope="cta"),
            file_record("calib_2025.h5", scope="cta"),
        ],
    )
    ids = {}
    for run in (1, 2):
        a = await step(
            catalogue,
            f"dl1_{run}",
            uses(f"cta:raw_{run}.fits.fz", role="raw")
            + uses("cta:calib_2025.h5", role="calibration"),
            [f"dl1_{run}.h5"],
            hour=run,
        )
        b = await step(
            catalogue, f"dl2_{run}", uses(f"cta:dl1_{run}.h5"), [f"dl2_{run}.h5"], hour=run + 2
        )
        c = await step(
            catalogue, f"dl3_{run}", uses(f"cta:dl2_{run}.h5"), [f"dl3_{run}.fits"], hour=run + 4
        )
        ids |= {
            f"dl1_{run}": a.activity.id,
            f"dl2_{run}": b.activity.id,
            f"dl3_{run}": c.activity.id,
        }
    return ids


@pytest.fixture
async def client(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The whole service (GraphQL, /tap, /datalink, /prov) over the engine's test database."""
    url = engine.url.render_as_string(hide_password=False)
    settings = local_settings(tmp_path, database_url=url, ivoa_authority="lake.example.org")
    async with app_client(settings, headers=bearer(settings)) as http:
        yield http
