"""Bearer token attacks, each test named for one, against an issuer served on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from catalogue.config import Settings
from catalogue.errors import InvalidInputError
from catalogue.models import Caller
from schema.local_issuer import LOCAL_ISSUER, local_key_set, mint
from schema.tokens import JwksCache, TokenError, TokenVerifier
from tests.support.asgi_server import serve_app

AUDIENCE = "https://lake.example.org"


@dataclass
class Issuer:
    """An OIDC issuer: its URL, its signing key, and the keys its JWKS publishes."""

    url: str = ""
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    )
    published: list[Any] = field(default_factory=list)
    jwks_hits: int = 0

    def app(self) -> Starlette:
        async def discovery(request: Request) -> JSONResponse:
            del request
            return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/jwks"})

        async def jwks(request: Request) -> JSONResponse:
            del request
            self.jwks_hits += 1
            return JSONResponse({"keys": [k.as_dict(private=False) for k in self.published]})

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
            ]
        )

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": "alice",
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "wlcg.ver": "1.0",
            "wlcg.groups": ["/ctao", "/ctao/dl3"],
            "scope": "openid lake.write:/ctao storage.read:/",
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key: Any = None, alg: str = "RS256", kid: str = "k1", **changes: Any) -> str:
        return jwt.encode({"alg": alg, "kid": kid}, self.claims(**changes), key or self.key)


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    """An issuer on a free port of 127.0.0.1 publishing its key."""
    found = Issuer()
    found.published = [found.key]
    with serve_app(found.app()) as root:
        found.url = root
        yield found


@pytest.fixture
async def verifier(issuer: Issuer) -> Any:
    async with httpx.AsyncClient(timeout=5) as client:
        yield TokenVerifier([issuer.url], [AUDIENCE], JwksCache(client, ttl=3600), leeway=30)


async def test_a_valid_token_makes_its_caller_and_the_keys_are_fetched_once(issuer, verifier):
    caller = await verifier.verify(issuer.token())
    assert caller == Caller(
        "alice",
        groups=("/ctao", "/ctao/dl3"),
        scopes=("openid", "lake.write:/ctao", "storage.read:/"),
    )
    for _ in range(20):
        await verifier.verify(issuer.token(sub="bob"))
    assert issuer.jwks_hits == 1


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(claims)}."


async def test_alg_none_is_refused(issuer, verifier):
    token = _unsigned(issuer.claims(), {"alg": "none", "kid": "k1"})
    with pytest.raises(TokenError, match="'none' are not accepted"):
        await verifier.verify(token)


async def test_hs256_signed_with_the_issuers_public_key_is_refused(issuer, verifier):
    # The classic confusion: HMAC with the public key (which anyone can fetch) as the secret.
    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    unsigned = _unsigned(issuer.claims(), header).rstrip(".")
    secret = issuer.key.as_pem(private=False)
    mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    token = f"{unsigned}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    with pytest.raises(TokenError, match="'HS256' are not accepted"):
        await verifier.verify(token)


async def test_a_token_signed_by_another_key_under_the_issuers_kid_is_refused(issuer, verifier):
    forger = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    with pytest.raises(TokenError, match="signature does not verify"):
        await verifier.verify(issuer.token(key=forger))


async def test_an_expired_token_is_refused_beyond_the_leeway(issuer, verifier):
    now = int(time.time())
    with pytest.raises(TokenError, match="expired"):
        await verifier.verify(issuer.token(exp=now - 120, iat=now - 900, nbf=now - 900))
    # within the 30 s leeway a token that just expired still passes (clock skew)
    assert (await verifier.verify(issuer.token(exp=now - 5))).subject == "alice"


async def test_a_token_not_yet_valid_is_refused(issuer, verifier):
    with pytest.raises(TokenError, match="not valid yet"):
        await verifier.verify(issuer.token(nbf=int(time.time()) + 600))


async def test_a_token_for_another_audience_is_refused(issuer, verifier):
    with pytest.raises(TokenError, match="not for this service"):
        await verifier.verify(issuer.token(aud="https://other.example.org"))


async def test_a_token_from_an_untrusted_issuer_is_refused(issuer, verifier):
    with pytest.raises(TokenError, match="is not trusted here"):
        await verifier.verify(issuer.token(iss="https://evil.example.org"))


async def test_a_token_without_subject_or_expiry_is_refused(issuer, verifier):
    with pytest.raises(TokenError, match="lacks a required claim"):
        await verifier.verify(issuer.token(sub=None))
    with pytest.raises(TokenError, match="lacks a required claim"):
        await verifier.verify(issuer.token(exp=None))


async def test_garbage_is_not_a_token(verifier):
    for junk in ("", "abc", "a.b.c", "Bearer x.y.z"):
        with pytest.raises(TokenError, match="not a JWT"):
            await verifier.verify(junk)


async def test_a_rotated_key_is_fetched_on_its_first_use_and_junk_kids_do_not_hammer_the_issuer(
    issuer, verifier
):
    await verifier.verify(issuer.token())
    rotated = RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)
    issuer.published = [issuer.key, rotated]
    caller = await verifier.verify(issuer.token(key=rotated, kid="k2"))
    assert caller.subject == "alice"
    assert issuer.jwks_hits == 2
    for n in range(10):
        with pytest.raises(TokenError, match="has no key"):
            await verifier.verify(issuer.token(key=rotated, kid=f"junk{n}"))
    assert issuer.jwks_hits == 2  # forced fetches are rate-limited per issuer


async def test_an_unreachable_issuer_is_a_clear_refusal():
    async with httpx.AsyncClient(timeout=2) as client:
        verifier = TokenVerifier(["http://127.0.0.1:9"], [AUDIENCE], JwksCache(client))
        key = ECKey.generate_key("P-256", parameters={"kid": "x"}, private=True)
        token = jwt.encode(
            {"alg": "ES256", "kid": "x"},
            {"iss": "http://127.0.0.1:9", "sub": "a", "aud": AUDIENCE, "exp": 2**31},
            key,
        )
        with pytest.raises(TokenError, match="could not be fetched"):
            await verifier.verify(token)


def test_the_local_issuer_is_refused_unless_enabled(tmp_path):
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(InvalidInputError, match="LAKECAT_AUTH_LOCAL_ISSUER=true"):
        mint(settings, "alice")
    assert not (tmp_path / "local-issuer.jwk").exists()


async def test_local_tokens_verify_with_the_local_key_only_when_enabled(tmp_path):
    settings = Settings(data_dir=tmp_path, auth_local_issuer=True, auth_audiences=[AUDIENCE])
    token = mint(settings, "pipeline", groups=["/lofar"], scopes=["lake.write:/lofar"])
    assert (tmp_path / "local-issuer.jwk").stat().st_mode & 0o777 == 0o600
    async with httpx.AsyncClient() as client:
        verifier = TokenVerifier(
            [], [AUDIENCE], JwksCache(client), local_keys={LOCAL_ISSUER: local_key_set(settings)}
        )
        caller = await verifier.verify(token)
        assert caller == Caller("pipeline", groups=("/lofar",), scopes=("lake.write:/lofar",))
        strict = TokenVerifier([], [AUDIENCE], JwksCache(client))
        with pytest.raises(TokenError, match="is not trusted here"):
            await strict.verify(token)
    expired = mint(settings, "pipeline", lifetime=-3600)
    with pytest.raises(TokenError, match="expired"):
        await verifier.verify(expired)


def test_the_key_sets_are_public_keys_only(tmp_path):
    settings = Settings(data_dir=tmp_path, auth_local_issuer=True)
    published = local_key_set(settings).as_dict()
    assert all("d" not in key for key in published["keys"])
    assert isinstance(KeySet.import_key_set(published), KeySet)
