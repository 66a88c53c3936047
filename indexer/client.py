"""The Elasticsearch client, built once from the settings (docs/search.md, "Elasticsearch index").

The client speaks through httpx (already a dependency), not aiohttp. Elasticsearch 8 and 9
accept the client's compatibility media type (``application/vnd.elasticsearch+json;
compatible-with=9``); the in-memory server the tests use (osmem) does not, so a test setting
(``LAKECAT_ELASTICSEARCH_PLAIN_JSON``) swaps in a node that sends plain ``application/json``.
Production never needs it.
"""

from __future__ import annotations

import re
from typing import Any

from elastic_transport import HttpHeaders, HttpxAsyncHttpNode
from elastic_transport._node import NodeApiResponse
from elasticsearch import AsyncElasticsearch

from catalogue.config import Settings

_COMPAT = re.compile(r"application/vnd\.elasticsearch\+([\w.-]+)\s*;\s*compatible-with=\d+")


def _plain(headers: HttpHeaders | None) -> HttpHeaders | None:
    if not headers:
        return headers
    plain = headers.copy()
    for name in ("Accept", "Content-Type"):
        if plain.get(name):
            plain[name] = _COMPAT.sub(r"application/\1", plain[name])
    return plain


class PlainJsonNode(HttpxAsyncHttpNode):
    """An httpx node that sends ``application/json`` instead of the compatibility type."""

    async def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        **options: Any,
    ) -> NodeApiResponse:
        """Send the request with plain JSON media types."""
        return await super().perform_request(
            method, target, body=body, headers=_plain(headers), **options
        )


def create_client(settings: Settings) -> AsyncElasticsearch:
    """An async client for ``settings.elasticsearch_url`` with its auth and TLS options."""
    if not settings.elasticsearch_url:
        msg = "LAKECAT_ELASTICSEARCH_URL is not set"
        raise ValueError(msg)
    options: dict[str, Any] = {
        "request_timeout": settings.elasticsearch_timeout,
        "node_class": PlainJsonNode if settings.elasticsearch_plain_json else "httpxasync",
        "verify_certs": settings.elasticsearch_verify_certs,
    }
    if settings.elasticsearch_api_key:
        options["api_key"] = settings.elasticsearch_api_key
    if settings.elasticsearch_username:
        options["basic_auth"] = (
            settings.elasticsearch_username,
            settings.elasticsearch_password or "",
        )
    if settings.elasticsearch_ca_certs is not None:
        options["ca_certs"] = str(settings.elasticsearch_ca_certs)
    return AsyncElasticsearch(settings.elasticsearch_url, **options)
