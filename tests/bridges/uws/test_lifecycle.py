"""A job's life through the UWS 1.1 resources: create, run, wait, results, errors, abort."""

from __future__ import annotations

import asyncio

import httpx

from bridges.tap.uws import JobRunner
from tests.bridges.uws.jobclient import (
    JOBS,
    VOTABLE_TYPE,
    FakeQueries,
    create,
    error_of,
    finish,
    job_of,
    parameters_of,
    reach,
    results_of,
    run,
    votable,
)


async def test_created_job_is_pending_with_its_parameters(client: httpx.AsyncClient):
    url = await create(client, "SELECT 1", MAXREC="10", RUNID="mine")
    job = job_of(await client.get(url))
    assert job.phase == "PENDING"
    assert job.jobid == url.rsplit("/", 1)[1]
    assert job.runid == "mine"
    assert job.ownerid is None
    assert job.executionduration.value == 600
    assert {p.id_: p.content for p in job.parameters} == {
        "LANG": "ADQL",
        "QUERY": "SELECT 1",
        "MAXREC": "10",
    }
    assert list(job.results) == []


async def test_run_completes_and_serves_the_result(client: httpx.AsyncClient):
    url = await create(client, "SELECT 42")
    await run(client, url)
    job = await finish(client, url)
    assert job.phase == "COMPLETED"
    assert job.starttime is not None
    assert job.endtime is not None
    [result] = job.results
    assert result.id_ == "result"
    assert result.href == f"{url}/results/result"
    response = await client.get(result.href)
    assert response.status_code == 200
    assert response.headers["content-type"] == VOTABLE_TYPE
    assert response.content == votable("SELECT 42")
    [listed] = results_of(await client.get(f"{url}/results"))
    assert (listed.id_, listed.href) == ("result", result.href)
    assert (listed.size, listed.mimetype) == (len(response.content), VOTABLE_TYPE)


async def test_phase_run_at_creation_queues_at_once(client: httpx.AsyncClient):
    url = await create(client, "SELECT 2", PHASE="RUN")
    assert (await finish(client, url)).phase == "COMPLETED"


async def test_wait_returns_when_the_phase_changes(client: httpx.AsyncClient, queries: FakeQueries):
    url = await create(client, "SELECT wait", PHASE="RUN")
    await reach(client, url, "EXECUTING")
    waiting = asyncio.create_task(client.get(url, params={"WAIT": "30", "PHASE": "EXECUTING"}))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    queries.gate.set()
    job = job_of(await asyncio.wait_for(waiting, 5))
    assert job.phase == "COMPLETED"


async def test_wait_ends_after_the_time_given(client: httpx.AsyncClient):
    url = await create(client)
    loop = asyncio.get_running_loop()
    started = loop.time()
    job = job_of(await client.get(url, params={"WAIT": "1"}))
    assert job.phase == "PENDING"
    assert 0.9 < loop.time() - started < 3


async def test_wait_answers_at_once_when_phase_given_differs(client: httpx.AsyncClient):
    url = await create(client)
    job = job_of(
        await asyncio.wait_for(client.get(url, params={"WAIT": "30", "PHASE": "QUEUED"}), 2)
    )
    assert job.phase == "PENDING"


async def test_query_error_becomes_error_phase_and_votable(client: httpx.AsyncClient):
    url = await create(client, "SELECT broken", PHASE="RUN")
    job = await finish(client, url)
    assert job.phase == "ERROR"
    assert job.errorsummary.type_ == "fatal"
    assert job.errorsummary.message.content == "table 'nowhere' does not exist"
    response = await client.get(f"{url}/error")
    assert response.status_code == 200
    assert response.headers["content-type"] == VOTABLE_TYPE
    assert error_of(response) == ("ERROR", "table 'nowhere' does not exist")
    assert (await client.get(f"{url}/results/result")).status_code == 404


async def test_unexpected_failure_shows_a_generic_message(client: httpx.AsyncClient):
    url = await create(client, "SELECT crash", PHASE="RUN")
    assert (await finish(client, url)).phase == "ERROR"
    response = await client.get(f"{url}/error")
    status, message = error_of(response)
    assert status == "ERROR"
    assert message is not None
    assert "internal error" in message
    assert "hunter2" not in response.text


async def test_abort_cancels_an_executing_job(client: httpx.AsyncClient, queries: FakeQueries):
    url = await create(client, "SELECT wait", PHASE="RUN")
    await reach(client, url, "EXECUTING")
    response = await client.post(f"{url}/phase", data={"PHASE": "ABORT"})
    assert response.status_code == 303
    queries.gate.set()
    await asyncio.sleep(0.2)
    job = job_of(await client.get(url))
    assert job.phase == "ABORTED"
    assert list(job.results) == []
    assert (await client.get(f"{url}/phase")).text == "ABORTED"


async def test_abort_of_an_ended_job_is_refused(client: httpx.AsyncClient):
    url = await create(client, PHASE="RUN")
    await finish(client, url)
    response = await client.post(f"{url}/phase", data={"PHASE": "ABORT"})
    assert response.status_code == 400
    assert "COMPLETED" in response.text


async def test_run_of_a_completed_job_is_refused(client: httpx.AsyncClient):
    url = await create(client, PHASE="RUN")
    await finish(client, url)
    response = await client.post(f"{url}/phase", data={"PHASE": "RUN"})
    assert response.status_code == 400


