"""The job list and its UWS 1.1 filters: PHASE, AFTER, LAST; ARCHIVED only when asked."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from bridges.tap.uws import JobRunner
from catalogue.store import jobs
from catalogue.store.jobs import Phase
from tests.bridges.uws.jobclient import JOBS, create, finish, jobs_of


def ids(found: list) -> list[str]:
    return [job.jobid for job in found]


def id_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def test_list_shows_job_references_newest_first(client: httpx.AsyncClient):
    first = await create(client, RUNID="one")
    second = await create(client)
    response = await client.get(JOBS)
    assert response.headers["content-type"].startswith("application/xml")
    found = jobs_of(response)
    assert ids(found) == [id_of(second), id_of(first)]
    assert [job.phase for job in found] == ["PENDING", "PENDING"]
    assert found[1].runid == "one"
    assert found[0].ownerid is None
    assert found[0].creationtime is not None
    assert b'xlink:href="http://testserver/tap/async/' + id_of(second).encode() in response.content


async def test_phase_filter_may_repeat(client: httpx.AsyncClient):
    done = await create(client, PHASE="RUN")
    await finish(client, done)
    pending = await create(client)
    found = jobs_of(await client.get(JOBS, params={"PHASE": "COMPLETED"}))
    assert ids(found) == [id_of(done)]
    found = jobs_of(await client.get(JOBS, params=[("PHASE", "PENDING"), ("PHASE", "COMPLETED")]))
    assert ids(found) == [id_of(pending), id_of(done)]


async def test_last_keeps_the_most_recent(client: httpx.AsyncClient):
    urls = [await create(client) for _ in range(3)]
    found = jobs_of(await client.get(JOBS, params={"LAST": "2"}))
    assert ids(found) == [id_of(urls[2]), id_of(urls[1])]


async def test_after_keeps_jobs_created_strictly_later(
    client: httpx.AsyncClient, runner: JobRunner
):
    urls = [await create(client) for _ in range(3)]
    first = await runner.get_job(id_of(urls[0]))
    found = jobs_of(await client.get(JOBS, params={"AFTER": first.created_at.isoformat()}))
    assert ids(found) == [id_of(urls[2]), id_of(urls[1])]


async def test_filters_combine(client: httpx.AsyncClient, runner: JobRunner):
    urls = [await create(client) for _ in range(3)]
    first = await runner.get_job(id_of(urls[0]))
    params = {"AFTER": first.created_at.isoformat(), "LAST": "1", "PHASE": "PENDING"}
    assert ids(jobs_of(await client.get(JOBS, params=params))) == [id_of(urls[2])]


async def test_archived_jobs_are_listed_only_when_asked(
    client: httpx.AsyncClient, runner: JobRunner
):
    archived, kept = await create(client), await create(client)
    async with runner.sessions.begin() as session:
        assert await jobs.change_phase(
            session,
            id_of(archived),
            Phase.ARCHIVED,
            allowed_from={Phase.PENDING},
            now=datetime.now(UTC),
        )
    assert ids(jobs_of(await client.get(JOBS))) == [id_of(kept)]
    found = jobs_of(await client.get(JOBS, params={"PHASE": "ARCHIVED"}))
    assert ids(found) == [id_of(archived)]


async def test_bad_filters_are_400(client: httpx.AsyncClient):
    assert (await client.get(JOBS, params={"PHASE": "DONE"})).status_code == 400
    assert (await client.get(JOBS, params={"LAST": "many"})).status_code == 400
    assert (await client.get(JOBS, params={"AFTER": "yesterday"})).status_code == 400
