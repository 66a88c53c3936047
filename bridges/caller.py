"""Who sent a request: the caller ``schema/security.py`` put on the request's state."""

from __future__ import annotations

from starlette.requests import Request

from catalogue.models import ANONYMOUS, Caller


def caller_of(request: Request) -> Caller:
    """The request's caller; anonymous when no token was sent (or outside the middleware)."""
    caller: Caller = getattr(request.state, "caller", ANONYMOUS)
    return caller
