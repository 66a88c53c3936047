"""Jobs live in the store: destruction, and a new runner over the same database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from bridges.tap.uws import JobRunner
from catalogue.store import jobs
from catalogue.store.jobs import Phase
from tests.bridges.uws.jobclient import (
    JOBS,
    FakeQueries,
    create,
    error_of,
    finish,
    job_of,
    jobs_of,
    make_client,
    votable,
)


def id_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def test_reaper_destroys_jobs_past_destruction(client: httpx.AsyncClient, runner: JobRunner):
    doomed, kept = await create(client, PHASE="RUN"), await create(client)
    await finish(client, doomed)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = await client.post(f"{doomed}/destruction", data={"DESTRUCTION": past})
    assert response.status_code == 303
    await runner.reap()
    assert (await client.get(doomed)).status_code == 404
    assert (await client.get(f"{doomed}/results/result")).status_code == 404
    assert (await client.get(kept)).status_code == 200


async def test_destruction_is_capped_at_the_retention_period(client: httpx.AsyncClient):
    url = await create(client)
    far = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    await client.post(f"{url}/destruction", data={"DESTRUCTION": far})
    text = (await client.get(f"{url}/destruction")).text
    destruction = datetime.fromisoformat(text)
    assert destruction <= datetime.now(UTC) + timedelta(days=7)
    assert job_of(await client.get(url)).destruction is not None
    response = await client.post(f"{url}/destruction", data={"DESTRUCTION": "soon"})
    assert response.status_code == 400


async def test_jobs_survive_a_new_runner(client: httpx.AsyncClient, runner: JobRunner):
    pending = await create(client, "SELECT 1")
    done = await create(client, "SELECT 7", PHASE="RUN")
    await finish(client, done)
    await runner.stop()

    again = JobRunner(runner.sessions, FakeQueries())
    await again.start()
    try:
        async with make_client(again) as http:
            found = jobs_of(await http.get(JOBS))
            assert sorted(job.jobid for job in found) == sorted([id_of(pending), id_of(done)])
            assert (await http.get(f"{done}/results/result")).content == votable("SELECT 7")
            assert job_of(await http.get(pending)).phase == "PENDING"
    finally:
        await again.stop()
    await runner.start()  # the fixture stops it again


async def test_start_requeues_queued_and_fails_executing_jobs(
    client: httpx.AsyncClient, runner: JobRunner
):
    queued, executing = await create(client, "SELECT 5"), await create(client, "SELECT 6")
    await runner.stop()
    now = datetime.now(UTC)
    async with runner.sessions.begin() as session:
        for url, phases in [(queued, [Phase.QUEUED]), (executing, [Phase.QUEUED, Phase.EXECUTING])]:
            previous = Phase.PENDING
            for phase in phases:
                assert await jobs.change_phase(
                    session, id_of(url), phase, allowed_from={previous}, now=now
                )
                previous = phase

    again = JobRunner(runner.sessions, FakeQueries())
    await again.start()
    try:
        async with make_client(again) as http:
            assert (await finish(http, queued)).phase == "COMPLETED"
            job = job_of(await http.get(executing))
            assert job.phase == "ERROR"
            error = error_of(await http.get(f"{executing}/error"))
            assert error == ("ERROR", "interrupted by a service restart")
    finally:
        await again.stop()
    await runner.start()


async def test_reaper_fails_jobs_left_executing_past_their_limit(
    client: httpx.AsyncClient, runner: JobRunner
):
    url = await create(client)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    async with runner.sessions.begin() as session:
        for previous, phase in [(Phase.PENDING, Phase.QUEUED), (Phase.QUEUED, Phase.EXECUTING)]:
            assert await jobs.change_phase(
                session, id_of(url), phase, allowed_from={previous}, now=long_ago
            )
    await runner.reap()
    job = job_of(await client.get(url))
    assert job.phase == "ERROR"
    error = error_of(await client.get(f"{url}/error"))
    assert error == ("ERROR", "execution time limit of 600 s exceeded")
