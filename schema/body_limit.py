"""Refusing request bodies too large to read: before a byte is buffered, or as they stream.

A declared ``Content-Length`` above the limit is answered 413 at once; a body sent without
one (chunked) is counted as it arrives and cut off with 413 when it passes the limit, so a
client cannot make the service buffer gigabytes. The answer has the client's form, as for
refused tokens (schema/security.py): a GraphQL error, or a DALI VOTable under ``/tap`` and
``/datalink``.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schema.security import client_error

STATUS = 413


def too_large(path: str, limit: int) -> Response:
    """The 413 answer, in the form the client of ``path`` reads."""
    message = f"the request body is larger than {limit} bytes"
    return client_error(path, STATUS, message, "TOO_LARGE")


class _Guard:
    """One request's body, counted as the app reads it."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        self.scope, self._receive, self._send, self.limit = scope, receive, send, limit
        self.received = 0
        self.started = self.refused = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit and not self.started:
                self.refused = True  # answer now; the app sees the client go away
                await too_large(self.scope["path"], self.limit)(
                    self.scope, self._receive, self._send
                )
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the 413 is the answer; whatever the app says after it is dropped
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


class BodySizeLimit:
    """ASGI middleware: at most ``limit`` bytes of request body."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared or streamed body above the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_large(scope["path"], self.limit)(scope, receive, send)
            return
        guard = _Guard(scope, receive, send, self.limit)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.refused:
                raise
