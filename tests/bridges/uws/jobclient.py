"""Small helpers for talking UWS to the routes, and reading answers with pyvo."""

from __future__ import annotations

import asyncio
import io
import warnings
from typing import Any
from xml.sax.saxutils import escape

import httpx
from astropy.io.votable import parse as parse_votable
from pyvo.io.uws import parse_job, parse_job_list
from pyvo.io.uws.tree import Parameters, Results
from pyvo.utils.xml.elements import parse_for_object
from starlette.applications import Starlette
from starlette.routing import Mount

from bridges.tap.errors import TapError
from bridges.tap.uws import JobRunner, async_routes
from catalogue.store.jobs import JobRecord

JOBS = "/tap/async/"
VOTABLE_TYPE = "application/x-votable+xml"


def votable(query: str) -> bytes:
    return (
        '<?xml version="1.0"?><VOTABLE version="1.4" '
        'xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE type="results">'
        '<INFO name="QUERY_STATUS" value="OK"/><TABLE><FIELD name="query" datatype="char" '
        f'arraysize="*"/><DATA><TABLEDATA><TR><TD>{escape(query)}</TD></TR></TABLEDATA>'
        "</DATA></TABLE></RESOURCE></VOTABLE>"
    ).encode()


class FakeQueries:
    """Stands in for the TAP query runner."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.uploads: dict[str, dict[str, bytes]] = {}

    async def __call__(self, job: JobRecord, uploads: dict[str, bytes]) -> tuple[bytes, str]:
        query = str(job.parameters.get("QUERY", ""))
        self.uploads[job.job_id] = uploads
        if query == "SELECT broken":
            raise TapError("table 'nowhere' does not exist")
        if query == "SELECT crash":
            raise RuntimeError("password=hunter2")
        if query == "SELECT wait":
            await self.gate.wait()
        if query == "SELECT slow":
            await asyncio.sleep(30)
        return votable(query), VOTABLE_TYPE


def make_client(runner: JobRunner) -> httpx.AsyncClient:
    app = Starlette(routes=[Mount("/tap/async", routes=async_routes(runner))])
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def job_of(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return parse_job(io.BytesIO(response.content))


def jobs_of(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200, response.text
    return list(parse_job_list(io.BytesIO(response.content)))


def parameters_of(response: httpx.Response) -> dict[str, str]:
    """A ``uws:parameters`` answer, read by pyvo (which warns that its root is no job)."""
    assert response.status_code == 200, response.text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = parse_for_object(io.BytesIO(response.content), Parameters)
    return {p.id_: p.content for p in found}


def results_of(response: httpx.Response) -> list[Any]:
    """A ``uws:results`` answer, read by pyvo."""
    assert response.status_code == 200, response.text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(parse_for_object(io.BytesIO(response.content), Results))


def error_of(response: httpx.Response) -> tuple[str, str]:
    """QUERY_STATUS and its message from a DALI error VOTable, read by astropy."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == VOTABLE_TYPE
    [info] = parse_votable(io.BytesIO(response.content)).resources[0].infos
    assert info.name == "QUERY_STATUS"
    return info.value, info.content


async def create(http: httpx.AsyncClient, query: str = "SELECT 1", **params: str) -> str:
    """A new job's URL."""
    response = await http.post(JOBS, data={"LANG": "ADQL", "QUERY": query, **params})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("http://testserver/tap/async/")
    return location


async def run(http: httpx.AsyncClient, url: str) -> None:
    response = await http.post(f"{url}/phase", data={"PHASE": "RUN"})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == url


async def finish(http: httpx.AsyncClient, url: str) -> Any:
    """The job once it has left PENDING, QUEUED and EXECUTING (WAIT, looped)."""
    for _ in range(20):
        job = job_of(await http.get(url, params={"WAIT": "5"}))
        if job.phase not in {"PENDING", "QUEUED", "EXECUTING"}:
            return job
    raise AssertionError(f"{url} did not finish")


async def reach(http: httpx.AsyncClient, url: str, phase: str) -> Any:
    """The job once it is in ``phase``."""
    for _ in range(50):
        job = job_of(await http.get(url, params={"WAIT": "1"}))
        if job.phase == phase:
            return job
    raise AssertionError(f"{url} never reached {phase}")
