"""VO clients and tokens: capabilities declare them, pyvo sends them, jobs have owners."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from pyvo.auth import AuthSession
from pyvo.dal import TAPService
from pyvo.io.vosi import parse_capabilities

from schema.app import create_app
from tests.support.asgi_server import serve_app
from tests.support.auth import bearer, local_settings

TOKEN = "ivo://ivoa.net/sso#token"  # noqa: S105 - a standard identifier
QUERY = "SELECT COUNT(*) AS n FROM ivoa.obscore"


@pytest.fixture
def served(engine, tmp_path) -> Iterator[tuple[str, Any]]:
    """The service on 127.0.0.1 with the local issuer, over the test database."""
    url = engine.url.render_as_string(hide_password=False)
    settings = local_settings(tmp_path, database_url=url, tap_max_jobs_per_owner=2)
    with serve_app_with_lifespan(create_app(settings, run_migrations=False)) as root:
        yield root, settings


def serve_app_with_lifespan(app: Any) -> Any:
    """uvicorn with the app's lifespan (the catalogue lives in it)."""
    return serve_app(app, lifespan="on")


def _session(settings: Any, subject: str) -> AuthSession:
    token_session = requests.Session()
    token_session.headers.update(bearer(settings, subject, scopes=[]))
    auth = AuthSession()
    auth.credentials.set(TOKEN, token_session)
    return auth


def test_capabilities_declare_anonymous_and_bearer_token_interfaces(served):
    root, _ = served
    body = httpx.get(f"{root}/tap/capabilities").content
    parsed = {c.standardid: c for c in parse_capabilities(io.BytesIO(body))}
    for standard in ("ivo://ivoa.net/std/TAP", "ivo://ivoa.net/std/DataLink#links-1.1"):
        methods = [[m.standardid for m in i.securitymethods] for i in parsed[standard].interfaces]
        assert methods == [[], [TOKEN]]


def test_pyvo_with_an_authenticated_session_owns_its_jobs(served):
    root, settings = served
    alice = TAPService(f"{root}/tap", session=_session(settings, "alice"))
    job = alice.submit_job(QUERY)
    job.run()
    job.wait(timeout=60)
    assert job.owner == "alice"
    assert job.fetch_result().to_table()["n"][0] == 0
    mine = alice.get_job_list()
    assert [j.jobid for j in mine] == [job.job_id]
    # another caller, or nobody, sees none of alice's jobs and cannot read them
    bob = TAPService(f"{root}/tap", session=_session(settings, "bob"))
    assert bob.get_job_list() == []
    assert TAPService(f"{root}/tap").get_job_list() == []
    forbidden = httpx.get(job.url, headers=bearer(settings, "bob", scopes=[]))
    assert forbidden.status_code == 403
    assert httpx.get(job.url).status_code == 401


def test_a_sync_query_with_a_bad_token_is_a_votable_401(served):
    root, _ = served
    answer = httpx.post(
        f"{root}/tap/sync",
        data={"LANG": "ADQL", "QUERY": QUERY},
        headers={"Authorization": "Bearer x.y.z"},
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/x-votable+xml"
    assert 'value="ERROR"' in answer.text


def test_a_caller_cannot_pile_up_async_jobs(served):
    root, settings = served
    alice = bearer(settings, "alice", scopes=[])
    job = {"LANG": "ADQL", "QUERY": QUERY}
    for _ in range(2):
        created = httpx.post(f"{root}/tap/async", data=job, headers=alice)
        assert created.status_code == 303
    refused = httpx.post(f"{root}/tap/async", data=job, headers=alice)
    assert refused.status_code == 429
    assert refused.text == (
        "alice already hold 2 jobs that have not ended (at most 2): delete or wait for some first"
    )
    other = httpx.post(f"{root}/tap/async", data=job, headers=bearer(settings, "bob", scopes=[]))
    assert other.status_code == 303
