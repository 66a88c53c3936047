"""A local token issuer for development and tests: ``lakecat token`` (docs/security.md).

Without an identity service a newcomer still needs tokens to try writes and embargoes. The
local issuer signs them with an EC P-256 key kept in the data directory (created on first
use, readable by its owner only); the service trusts that key as the issuer
:data:`LOCAL_ISSUER` — both only when ``LAKECAT_AUTH_LOCAL_ISSUER=true``, never by default.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from catalogue.config import Settings
from catalogue.errors import InvalidInputError

LOCAL_ISSUER = "urn:lakecat:local-issuer"
_KEY_FILE = "local-issuer.jwk"


def _require_enabled(settings: Settings) -> None:
    if not settings.auth_local_issuer:
        msg = (
            "the local token issuer is off; it is for development only: "
            "set LAKECAT_AUTH_LOCAL_ISSUER=true to use it"
        )
        raise InvalidInputError(msg)


def _key(settings: Settings) -> ECKey:
    path = Path(settings.data_dir) / _KEY_FILE
    if path.exists():
        return ECKey.import_key(json.loads(path.read_text()))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex[:16]}, private=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(key.as_dict(private=True), out)
    return key


def local_key_set(settings: Settings) -> KeySet:
    """The public half of the local key, for the verifier."""
    _require_enabled(settings)
    public = _key(settings).as_dict(private=False)
    return KeySet.import_key_set({"keys": [public]})


def mint(
    settings: Settings,
    subject: str,
    *,
    groups: Sequence[str] = (),
    scopes: Sequence[str] = (),
    lifetime: int = 3600,
    not_before: int | None = None,
) -> str:
    """A token of the local issuer for ``subject``, in the WLCG profile's shape."""
    _require_enabled(settings)
    key = _key(settings)
    now = int(time.time())
    claims = {
        "iss": LOCAL_ISSUER,
        "sub": subject,
        "aud": settings.auth_audiences[0] if settings.auth_audiences else "lakecat",
        "iat": now,
        "nbf": now if not_before is None else not_before,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        "wlcg.ver": "1.0",
        "wlcg.groups": list(groups),
        "scope": " ".join(scopes),
    }
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims, key)
