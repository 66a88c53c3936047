"""Rucio's REST API, the calls a sync needs: userpass or OIDC-token auth, NDJSON streams.

Rucio answers lists as NDJSON (``application/x-json-stream``) and single objects as JSON; some
list endpoints (``/scopes/``, ``/rses/{rse}/attr/``) answer JSON and refuse the NDJSON
``Accept`` with 406, so each call asks for what its endpoint sends. Dates are RFC 1123 with
one-second precision (``Sun, 22 Nov 2026 03:24:32 UTC``). A token is valid for an hour: on a
401 the client authenticates again, once, and repeats the call.

Every failure is a :class:`RucioError` whose message names the URL and what went wrong,
including Rucio's own ``ExceptionClass: ExceptionMessage`` headers when it sent them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import httpx

NDJSON = "application/x-json-stream"
DEFAULT_TIMEOUT = 600.0  # seconds: listing the replicas of thousands of files takes a while
_UNAUTHORIZED = 401
_NOT_FOUND = 404
_ERROR = 400


class RucioError(Exception):
    """Rucio failed us: unreachable, an HTTP error, a broken answer. The message says which."""


class RucioAuthError(RucioError):
    """Rucio refused the credentials or the token."""


class RucioNotFoundError(RucioError):
    """Rucio has no such DID, scope or RSE (HTTP 404)."""


@dataclass(frozen=True, slots=True)
class UserpassAuth:
    """Rucio's userpass identity of an account."""

    account: str
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """A token Rucio accepts as ``X-Rucio-Auth-Token``: an OIDC access token (a JWT).

    Give the token, or a file that holds it — kept fresh by ``oidc-agent`` or
    ``htgettoken``, and read again when Rucio answers 401.
    """

    account: str
    token: str | None = None
    token_file: Path | None = None

    def read(self) -> str:
        """The current token."""
        if self.token_file is not None:
            try:
                return self.token_file.read_text().strip()
            except OSError as exc:
                raise RucioAuthError(
                    f"cannot read the token file {self.token_file}: {exc}"
                ) from exc
        if not self.token:
            raise RucioAuthError("no token given (give a token or a token file)")
        return self.token


Auth = UserpassAuth | TokenAuth