async def test_unknown_phase_value_is_refused(client: httpx.AsyncClient):
    url = await create(client)
    response = await client.post(f"{url}/phase", data={"PHASE": "SUSPEND"})
    assert response.status_code == 400
    assert "RUN or ABORT" in response.text


async def test_execution_duration_limit_ends_the_job_in_error(client: httpx.AsyncClient):
    url = await create(client, "SELECT slow")
    response = await client.post(f"{url}/executionduration", data={"EXECUTIONDURATION": "1"})
    assert response.status_code == 303
    assert (await client.get(f"{url}/executionduration")).text == "1"
    await run(client, url)
    job = await finish(client, url)
    assert job.phase == "ERROR"
    response = await client.get(f"{url}/error")
    assert error_of(response) == ("ERROR", "execution time limit of 1 s exceeded")


async def test_execution_duration_is_capped(client: httpx.AsyncClient):
    url = await create(client)
    await client.post(f"{url}/executionduration", data={"EXECUTIONDURATION": "100000"})
    assert (await client.get(f"{url}/executionduration")).text == "120"
    response = await client.post(f"{url}/executionduration", data={"EXECUTIONDURATION": "x"})
    assert response.status_code == 400


async def test_parameters_change_while_pending_only(client: httpx.AsyncClient):
    url = await create(client, "SELECT 1")
    response = await client.post(f"{url}/parameters", data={"MAXREC": "5", "QUERY": "SELECT 3"})
    assert response.status_code == 303
    job = job_of(await client.get(url))
    assert {p.id_: p.content for p in job.parameters}["QUERY"] == "SELECT 3"
    assert parameters_of(await client.get(f"{url}/parameters")) == {
        "LANG": "ADQL",
        "QUERY": "SELECT 3",
        "MAXREC": "5",
    }
    await run(client, url)
    await finish(client, url)
    response = await client.post(f"{url}/parameters", data={"MAXREC": "6"})
    assert response.status_code == 409


async def test_inline_and_remote_uploads(client: httpx.AsyncClient, queries: FakeQueries):
    response = await client.post(
        JOBS,
        data={
            "LANG": "ADQL",
            "QUERY": "SELECT 1",
            "UPLOAD": "t1,param:part1;t2,http://example.org/t2.xml",
        },
        files={"part1": ("t1.xml", b"<VOTABLE/>", "application/x-votable+xml")},
    )
    assert response.status_code == 303
    url = response.headers["location"]
    job = job_of(await client.get(url))
    uploads = [p.content for p in job.parameters if p.id_ == "UPLOAD"]
    assert uploads == ["t1,param:part1", "t2,http://example.org/t2.xml"]
    await run(client, url)
    await finish(client, url)
    assert queries.uploads[job.jobid] == {"part1": b"<VOTABLE/>"}


async def test_upload_naming_a_missing_part_is_refused(client: httpx.AsyncClient):
    response = await client.post(JOBS, data={"QUERY": "SELECT 1", "UPLOAD": "t1,param:gone"})
    assert response.status_code == 400
    assert "gone" in response.text


async def test_delete_by_action_and_by_method(client: httpx.AsyncClient):
    first, second = await create(client), await create(client)
    response = await client.post(first, data={"ACTION": "DELETE"})
    assert response.status_code == 303
    assert response.headers["location"] == "http://testserver/tap/async/"
    assert (await client.get(first)).status_code == 404
    response = await client.delete(second)
    assert response.status_code == 303
    assert (await client.get(second)).status_code == 404


async def test_unknown_jobs_are_404(client: httpx.AsyncClient):
    for path in ["nope", "nope/phase", "nope/results", "nope/results/result", "nope/error"]:
        response = await client.get(f"{JOBS}{path}")
        assert response.status_code == 404, path
        assert "no job 'nope'" in response.text
    assert (await client.delete(f"{JOBS}nope")).status_code == 404
    response = await client.post(f"{JOBS}nope/phase", data={"PHASE": "RUN"})
    assert response.status_code == 404


async def test_result_and_error_are_404_before_they_exist(client: httpx.AsyncClient):
    url = await create(client)
    assert (await client.get(f"{url}/results/result")).status_code == 404
    assert (await client.get(f"{url}/error")).status_code == 404
    assert (await client.get(f"{url}/results/other")).status_code == 404


async def test_small_resources(client: httpx.AsyncClient):
    url = await create(client)
    assert (await client.get(f"{url}/owner")).text == ""
    assert (await client.get(f"{url}/quote")).text == ""
    assert (await client.get(f"{url}/phase")).text == "PENDING"
    assert results_of(await client.get(f"{url}/results")) == []


async def test_at_most_workers_jobs_execute_at_once(
    client: httpx.AsyncClient, queries: FakeQueries, runner: JobRunner
):
    urls = [await create(client, "SELECT wait", PHASE="RUN") for _ in range(3)]
    await reach(client, urls[0], "EXECUTING")
    await reach(client, urls[1], "EXECUTING")
    await asyncio.sleep(0.3)
    assert job_of(await client.get(urls[2])).phase == "QUEUED"
    queries.gate.set()
    assert [(await finish(client, url)).phase for url in urls] == ["COMPLETED"] * 3
