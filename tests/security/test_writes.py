"""Writes through the GraphQL API: who may write what, each test named for the attempt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from catalogue.models import RSE
from tests.support.app_client import app_client
from tests.support.auth import bearer, local_settings

GROUPS = {"/lofar": {"write": ["lofar"]}, "/lake/admins": {"admin": True}}
CREATE = """mutation($scope: String!, $name: String!) {
  createDataset(scope: $scope, name: $name) { __typename } }"""
REGISTER = """mutation($files: [FileInput!]!) {
  registerFiles(files: $files) { ok registered failed items { did status message } } }"""
RSE_INPUT = """mutation { registerRse(input: {name: "DISK2", baseUrl: "root://d.example.org//x"})
  { __typename } }"""
COUNT = "{ dids(first: 0) { totalCount } }"


class Service:
    """The app over the test database, and a way to post as anyone."""

    def __init__(self, http: httpx.AsyncClient, settings: Any) -> None:
        self.http = http
        self.settings = settings

    async def post(self, query: str, variables: dict[str, Any] | None = None, **who: Any) -> Any:
        headers = bearer(self.settings, **who) if who else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )


@pytest.fixture
async def service(engine, tmp_path, catalogue) -> AsyncIterator[Service]:
    await catalogue.add_rse(RSE("DISK", "root://disk.example.org//lake"))
    url = engine.url.render_as_string(hide_password=False)
    settings = local_settings(tmp_path, database_url=url, auth_groups=GROUPS)
    async with app_client(settings) as http:
        yield Service(http, settings)


def _file(scope: str, name: str) -> dict[str, Any]:
    return {"scope": scope, "name": name, "bytes": 10, "adler32": "0000abcd"}


async def _count(service: Service) -> int:
    answer = await service.post(COUNT, subject="reader", scopes=["lake.admin"])
    return int(answer.json()["data"]["dids"]["totalCount"])


async def test_an_anonymous_write_is_a_401_with_a_challenge(service):
    answer = await service.post(CREATE, {"scope": "ctao", "name": "ds"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="lakecat"'
    error = answer.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "send a bearer token" in error["message"]
    assert await _count(service) == 0


async def test_a_scoped_token_writes_its_scope(service):
    answer = await service.post(
        CREATE, {"scope": "ctao", "name": "ds"}, subject="ctao-pipe", scopes=["lake.write:/ctao"]
    )
    assert answer.status_code == 200
    assert answer.json()["data"]["createDataset"]["__typename"] == "DIDSuccess"


async def test_scope_escalation_by_token_is_a_403(service):
    answer = await service.post(
        CREATE, {"scope": "lofar", "name": "ds"}, subject="ctao-pipe", scopes=["lake.write:/ctao"]
    )
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
    error = answer.json()["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == "ctao-pipe may not write in scope(s) lofar"
    assert await _count(service) == 0


async def test_a_read_scope_does_not_grant_writes(service):
    answer = await service.post(
        CREATE, {"scope": "ctao", "name": "ds"}, subject="reader", scopes=["lake.read:/ctao"]
    )
    assert answer.status_code == 403


async def test_a_group_writes_the_scopes_the_operator_gave_it(service):
    answer = await service.post(
        CREATE, {"scope": "lofar", "name": "ds"}, subject="lofar-pipe", groups=["/lofar"], scopes=[]
    )
    assert answer.json()["data"]["createDataset"]["__typename"] == "DIDSuccess"
    other = await service.post(
        CREATE, {"scope": "ctao", "name": "ds"}, subject="lofar-pipe", groups=["/lofar"], scopes=[]
    )
    assert other.status_code == 403


async def test_a_batch_smuggling_a_file_into_another_scope_writes_nothing(service):
    files = [_file("ctao", "ok.fits"), _file("lofar", "smuggled.fits")]
    answer = await service.post(
        REGISTER, {"files": files}, subject="ctao-pipe", scopes=["lake.write:/ctao"]
    )
    result = answer.json()["data"]["registerFiles"]
    assert (result["ok"], result["registered"], result["failed"]) == (False, 0, 1)
    refused = [i for i in result["items"] if i["status"] == "FAILED"]
    assert refused == [
        {
            "did": "lofar:smuggled.fits",
            "status": "FAILED",
            "message": "no write permission in scope lofar",
        }
    ]
    assert await _count(service) == 0


async def test_registering_an_rse_takes_an_administrator(service):
    writer = await service.post(RSE_INPUT, subject="ctao-pipe", scopes=["lake.write:/ctao"])
    assert writer.status_code == 403
    admin = await service.post(RSE_INPUT, subject="ops", groups=["/lake/admins"], scopes=[])
    assert admin.json()["data"]["registerRse"]["__typename"] == "RSE"


async def test_a_tampered_token_never_writes_as_anyone(service):
    token = bearer(service.settings, "ctao-pipe", scopes=["lake.write:/ctao"])["Authorization"]
    head, payload, signature = token.removeprefix("Bearer ").split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    answer = await service.http.post(
        "/graphql",
        json={"query": CREATE, "variables": {"scope": "ctao", "name": "ds"}},
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["message"] == "the token's signature does not verify"
    assert await _count(service) == 0


async def test_an_expired_token_is_refused_not_downgraded(service):
    answer = await service.post(
        "{ scopes }", subject="ctao-pipe", scopes=["lake.write:/ctao"], lifetime=-600
    )
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["message"] == "the token has expired"


AUDIT = "{ auditLog(first: 10) { subject action target } }"


async def test_every_write_is_in_the_audit_log_with_its_caller(service):
    await service.post(
        CREATE, {"scope": "ctao", "name": "ds"}, subject="ctao-pipe", scopes=["lake.write:/ctao"]
    )
    files = [_file("ctao", "a.fits")]
    await service.post(REGISTER, {"files": files}, subject="ctao-pipe", scopes=["lake.write:/ctao"])
    refused = await service.post(
        CREATE, {"scope": "lofar", "name": "x"}, subject="ctao-pipe", scopes=["lake.write:/ctao"]
    )
    assert refused.status_code == 403
    answer = await service.post(AUDIT, subject="ops", scopes=["lake.admin"])
    events = answer.json()["data"]["auditLog"]
    assert events[:2] == [
        {
            "subject": "ctao-pipe",
            "action": "registered files (registered 1, unchanged 0, skipped 0, failed 0)",
            "target": "-",
        },
        {"subject": "ctao-pipe", "action": "created DATASET", "target": "ctao:ds"},
    ]
    assert all(e["target"] != "lofar:x" for e in events)  # a refused write is no event


async def test_the_audit_log_is_for_administrators_only(service):
    writer = await service.post(AUDIT, subject="ctao-pipe", scopes=["lake.write:/ctao"])
    assert writer.status_code == 403
    assert writer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await service.post(AUDIT)
    assert anonymous.status_code == 401
