"""The TAP service's HTTP surface: sync, async (UWS), VOSI, DALI examples, DataLink.

A thin adapter: requests become :class:`QueryRequest` objects for the runner, answers and
errors become DALI documents. Every failure a client can cause is a VOTable error
document with a message for a person; anything else is logged and reported without a
traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import (
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route

from bridges.caller import caller_of
from bridges.tap import datalink, examples, formats, vosi
from bridges.tap.errors import TapError
from bridges.tap.execute import QueryRequest, QueryRunner, check_lang, parse_maxrec
from bridges.tap.params import MAX_UPLOAD_BYTES, TapRequest, read_request
from bridges.tap.tables import ALL_TABLES, DATALINK_MIME, DATALINK_PATH, RelationContext, TableSet
from bridges.tap.uws import JobRunner, async_routes
from catalogue.authorization import Viewer
from catalogue.config import Settings
from catalogue.models import DIDType
from catalogue.provenance import Direction
from catalogue.service import Catalogue
from catalogue.store.engine import create_sessions
from catalogue.store.jobs import JobRecord

logger = logging.getLogger(__name__)

XML = "text/xml"
_STREAM_FROM_ROWS = 2000  # results above this many rows are streamed
VOTABLE = "application/x-votable+xml"


class TapService:
    """The TAP service over one store; :meth:`start`/:meth:`stop` run its async workers."""

    def __init__(self, engine: AsyncEngine, catalogue: Catalogue, settings: Settings) -> None:
        self.settings = settings
        self.tables = TableSet(ALL_TABLES)
        self.runner = QueryRunner(engine, catalogue, self.tables)
        self.catalogue = catalogue
        self.jobs = JobRunner(
            create_sessions(engine),
            self._run_job,
            workers=settings.tap_workers,
            default_duration=settings.tap_async_timeout,
            max_duration=settings.tap_async_max_timeout,
            destruction=timedelta(days=settings.tap_destruction_days),
            sole_runner=settings.tap_sole_runner,
            max_active_per_owner=settings.tap_max_jobs_per_owner,
            viewer_of=catalogue.policy.viewer,
        )
        self.up_since = datetime.now(UTC)

    async def start(self) -> None:
        """Start the async job workers and the reaper."""
        self.up_since = datetime.now(UTC)
        await self.jobs.start()

    async def stop(self) -> None:
        """Stop the workers; running jobs are recorded as interrupted at the next start."""
        await self.jobs.stop()

    # -- helpers ---------------------------------------------------------------------------

    def service_url(self, request: Request) -> str:
        """The service root clients use: the configured public URL, else the request's."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return str(request.base_url).rstrip("/")

    def context(self, service_url: str, viewer: Viewer) -> RelationContext:
        """What the published relations depend on: the service URL, and whose eyes."""
        return RelationContext(service_url, self.settings.ivoa_authority, viewer)

    def query_request(
        self,
        params: TapRequest | Mapping[str, Any],
        service_url: str,
        *,
        timeout: float,
        viewer: Viewer,
        files: dict[str, bytes] | None = None,
    ) -> QueryRequest:
        """A runner request from DALI parameters (a live request's or a stored job's)."""
        if isinstance(params, TapRequest):
            values: Mapping[str, Any] = params.params
            uploads = params.uploads
            files = params.files
        else:
            values = params
            uploads = [(str(n), str(u)) for n, u in params.get("UPLOAD", [])]
        return QueryRequest(
            query=str(values.get("QUERY") or ""),
            lang=check_lang(values.get("LANG")),
            maxrec=parse_maxrec(
                values.get("MAXREC"), self.settings.tap_default_rec, self.settings.tap_max_rec
            ),
            context=self.context(service_url, viewer),
            uploads=uploads,
            files=files or {},
            timeout=timeout,
        )

    async def _run_job(self, job: JobRecord, uploads: dict[str, bytes]) -> tuple[bytes, str]:
        params = job.parameters
        request = self.query_request(
            params,
            job.service_url,
            timeout=float(job.execution_duration),
            viewer=job.viewer,
            files=uploads,
        )
        fmt = formats.canonical_format(
            _text(params.get("RESPONSEFORMAT")) or _text(params.get("FORMAT"))
        )
        table = await self.runner.run(request)
        if job.run_id:
            table.infos["RUNID"] = job.run_id  # DALI 1.1 §3.3.5: echoed in the output
        return formats.write_result(table, fmt)

    # -- endpoints -------------------------------------------------------------------------

    async def sync(self, request: Request) -> Response:
        """TAP /sync: run the query now and answer with its result (GET or POST)."""
        query: str | None = None
        try:
            params = await read_request(request)
            query = params.get("QUERY")
            fmt = formats.canonical_format(params.get("RESPONSEFORMAT") or params.get("FORMAT"))
            run = self.query_request(
                params,
                self.service_url(request),
                timeout=self.settings.tap_sync_timeout,
                viewer=self._viewer(request),
            )
            table = await self.runner.run(run)
            if params.get("RUNID"):
                table.infos["RUNID"] = params.get("RUNID") or ""
            if len(table.rows) <= _STREAM_FROM_ROWS:  # small: one write, no thread hand-offs
                content, mime = formats.write_result(table, fmt)
                return Response(content, media_type=mime)
            # Streamed: a big document is never held whole a second time.
            return StreamingResponse(formats.stream_result(table, fmt), media_type=fmt)
        except TapError as exc:
            return error_response(exc.message, exc.status, query)
        except Exception:
            logger.exception("TAP sync query failed")
            return error_response("internal error while running the query", 500, query)

    async def capabilities(self, request: Request) -> Response:
        """VOSI capabilities with TAPRegExt."""
        base = self.service_url(request)
        content = vosi.capabilities(
            f"{base}/tap",
            datalink_url=f"{base}{DATALINK_PATH}",
            sync_limit=self.settings.tap_sync_timeout,
            async_limit=self.settings.tap_async_max_timeout,
            max_rec=self.settings.tap_max_rec,
            default_rec=self.settings.tap_default_rec,
            upload_limit_bytes=MAX_UPLOAD_BYTES,
            retention_period=self.settings.tap_destruction_days * 86400,
            security_methods=[vosi.TOKEN_METHOD] if self._accepts_tokens else [],
        )
        return Response(content, media_type=XML)

    def _viewer(self, request: Request) -> Viewer:
        """What the request's caller may see (embargoes)."""
        return self.catalogue.policy.viewer(caller_of(request))

    @property
    def _accepts_tokens(self) -> bool:
        """Whether the service verifies bearer tokens (schema/security.py)."""
        return bool(self.settings.auth_issuers or self.settings.auth_local_issuer)

    async def availability(self, request: Request) -> Response:
        """VOSI availability."""
        del request
        return Response(vosi.availability(self.up_since, "accepting queries"), media_type=XML)

    async def tableset(self, request: Request) -> Response:
        """VOSI tables; ``?detail=min`` leaves out the columns."""
        detail = request.query_params.get("detail", "max").lower() != "min"
        return Response(vosi.tableset(list(self.tables), detail=detail), media_type=XML)

    async def table(self, request: Request) -> Response:
        """VOSI tables/{name}: one table in detail."""
        name: str = request.path_params["name"]
        schema, _, table_name = name.rpartition(".")
        found = self.tables.find(schema or None, table_name)
        if found is None:
            return PlainTextResponse(f"no table {name!r} is published here", status_code=404)
        return Response(vosi.table_detail(found), media_type=XML)

    async def examples(self, request: Request) -> Response:
        """DALI examples."""
        del request
        return Response(examples.examples_document(), media_type=examples.EXAMPLES_MIME)

    async def landing(self, request: Request) -> Response:
        """The TAP root: a pointer to the capabilities, as browsers land here."""
        return RedirectResponse(f"{self.service_url(request)}/tap/capabilities", 303)

    async def links(self, request: Request) -> Response:
        """DataLink {links}: each ID'd file's replicas (``#this``) and provenance links."""
        ids = request.query_params.getlist("ID")
        if not ids:
            return Response(
                formats.error_document("DataLink needs at least one ID parameter"),
                status_code=400,
                media_type=VOTABLE,
            )
        rows: list[datalink.LinkRow] = []
        viewer = self._viewer(request)
        for identifier in ids:
            rows += await self._links_of(identifier, self.service_url(request), viewer)
        return Response(datalink.links_document(rows), media_type=DATALINK_MIME)

    async def _links_of(
        self, identifier: str, service_url: str, viewer: Viewer
    ) -> list[datalink.LinkRow]:
        key = datalink.did_key(identifier)
        detail = await self.catalogue.get_did(key, viewer=viewer) if key is not None else None
        rows = datalink.replica_links(identifier, detail)
        if key is None or detail is None or detail.did.type is not DIDType.FILE:
            return rows
        reads, did_id = self.catalogue.provenance, [detail.did.id]
        up = await reads.neighbours(viewer, did_id, Direction.UPSTREAM)
        down = await reads.neighbours(viewer, did_id, Direction.DOWNSTREAM)
        return rows + datalink.provenance_links(
            identifier, key, up.get(detail.did.id, []), down.get(detail.did.id, []), service_url
        )

    def routes(self) -> list[BaseRoute]:
        """Routes of the TAP service, to mount at ``/tap``."""
        jobs_routes = async_routes(self.jobs)
        return [
            Route("/", self.landing),
            Route("/sync", self.sync, methods=["GET", "POST"]),
            # TAP clients POST to .../async itself: answer there, not with a slash redirect.
            Route("/async", _as_job_list(jobs_routes), methods=["GET", "POST"]),
            Mount("/async", routes=jobs_routes),
            Route("/capabilities", self.capabilities),
            Route("/availability", self.availability),
            Route("/tables", self.tableset),
            Route("/tables/{name}", self.table),
            Route("/examples", self.examples),
        ]

    def datalink_routes(self) -> list[BaseRoute]:
        """Routes of the DataLink service, to mount at ``/datalink``."""
        return [Route("/links", self.links)]


def _as_job_list(routes: list[BaseRoute]) -> Callable[[Request], Awaitable[Response]]:
    """The job list endpoint, answering at ``/async`` as it does at ``/async/``."""
    endpoint = next(r.endpoint for r in routes if isinstance(r, Route) and r.path == "/")

    async def job_list(request: Request) -> Response:
        request.scope["root_path"] = request.scope.get("root_path", "") + "/async"
        response: Response = await endpoint(request)
        return response

    return job_list


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def error_response(message: str, status: int, query: str | None = None) -> Response:
    """A DALI error document (VOTable, QUERY_STATUS=ERROR)."""
    return Response(
        formats.error_document(message, query=query), status_code=status, media_type=VOTABLE
    )