def parse_date(text: str) -> datetime:
    """An RFC 1123 date as Rucio writes it (``… UTC``) or as HTTP does (``… GMT``)."""
    try:
        parsed = parsedate_to_datetime(text.replace(" UTC", " GMT"))
    except (TypeError, ValueError) as exc:
        raise RucioError(f"cannot read the date {text!r}") from exc
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def filter_date(moment: datetime) -> str:
    """A time as Rucio's DID filters and ``updated_after`` read it (UTC, to the second)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _did_path(scope: str, name: str) -> str:
    return f"{quote(scope, safe='')}/{quote(name, safe='')}"


def _failure(response: httpx.Response) -> str:
    where = f"{response.request.method} {response.request.url}"
    detail = f"HTTP {response.status_code} {response.reason_phrase}"
    cls = response.headers.get("ExceptionClass")
    message = response.headers.get("ExceptionMessage")
    if cls or message:
        detail += f" ({cls}: {message})" if cls else f" ({message})"
    return f"{where}: {detail}"


class RucioClient:
    """An async client of one Rucio server as one account."""

    def __init__(
        self,
        url: str,
        auth: Auth,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.account = auth.account
        self._auth = auth
        self._token: str | None = None
        self._http = httpx.AsyncClient(
            base_url=self.url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
            transport=transport,
            limits=httpx.Limits(max_connections=8),
        )
        self._timeout = timeout

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    # -- authentication -------------------------------------------------------------------

    async def authenticate(self) -> str:
        """A fresh token: from userpass, or the OIDC token as given."""
        if isinstance(self._auth, TokenAuth):
            self._token = self._auth.read()
            return self._token
        headers = {
            "X-Rucio-Account": self._auth.account,
            "X-Rucio-Username": self._auth.username,
            "X-Rucio-Password": self._auth.password,
        }
        response = await self._send("GET", "/auth/userpass", headers=headers, authenticated=False)
        if response.status_code >= _ERROR:
            cls = RucioAuthError if response.status_code == _UNAUTHORIZED else RucioError
            raise cls(_failure(response))
        token = str(response.headers.get("X-Rucio-Auth-Token") or "")
        if not token:
            raise RucioAuthError(f"{self.url}/auth/userpass: no X-Rucio-Auth-Token in the answer")
        self._token = token
        return token

    async def _send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        stream: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if authenticated:
            sent["X-Rucio-Auth-Token"] = self._token or await self.authenticate()
        request = self._http.build_request(method, path, headers=sent, **kwargs)
        try:
            return await self._http.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise RucioError(
                f"{method} {request.url}: no answer within {self._timeout:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise RucioError(f"{method} {request.url}: {type(exc).__name__}: {exc}") from exc

    async def _call(
        self, method: str, path: str, *, stream: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """A call with the token; on 401 authenticate once more and repeat it."""
        response = await self._send(method, path, stream=stream, **kwargs)
        if response.status_code == _UNAUTHORIZED:
            await response.aclose()
            await self.authenticate()
            response = await self._send(method, path, stream=stream, **kwargs)
            if response.status_code == _UNAUTHORIZED:
                await response.aread()
                raise RucioAuthError(_failure(response))
        if response.status_code >= _ERROR:
            await response.aread()
            cls = RucioNotFoundError if response.status_code == _NOT_FOUND else RucioError
            raise cls(_failure(response))
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise RucioError(f"{method} {self.url}{path}: not JSON ({exc})") from exc

    async def _lines(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        headers = {"Accept": NDJSON, **kwargs.pop("headers", {})}
        response = await self._call(method, path, stream=True, headers=headers, **kwargs)
        try:
            async for line in response.aiter_lines():
                if line.strip():
                    yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise RucioError(f"{method} {self.url}{path}: a line is not JSON ({exc})") from exc
        except httpx.HTTPError as exc:
            raise RucioError(f"{method} {self.url}{path}: the answer broke off ({exc})") from exc
        finally:
            await response.aclose()

    async def _list(self, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        return [item async for item in self._lines(method, path, **kwargs)]

    # -- the calls ------------------------------------------------------------------------

    async def server_time(self) -> datetime:
        """Rucio's clock, from the Date header of ``/ping``."""
        response = await self._send("GET", "/ping", authenticated=False)
        if response.status_code >= _ERROR:
            raise RucioError(_failure(response))
        date = response.headers.get("Date")
        return parse_date(date) if date else datetime.now(UTC)

    async def whoami(self) -> dict[str, Any]:
        """The account the client acts as (checks the credentials)."""
        return dict(await self._json("GET", "/accounts/whoami"))

    async def scopes(self) -> list[str]:
        """Every scope."""
        return [str(s) for s in await self._json("GET", "/scopes/")]

    async def rses(self) -> list[dict[str, Any]]:
        """Every RSE (without protocols)."""
        return await self._list("GET", "/rses/")

    async def rse(self, name: str) -> dict[str, Any]:
        """An RSE with its protocols."""
        return dict(await self._json("GET", f"/rses/{quote(name, safe='')}"))

    async def rse_attributes(self, name: str) -> dict[str, Any]:
        """An RSE's attributes."""
        return dict(await self._json("GET", f"/rses/{quote(name, safe='')}/attr/"))

    def dids(
        self, scope: str, *, filters: Mapping[str, Any] | None = None, did_type: str = "all"
    ) -> AsyncIterator[dict[str, Any]]:
        """A scope's DIDs (name, type, bytes) matching Rucio filters, e.g. ``created_after``."""
        params = {"type": did_type, "long": "true"}
        if filters:
            params["filters"] = repr([dict(filters)])  # Rucio reads a Python literal
        return self._lines("GET", f"/dids/{quote(scope, safe='')}/dids/search", params=params)

    async def did(self, scope: str, name: str) -> dict[str, Any]:
        """One DID: type, bytes, checksums, open."""
        return dict(await self._json("GET", f"/dids/{_did_path(scope, name)}"))

    async def content(self, scope: str, name: str) -> list[dict[str, Any]]:
        """A collection's direct members, with their sizes and checksums."""
        return await self._list("GET", f"/dids/{_did_path(scope, name)}/dids")

    async def parents(self, scope: str, name: str) -> list[dict[str, Any]]:
        """The collections a DID is directly in."""
        return await self._list("GET", f"/dids/{_did_path(scope, name)}/parents")

    async def replicas(
        self, dids: Sequence[Mapping[str, str]], *, updated_after: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Replicas of files (collections expanded), in every state, with PFNs and checksums.

        ``sort=random``: Rucio's default order by GeoIP distance tries to download a GeoLite2
        database for every file when it has none, which makes the call eight times slower.
        """
        body: dict[str, Any] = {
            "dids": [{"scope": d["scope"], "name": d["name"]} for d in dids],
            "all_states": True,
            "sort": "random",
        }
        if updated_after is not None:
            body["updated_after"] = filter_date(updated_after)
        return await self._list("POST", "/replicas/list", json=body)

    async def bulk_meta(
        self, dids: Sequence[Mapping[str, str]], plugin: str = "ALL"
    ) -> list[dict[str, Any]]:
        """Metadata of many DIDs; ``ALL`` is the DID columns and every plugin's keys."""
        body = {
            "dids": [{"scope": d["scope"], "name": d["name"]} for d in dids],
            "inherit": False,
            "plugin": plugin,
        }
        return await self._list("POST", "/dids/bulkmeta", json=body)
