"""The PROV export of a DID's lineage over HTTP, shaped like the ProvSAP draft (IVOA WD).

``GET /prov?ID=scope:name&DIRECTION=BACK&DEPTH=5&RESPONSEFORMAT=PROV-JSON``. Parameter names
are case-insensitive (DALI 1.1 §3.1); ``ID`` may also be the ``obs_publisher_did`` form
``ivo://AUTHORITY/lake?scope:name``. ``DIRECTION`` is ProvSAP's ``BACK`` / ``FORTH`` or
``UPSTREAM`` / ``DOWNSTREAM``; ``DEPTH`` a number or ``ALL`` (the cap); ``RESPONSEFORMAT``
``PROV-JSON`` (``application/json``) or ``PROV-N`` (``text/provenance-notation``), else the
``Accept`` header decides. A bad parameter is a 400 and an unknown DID a 404, each with a
plain-text message; ``X-Lineage-Truncated: true`` says a cap left nodes out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bridges.caller import caller_of
from bridges.tap.datalink import did_key
from catalogue.config import Settings
from catalogue.models import DIDKey
from catalogue.prov_export import ProvNames, prov_json, prov_n
from catalogue.provenance import MAX_DEPTH, MAX_NODES, Direction
from catalogue.service import Catalogue

PROV_JSON = "application/json"
PROV_N = "text/provenance-notation"
PROV_PATH = "/prov"
DEFAULT_DEPTH = 5
DEFAULT_LIMIT = 10_000
_DIRECTIONS = {
    "back": Direction.UPSTREAM,
    "backward": Direction.UPSTREAM,
    "upstream": Direction.UPSTREAM,
    "forth": Direction.DOWNSTREAM,
    "forward": Direction.DOWNSTREAM,
    "downstream": Direction.DOWNSTREAM,
}
_FORMATS = {
    "prov-json": PROV_JSON,
    "application/json": PROV_JSON,
    "json": PROV_JSON,
    "prov-n": PROV_N,
    "provn": PROV_N,
    "text/provenance-notation": PROV_N,
}


class ParameterError(Exception):
    """A request parameter the client must correct (its message says how)."""


def _params(request: Request) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        found.setdefault(name.upper(), []).append(value)
    return found


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise ParameterError(f"{name} may be given once")
    return values[0] if values else None


def _number(params: Mapping[str, list[str]], name: str, default: int, top: int, low: int) -> int:
    text = _one(params, name)
    if text is None:
        return default
    if text.upper() == "ALL":
        return top
    if not text.strip().isdigit() or not low <= int(text) <= top:
        raise ParameterError(
            f"{name} must be a whole number from {low} to {top} or ALL, not {text!r}"
        )
    return int(text)


def _direction(params: Mapping[str, list[str]]) -> Direction:
    text = _one(params, "DIRECTION") or "BACK"
    if text.lower() not in _DIRECTIONS:
        raise ParameterError(
            f"DIRECTION must be BACK or FORTH (or UPSTREAM, DOWNSTREAM), not {text!r}"
        )
    return _DIRECTIONS[text.lower()]


def _format(params: Mapping[str, list[str]], accept: str) -> str:
    text = _one(params, "RESPONSEFORMAT") or _one(params, "FORMAT")
    if text is None:
        return PROV_N if PROV_N in accept and PROV_JSON not in accept else PROV_JSON
    if text.lower() not in _FORMATS:
        raise ParameterError(f"RESPONSEFORMAT must be PROV-JSON or PROV-N, not {text!r}")
    return _FORMATS[text.lower()]


def _key(params: Mapping[str, list[str]]) -> DIDKey:
    identifier = _one(params, "ID")
    if not identifier:
        raise ParameterError("ID is required: the DID as scope:name")
    key = did_key(identifier)
    if key is None:
        raise ParameterError(f"ID {identifier!r} is not a DID (scope:name)")
    return key


class ProvenanceExport:
    """The ``/prov`` endpoint over one catalogue."""

    def __init__(self, catalogue: Catalogue, settings: Settings) -> None:
        self._catalogue = catalogue
        self._settings = settings

    def _names(self, request: Request) -> ProvNames:
        base = (self._settings.public_url or str(request.base_url)).rstrip("/")
        return ProvNames(self._settings.ivoa_authority, f"{base}/datalink/links?ID=")

    async def export(self, request: Request) -> Response:
        """The lineage of ``ID`` as PROV-JSON or PROV-N."""
        params = _params(request)
        try:
            key = _key(params)
            direction = _direction(params)
            depth = _number(params, "DEPTH", DEFAULT_DEPTH, MAX_DEPTH, 0)
            limit = _number(params, "MAXREC", DEFAULT_LIMIT, MAX_NODES, 1)
            media = _format(params, request.headers.get("accept", ""))
        except ParameterError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        viewer = self._catalogue.policy.viewer(caller_of(request))
        lineage = await self._catalogue.provenance.lineage(viewer, key, direction, depth, limit)
        if lineage is None:
            return PlainTextResponse(f"DID {key} does not exist", status_code=404)
        names = self._names(request)
        headers = {"X-Lineage-Truncated": "true" if lineage.truncated else "false"}
        if media == PROV_N:
            return Response(prov_n(lineage, names), media_type=PROV_N, headers=headers)
        body = json.dumps(prov_json(lineage, names), indent=1)
        return Response(body, media_type=PROV_JSON, headers=headers)

    def routes(self) -> list[BaseRoute]:
        """The route of the service root (``/prov``, no trailing-slash redirect)."""
        return [Route(PROV_PATH, self.export)]
