"""Bearer tokens: OIDC / WLCG JWTs checked against their issuer's published keys.

What a token must be to make a caller (docs/security.md):

- signed with an asymmetric algorithm (RSA, RSA-PSS, ECDSA, EdDSA): ``none`` and the HMAC
  family are refused before anything else, so a token "signed" with an issuer's public key
  as an HMAC secret never reaches a verifier;
- issued by a configured issuer (``LAKECAT_AUTH_ISSUERS``), whose keys come from its JWKS
  (found through ``/.well-known/openid-configuration``), cached for ``LAKECAT_AUTH_JWKS_TTL``
  seconds and fetched again when a token names a key the cache does not hold (at most once a
  minute per issuer, so junk ``kid``s cannot make us hammer the issuer);
- for us: ``aud`` holds one of ``LAKECAT_AUTH_AUDIENCES``;
- current: ``exp`` in the future and ``nbf``/``iat`` not, with ``LAKECAT_AUTH_LEEWAY`` seconds
  of clock skew allowed; ``sub`` present.

The caller is ``sub`` with the token's ``wlcg.groups`` (or ``groups``) and ``scope``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from catalogue.models import Caller

#: The signature algorithms a token may use: asymmetric ones only.
ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
_REFRESH_AT_MOST_EVERY = 60.0  # seconds between forced JWKS fetches per issuer


class TokenError(Exception):
    """A token we do not accept; the message says why (safe to show, RFC 6750 ``invalid_token``)."""


@dataclass(slots=True)
class _Cached:
    keys: KeySet
    fetched: float
    forced: float = 0.0


@dataclass(slots=True)
class JwksCache:
    """Each issuer's key set, fetched over HTTP and kept for ``ttl`` seconds."""

    client: httpx.AsyncClient
    ttl: float = 3600.0
    jwks_urls: Mapping[str, str] = field(default_factory=dict)  # issuer -> JWKS URL override
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    fetches: int = 0  # for tests and the benchmark: how often we went to an issuer

    async def keys(self, issuer: str, kid: str | None) -> KeySet:
        """The issuer's keys; fetched again when stale or when ``kid`` is unknown."""
        lock = self._locks.setdefault(issuer, asyncio.Lock())
        async with lock:
            cached = self._cache.get(issuer)
            now = time.monotonic()
            stale = cached is None or now - cached.fetched > self.ttl
            unknown = cached is not None and kid is not None and not _holds(cached.keys, kid)
            may_force = cached is None or now - cached.forced > _REFRESH_AT_MOST_EVERY
            if stale or (unknown and may_force):
                keys = await self._fetch(issuer)
                self._cache[issuer] = _Cached(keys, now, now if unknown else 0.0)
                return keys
            assert cached is not None  # noqa: S101 - stale covers None
            return cached.keys

    async def _fetch(self, issuer: str) -> KeySet:
        self.fetches += 1
        try:
            url = self.jwks_urls.get(issuer) or await self._discover(issuer)
            response = await self.client.get(url)
            response.raise_for_status()
            return KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            msg = f"the keys of issuer {issuer} could not be fetched ({exc})"
            raise TokenError(msg) from exc

    async def _discover(self, issuer: str) -> str:
        response = await self.client.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
        response.raise_for_status()
        url = response.json().get("jwks_uri")
        if not isinstance(url, str):
            msg = "its openid-configuration has no jwks_uri"
            raise ValueError(msg)  # noqa: TRY004 - a bad document, reported as such
        return url


def _holds(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


@dataclass(slots=True)
class TokenVerifier:
    """Turns a bearer token into a :class:`Caller`, or says why not."""

    issuers: Sequence[str]
    audiences: Sequence[str]
    cache: JwksCache
    leeway: int = 30
    local_keys: Mapping[str, KeySet] = field(default_factory=dict)  # issuer -> keys, no HTTP

    async def verify(self, token: str) -> Caller:
        """The token's caller; :class:`TokenError` for anything we do not accept."""
        header, claims = _unverified(token)
        issuer, keys = await self._keys(header, claims)
        try:
            verified = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
            jwt.JWTClaimsRegistry(
                leeway=self.leeway,
                iss={"essential": True, "value": issuer},
                aud={"essential": True, "values": list(self.audiences)},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(verified.claims)
        except JoseError as exc:
            raise _reason(exc) from exc
        except ValueError as exc:
            msg = f"the token does not verify: {exc}"
            raise TokenError(msg) from exc
        return caller_from_claims(verified.claims)

    async def _keys(
        self, header: Mapping[str, Any], claims: Mapping[str, Any]
    ) -> tuple[str, KeySet]:
        """The issuer and the keys to verify with, once algorithm and issuer are acceptable."""
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            msg = f"tokens signed with {algorithm!r} are not accepted (use RS256, ES256, ...)"
            raise TokenError(msg)
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or (
            issuer not in self.issuers and issuer not in self.local_keys
        ):
            msg = f"issuer {issuer!r} is not trusted here"
            raise TokenError(msg)
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        keys = self.local_keys.get(issuer) or await self.cache.keys(issuer, kid)
        if kid is not None and not _holds(keys, kid):
            msg = f"issuer {issuer} has no key {kid!r}"
            raise TokenError(msg)
        return issuer, keys


def _reason(exc: JoseError) -> TokenError:
    """What a joserfc refusal means, in words a client can act on."""
    if isinstance(exc, BadSignatureError):
        return TokenError("the token's signature does not verify")
    if isinstance(exc, ExpiredTokenError):
        return TokenError("the token has expired")
    if isinstance(exc, MissingClaimError):
        return TokenError(f"the token lacks a required claim: {exc.description}")
    if isinstance(exc, InvalidClaimError):
        reasons = {
            "aud": "the token is not for this service (aud)",
            "nbf": "the token is not valid yet (nbf in the future)",
            "iat": "the token is not valid yet (iat in the future)",
        }
        return TokenError(reasons.get(exc.claim, f"the token has an invalid claim: {exc.claim}"))
    return TokenError(f"the token does not verify: {exc}")


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims before any check, to choose keys; never trusted as such."""
    try:
        compact = extract_compact(token.encode())
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeDecodeError) as exc:
        raise TokenError("the bearer token is not a JWT") from exc
    if not isinstance(claims, dict):
        raise TokenError("the bearer token's payload is not a JSON object")
    return dict(compact.protected), claims


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    """``sub`` with its WLCG groups and scopes."""
    groups = claims.get("wlcg.groups", claims.get("groups", []))
    if isinstance(groups, str):
        groups = [groups]
    scope = claims.get("scope", "")
    scopes = scope.split() if isinstance(scope, str) else list(scope or [])
    return Caller(
        subject=str(claims["sub"]),
        groups=tuple(str(g) for g in groups or []),
        scopes=tuple(str(s) for s in scopes),
    )
