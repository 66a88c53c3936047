"""The ASGI application: builds the catalogue in its lifespan and mounts the interfaces."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypedDict

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL

from bridges.harvest.publish import hips_routes
from bridges.provenance import ProvenanceExport
from bridges.tap.app import TapService
from catalogue.authorization import AccessPolicy
from catalogue.config import Settings
from catalogue.search import SearchBackend
from catalogue.service import Catalogue
from catalogue.store.engine import create_engine, create_sessions, migrate
from catalogue.store.search_sql import RelationalSearch
from indexer.lifespan import run_indexer
from schema.body_limit import BodySizeLimit
from schema.context import Context
from schema.graphql import schema
from schema.security import BearerAuthentication, build_verifier

VERSION = "0.1.0"


class State(TypedDict):
    """What every request can reach through ``request.state``."""

    catalogue: Catalogue
    settings: Settings
    search: SearchBackend


async def landing(request: Request) -> JSONResponse:
    """What this service is and where its interfaces are."""
    catalogue: Catalogue = request.state.catalogue
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "service": "lakecat",
            "version": VERSION,
            "description": "Metadata catalogue of the data lake",
            "interfaces": {
                "graphql": f"{base}/graphql",
                "tap": f"{base}/tap",
                "provenance": f"{base}/prov?ID=scope:name",
                "health": f"{base}/health",
            },
            "scopes": await catalogue.list_scopes(),
        }
    )


async def health(request: Request) -> JSONResponse:
    """Liveness and a database round trip, for operators' probes."""
    catalogue: Catalogue = request.state.catalogue
    rses = await catalogue.list_rses()
    return JSONResponse({"status": "ok", "rses": len(rses)})


class GraphQLApp(GraphQL[Context, None]):
    """The GraphQL endpoint (GraphiQL on GET from a browser); one Context per request."""

    async def get_context(self, request: Request, response: object) -> Context:  # type: ignore[override]
        """The catalogue from the lifespan state, the caller from the request's token."""
        return Context(
            catalogue=request.state.catalogue,
            caller=request.state.caller,
            search=request.state.search,
            response=response,
        )


def create_app(settings: Settings, *, run_migrations: bool = True) -> Starlette:
    """The service over the configured store: GraphQL, TAP at ``/tap``, DataLink."""
    engine = create_engine(settings.resolved_database_url)
    catalogue = Catalogue(
        create_sessions(engine),
        moc_order=settings.moc_order,
        index_cells=settings.index_cells,
        policy=AccessPolicy.from_config(settings.auth_groups),
    )
    key_client = httpx.AsyncClient(timeout=10)  # fetches issuers' keys (schema/tokens.py)
    verifier = build_verifier(settings, key_client)
    tap = TapService(engine, catalogue, settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[State]:
        if run_migrations:
            await migrate(engine)
        await tap.start()
        # The imports leave ~165k long-lived objects; freezing them keeps full collections
        # (about 80 ms each, every few requests) out of request latency.
        gc.collect()
        gc.freeze()
        indexing = AsyncExitStack()
        try:
            search: SearchBackend = RelationalSearch(create_sessions(engine))
            if settings.elasticsearch_url:  # the outbox worker drains in the background
                search = await indexing.enter_async_context(
                    run_indexer(settings, create_sessions(engine))
                )
            yield {"catalogue": catalogue, "settings": settings, "search": search}
        finally:
            await indexing.aclose()
            await key_client.aclose()
            await tap.stop()
            await engine.dispose()

    return Starlette(
        routes=[
            Route("/", landing),
            Route("/health", health),
            Route("/graphql", GraphQLApp(schema, graphql_ide="graphiql")),
            Mount("/tap", routes=tap.routes()),
            Mount("/datalink", routes=tap.datalink_routes()),
            Mount("/hips", routes=hips_routes(catalogue, settings)),
            *ProvenanceExport(catalogue, settings).routes(),
        ],
        middleware=[
            Middleware(BodySizeLimit, limit=settings.max_request_bytes),
            Middleware(BearerAuthentication, verifier=verifier),
        ],
        lifespan=lifespan,
    )
