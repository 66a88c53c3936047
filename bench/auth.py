"""What bearer-token validation costs a request: the verifier alone, and GraphQL with and without.

    python bench/auth.py [--requests 2000]

1. ``TokenVerifier.verify`` with the issuer's keys cached (RS256 from a JWKS served on
   127.0.0.1, and the local issuer's ES256), per token: p50/p95 µs, and how many JWKS
   fetches it took (one: the cache works).
2. The same small GraphQL query in-process (``schema.app.create_app`` over httpx's ASGI
   transport, a fresh SQLite catalogue), anonymous and with a token, interleaved: p50/p95 ms
   and the difference, which is what authentication adds to every request.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
# bench/graphql.py would shadow the graphql library strawberry imports: bench/ leaves the path.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from bench.synthetic import maxrss_mib, percentile  # noqa: E402
from catalogue.config import Settings  # noqa: E402
from schema.app import create_app  # noqa: E402
from schema.local_issuer import LOCAL_ISSUER, local_key_set, mint  # noqa: E402
from schema.tokens import JwksCache, TokenVerifier  # noqa: E402
from tests.support.asgi_server import serve_app  # noqa: E402

QUERY = {"query": "{ scopes }"}


def _issuer(key: RSAKey) -> Starlette:
    holder: dict[str, str] = {}

    async def discovery(request: object) -> JSONResponse:
        del request
        return JSONResponse({"jwks_uri": f"{holder['url']}/jwks"})

    async def jwks(request: object) -> JSONResponse:
        del request
        return JSONResponse({"keys": [key.as_dict(private=False)]})

    app = Starlette(
        routes=[Route("/.well-known/openid-configuration", discovery), Route("/jwks", jwks)]
    )
    app.state.holder = holder
    return app


async def _verifier_costs(count: int, settings: Settings) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "bench"}, private=True)
    app = _issuer(key)
    with serve_app(app) as root:
        app.state.holder["url"] = root
        async with httpx.AsyncClient() as client:
            cache = JwksCache(client)
            verifier = TokenVerifier(
                [root],
                ["lakecat"],
                cache,
                local_keys={LOCAL_ISSUER: local_key_set(settings)},
            )
            now = int(time.time())
            claims = {"iss": root, "sub": "bench", "aud": "lakecat", "exp": now + 3600}
            rs256 = jwt.encode({"alg": "RS256", "kid": "bench"}, claims, key)
            es256 = mint(settings, "bench")
            for name, token in (("RS256 (JWKS)", rs256), ("ES256 (local)", es256)):
                await verifier.verify(token)  # the first fetches the keys
                times = []
                for _ in range(count):
                    started = time.perf_counter()
                    await verifier.verify(token)
                    times.append((time.perf_counter() - started) * 1e6)
                print(
                    f"  verify {name:14} p50 {percentile(times, 0.5):6.0f} µs  "
                    f"p95 {percentile(times, 0.95):6.0f} µs"
                )
            print(f"  JWKS fetches for {2 * (count + 1)} verifications: {cache.fetches}")


async def _request_costs(count: int, settings: Settings) -> None:
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {mint(settings, 'bench', lifetime=86400)}"}
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            sides: dict[str, list[float]] = {"anonymous": [], "token": []}
            for i in range(count + 50):
                for side in ("anonymous", "token") if i % 2 else ("token", "anonymous"):
                    started = time.perf_counter()
                    answer = await http.post(
                        "/graphql", json=QUERY, headers=headers if side == "token" else {}
                    )
                    elapsed = (time.perf_counter() - started) * 1e3
                    answer.raise_for_status()
                    if i >= 50:  # warm-up left out
                        sides[side].append(elapsed)
    for side, times in sides.items():
        print(
            f"  GraphQL {side:9} p50 {percentile(times, 0.5):6.2f} ms  "
            f"p95 {percentile(times, 0.95):6.2f} ms"
        )
    added = statistics.median(sides["token"]) - statistics.median(sides["anonymous"])
    print(f"  authentication adds {added * 1000:.0f} µs per request (p50 difference)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp())
    settings = Settings(
        data_dir=directory,
        database_url=f"sqlite+aiosqlite:///{directory / 'bench.sqlite'}",
        auth_local_issuer=True,
    )
    print(f"token validation, {args.requests} requests each")
    asyncio.run(_verifier_costs(args.requests, settings))
    asyncio.run(_request_costs(args.requests, settings))
    print(f"  peak RSS {maxrss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
