"""The bearer middleware: no token is anonymous; a refused token is a 401 in the client's form."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from catalogue.config import Settings
from schema.local_issuer import LOCAL_ISSUER, local_key_set, mint
from schema.security import BearerAuthentication
from schema.tokens import JwksCache, TokenVerifier


async def whoami(request: Request) -> JSONResponse:
    caller = request.state.caller
    return JSONResponse({"subject": caller.subject, "groups": list(caller.groups)})


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, auth_local_issuer=True)


@pytest.fixture
async def client(settings) -> Any:
    async with httpx.AsyncClient() as fetcher:
        verifier = TokenVerifier(
            [], ["lakecat"], JwksCache(fetcher), local_keys={LOCAL_ISSUER: local_key_set(settings)}
        )
        app = Starlette(routes=[Route("/graphql", whoami), Route("/tap/sync", whoami)])
        wrapped = BearerAuthentication(app, verifier)
        transport = httpx.ASGITransport(app=wrapped)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def test_no_token_is_the_anonymous_caller(client):
    assert (await client.get("/graphql")).json() == {"subject": "anonymous", "groups": []}


async def test_a_good_token_is_its_caller(client, settings):
    token = mint(settings, "alice", groups=["/ctao"])
    answer = await client.get("/graphql", headers={"Authorization": f"Bearer {token}"})
    assert answer.json() == {"subject": "alice", "groups": ["/ctao"]}


async def test_an_expired_token_is_a_graphql_401_never_anonymous(client, settings):
    token = mint(settings, "alice", lifetime=-600)
    answer = await client.post("/graphql", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert answer.json()["errors"][0]["message"] == "the token has expired"
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer realm="lakecat", error="invalid_token", error_description="the token has expired"'
    )


async def test_a_vo_client_gets_a_votable_401(client):
    answer = await client.get("/tap/sync", headers={"Authorization": "Bearer not-a-token"})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/x-votable+xml"
    assert b'<INFO name="QUERY_STATUS" value="ERROR">the bearer token is not a JWT</INFO>' in (
        answer.content
    )
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="lakecat", error=')


async def test_another_scheme_is_refused_with_a_hint(client):
    answer = await client.get("/graphql", headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert answer.status_code == 401
    assert "Authorization: Bearer" in answer.json()["errors"][0]["message"]
