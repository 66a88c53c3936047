"""Harvest runs and sources in GraphQL: what was brought in from the VO, when, and how it went."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from catalogue import harvest as core
from schema.context import Context
from schema.inputs import input_error

MAX_RUNS = 500


def _json(parameters: Mapping[str, Any]) -> Any:
    """A source's parameters as a JSON object."""
    return dict(parameters)


@strawberry.type(description="A record a run could not take, and why.")
class HarvestProblem:
    where: str = strawberry.field(description="The record's remote identifier, or its row.")
    reason: str


@strawberry.type(description="One harvest run (lakecat harvest tap|registry|hips).")
class HarvestRun:
    id: int
    source: str
    kind: str = strawberry.field(description="tap, registry or hips.")
    url: str
    parameters: JSON = strawberry.field(description="The source's fixed query parameters.")
    status: str = strawberry.field(description="running, succeeded, incomplete or failed.")
    started_at: datetime
    ended_at: datetime | None
    added: int
    updated: int
    unchanged: int
    withdrawn: int
    failed: int
    problems: list[HarvestProblem] = strawberry.field(
        description="The first 1,000 records refused; `failed` counts them all."
    )
    error: str | None = strawberry.field(description="Why a failed run stopped.")
    resume_after: str | None = strawberry.field(
        description="The last remote key committed; a failed run continues after it."
    )

    @classmethod
    def from_domain(cls, run: core.HarvestRun) -> HarvestRun:
        """The GraphQL view of a stored run."""
        return cls(
            id=run.id,
            source=run.source,
            kind=run.kind.value,
            url=run.url,
            parameters=_json(run.parameters),
            status=run.status.value,
            started_at=run.started_at,
            ended_at=run.ended_at,
            added=run.counts.added,
            updated=run.counts.updated,
            unchanged=run.counts.unchanged,
            withdrawn=run.counts.withdrawn,
            failed=run.counts.failed,
            problems=[HarvestProblem(where=p.where, reason=p.reason) for p in run.problems],
            error=run.error,
            resume_after=run.resume_after,
        )


@strawberry.type(description="A harvested source: its records live in the scope of its name.")
class HarvestSource:
    name: str
    kind: str
    url: str
    parameters: JSON
    records: int = strawberry.field(description="Records not withdrawn.")


@strawberry.type
class HarvestQueries:
    @strawberry.field(description="Harvest runs, newest first, of one source or of all.")
    async def harvest_runs(
        self, info: Info[Context, None], source: str | None = None, first: int = 20
    ) -> list[HarvestRun]:
        if not 0 <= first <= MAX_RUNS:
            raise input_error("first", f"must be between 0 and {MAX_RUNS}")
        runs = await info.context.catalogue.harvest_runs(source, first)
        return [HarvestRun.from_domain(r) for r in runs]

    @strawberry.field(description="Every harvest source with its live record count.")
    async def harvest_sources(self, info: Info[Context, None]) -> list[HarvestSource]:
        sources = await info.context.catalogue.harvest_sources(viewer=info.context.viewer)
        return [
            HarvestSource(
                name=spec.name,
                kind=spec.kind.value,
                url=spec.url,
                parameters=_json(spec.parameters),
                records=records,
            )
            for spec, records in sources
        ]
