"""Request bodies above the limit: refused with 413 whether declared or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schema.body_limit import BodySizeLimit

LIMIT = 1000


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"bytes": len(await request.body())})


def client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/graphql", echo, methods=["POST"]),
            Route("/tap/sync", echo, methods=["POST"]),
        ]
    )
    transport = httpx.ASGITransport(app=BodySizeLimit(app, LIMIT))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_body_within_the_limit_passes():
    async with client() as http:
        answer = await http.post("/graphql", content=b"x" * LIMIT)
    assert answer.json() == {"bytes": LIMIT}


async def test_a_declared_body_above_the_limit_is_refused_before_it_is_read():
    async with client() as http:
        answer = await http.post("/graphql", content=b"x" * (LIMIT + 1))
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"


async def test_a_streamed_body_is_cut_off_at_the_limit_with_a_votable_for_tap():
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b"y" * 100

    async with client() as http:
        answer = await http.post("/tap/sync", content=chunks())
    assert answer.status_code == 413
    assert b'value="ERROR">the request body is larger than 1000 bytes' in answer.content
