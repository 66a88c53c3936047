"""Calling the GraphQL endpoint the way a client does: one POST, the JSON answer."""

from __future__ import annotations

from typing import Any

import httpx


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST a query (and its variables) to ``/graphql`` and return the decoded response.

    A response that is not 200 is a failure here, with its body, so no test mistakes a
    server error for an answer.
    """
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
