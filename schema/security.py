"""Who is calling: the bearer token of each request, checked once, as ``request.state.caller``.

A request without ``Authorization`` is the anonymous caller (reads of public records). A
request with a token we do not accept is answered 401 at once, in the form its client reads
(RFC 6750 §3): GraphQL clients get a GraphQL error with ``extensions.code`` UNAUTHENTICATED,
VO clients (``/tap``, ``/datalink``) a DALI VOTable error document, both with a
``WWW-Authenticate: Bearer`` header saying why. A wrong token is never downgraded to
anonymous: a pipeline with an expired token must hear about it, not see less.
"""

from __future__ import annotations

import json
import time

import httpx
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bridges.tap.formats import error_document
from catalogue.config import Settings
from catalogue.models import ANONYMOUS
from schema.local_issuer import LOCAL_ISSUER, local_key_set
from schema.tokens import JwksCache, TokenError, TokenVerifier

REALM = "lakecat"
VOTABLE = "application/x-votable+xml"
_VO_PREFIXES = ("/tap", "/datalink", "/hips")


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


def challenge(error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate`` value (RFC 6750 §3)."""
    parts = [f'Bearer realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_quoted(description)}"')
    return ", ".join(parts)


def client_error(
    path: str, status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> Response:
    """An HTTP error in the form its client reads: DALI VOTable (VO paths) or GraphQL."""
    if path.startswith(_VO_PREFIXES):
        return Response(error_document(message), status, headers=headers, media_type=VOTABLE)
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(json.dumps(body), status, headers=headers, media_type="application/json")


def refusal(path: str, status: int, message: str, *, error: str | None) -> Response:
    """A 401/403 with its ``WWW-Authenticate`` challenge."""
    code = "UNAUTHENTICATED" if status == 401 else "FORBIDDEN"  # noqa: PLR2004
    headers = {"WWW-Authenticate": challenge(error, message)}
    return client_error(path, status, message, code, headers)


def build_verifier(settings: Settings, client: httpx.AsyncClient) -> TokenVerifier | None:
    """The configured issuers (and the local one, when enabled); None when there are none."""
    local = {LOCAL_ISSUER: local_key_set(settings)} if settings.auth_local_issuer else {}
    if not settings.auth_issuers and not local:
        return None
    cache = JwksCache(client, ttl=settings.auth_jwks_ttl, jwks_urls=settings.auth_jwks_urls)
    return TokenVerifier(
        settings.auth_issuers,
        settings.auth_audiences,
        cache,
        leeway=settings.auth_leeway,
        local_keys=local,
    )


class BearerAuthentication:
    """ASGI middleware: verify the bearer token, set ``scope["state"]["caller"]``."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier | None) -> None:
        self.app = app
        self.verifier = verifier
        #: Time spent verifying, for the benchmarks' "< 1 ms per request" figure.
        self.seconds = 0.0
        self.verified = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Attach the caller, or answer 401."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        header = Headers(scope=scope).get("authorization")
        if header is None:
            state["caller"] = ANONYMOUS
            await self.app(scope, receive, send)
            return
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            response = refusal(
                scope["path"],
                401,
                "send the token as 'Authorization: Bearer <token>'",
                error="invalid_request",
            )
            await response(scope, receive, send)
            return
        if self.verifier is None:
            response = refusal(
                scope["path"],
                401,
                "this service accepts no tokens (no issuer configured)",
                error="invalid_token",
            )
            await response(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            state["caller"] = await self.verifier.verify(token.strip())
        except TokenError as exc:
            response = refusal(scope["path"], 401, str(exc), error="invalid_token")
            await response(scope, receive, send)
            return
        finally:
            self.seconds += time.perf_counter() - started
            self.verified += 1
        await self.app(scope, receive, send)
