"""``lakecat rucio listen``: Rucio's messages, delivered by hermes, applied within seconds.

Rucio queues a message for each dataset and container event (``CREATE_DTS``, ``CREATE_CNT``,
``REGISTER_CNT``, ``DETACH``, ``CLOSE``, ``OPEN``, ``ERASE``); ``rucio-hermes`` delivers them,
with ``[hermes] services_list = elastic`` and ``elastic_endpoint`` pointing here, as an
Elasticsearch bulk request: NDJSON lines alternating ``{"index": {}}`` and the message
(``event_type``, ``payload``, ``created_at``). The listener applies them in order and answers
as Elasticsearch's ``_bulk`` does, so hermes deletes them; when Rucio cannot be read (a new
collection is read from it) the answer is 503, and hermes keeps the messages and retries.

A new collection is read whole: its metadata, its content, and those of its files lakecat
does not have yet. Events of scopes not followed (``--scope``) are acknowledged and ignored;
other messages (rules, transfers, deletions of replicas) need no change here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bridges.rucio.client import Auth, RucioClient, RucioError, RucioNotFoundError
from bridges.rucio.mapping import ObsCoreMapping
from bridges.rucio.reading import DIDReader, did_type
from catalogue.authorization import EVERYTHING
from catalogue.config import Settings
from catalogue.errors import CatalogueError
from catalogue.models import Caller, DIDKey, DIDType
from catalogue.service import Catalogue, open_catalogue
from catalogue.sync_writes import Event, EventKind
from catalogue.syncing import RucioSync

_log = logging.getLogger("lakecat.rucio.listen")
LISTENER = Caller("rucio-hermes")
_CREATE = {"CREATE_DTS": DIDType.DATASET, "CREATE_CNT": DIDType.CONTAINER}
_EVENTS = {
    "REGISTER_CNT": EventKind.ATTACH,
    "DETACH": EventKind.DETACH,
    "CLOSE": EventKind.CLOSE,
    "OPEN": EventKind.OPEN,
    "ERASE": EventKind.ERASE,
}


@dataclass(frozen=True, slots=True)
class Message:
    """One hermes message: its type and payload."""

    event_type: str
    payload: Mapping[str, Any]


def parse_bulk(body: bytes) -> list[Message]:
    """The messages of an Elasticsearch bulk body (action lines are skipped)."""
    messages: list[Message] = []
    for number, line in enumerate(body.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CatalogueError(f"line {number} of the bulk body is not JSON: {exc.msg}") from exc
        if not isinstance(document, dict) or set(document) <= {"index", "create"}:
            continue
        payload = document.get("payload") or {}
        if isinstance(payload, str):
            payload = json.loads(payload)
        messages.append(Message(str(document.get("event_type", "")).upper(), payload))
    return messages


class Listener:
    """Applies messages to the catalogue through one ``events`` run."""

    def __init__(
        self,
        catalogue: Catalogue,
        client: RucioClient,
        run: RucioSync,
        *,
        scopes: Sequence[str],
        mapping: ObsCoreMapping,
    ) -> None:
        self._catalogue = catalogue
        self._client = client
        self._run = run
        self._scopes = set(scopes)
        self._reader = DIDReader(client, mapping)
        self._lock = asyncio.Lock()  # messages are applied in the order they came

    def _followed(self, scope: str) -> bool:
        return not self._scopes or scope in self._scopes

    async def apply(self, messages: Sequence[Message]) -> int:
        """Apply messages in order; how many changed the catalogue."""
        applied = 0
        async with self._lock:
            for message in messages:
                applied += await self._apply(message)
        return applied

    async def _apply(self, message: Message) -> int:
        payload = message.payload
        scope, name = str(payload.get("scope", "")), str(payload.get("name", ""))
        if not scope or not name or not self._followed(scope):
            return 0
        key = DIDKey(scope, name)
        if message.event_type in _CREATE:
            await self._create(key, _CREATE[message.event_type])
            return 1
        kind = _EVENTS.get(message.event_type)
        if kind is None:
            return 0
        child = None
        if kind in (EventKind.ATTACH, EventKind.DETACH):
            child_scope = payload.get("child_scope") or payload.get("childscope")
            child_name = payload.get("child_name") or payload.get("childname")
            if not child_scope or not child_name:
                return 0
            child = DIDKey(str(child_scope), str(child_name))
        await self._run.apply_event(Event(kind, key, child))
        return 1

    async def _create(self, key: DIDKey, kind: DIDType) -> None:
        """Read a new collection, its content and the members lakecat lacks, and write them.

        A collection Rucio no longer has was erased since: its ERASE message follows.
        """
        try:
            members = await self._client.content(key.scope, key.name)
        except RucioNotFoundError:
            return
        wanted = [
            (DIDKey(str(m["scope"]), str(m["name"])), did_type(str(m["type"]))) for m in members
        ]
        missing = [
            (k, t)
            for k, t in wanted
            if self._followed(k.scope)
            and await self._catalogue.get_did(k, viewer=EVERYTHING) is None
        ]
        if missing:
            await self._run.add_dids(await self._reader.read(missing))
        await self._run.add_dids(await self._reader.read([(key, kind)]))
        await self._run.set_contents({key: [k for k, _ in wanted]}, exact=True)


def _bulk_answer(count: int, started: float, *, errors: bool = False) -> dict[str, Any]:
    status = 503 if errors else 201
    return {
        "took": int((time.monotonic() - started) * 1000),
        "errors": errors,
        "items": [{"index": {"_index": "rucio-events", "status": status}} for _ in range(count)],
    }


def create_listener(
    settings: Settings,
    *,
    url: str,
    auth: Auth,
    scopes: Sequence[str] = (),
    mapping: ObsCoreMapping | None = None,
) -> Starlette:
    """The ASGI app hermes posts to (any path: ``/``, ``/_bulk``, ``/{index}/_bulk``)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_catalogue(settings) as catalogue, RucioClient(url, auth) as client:
            run = await catalogue.start_rucio_sync(
                url=client.url,
                account=client.account,
                scopes=sorted(scopes),
                events=True,
                caller=LISTENER,
            )
            app.state.listener = Listener(
                catalogue, client, run, scopes=scopes, mapping=mapping or ObsCoreMapping()
            )
            try:
                yield
            finally:
                await run.finish()

    async def bulk(request: Request) -> JSONResponse:
        started = time.monotonic()
        try:
            messages = parse_bulk(await request.body())
        except CatalogueError as exc:
            return JSONResponse({"error": str(exc), "status": 400}, status_code=400)
        try:
            await request.app.state.listener.apply(messages)
        except RucioError as exc:
            _log.warning("hermes messages kept for later: %s", exc)
            return JSONResponse(_bulk_answer(len(messages), started, errors=True), status_code=503)
        return JSONResponse(_bulk_answer(len(messages), started))

    async def info(_request: Request) -> JSONResponse:
        return JSONResponse({"name": "lakecat-rucio-listener", "tagline": "You Know, for Rucio"})

    routes = [
        Route("/", bulk, methods=["POST", "PUT"]),
        Route("/", info, methods=["GET", "HEAD"]),
        Route("/{path:path}", bulk, methods=["POST", "PUT"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
