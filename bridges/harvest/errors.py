"""What went wrong with a remote, said precisely enough for an operator to act on."""

from __future__ import annotations

import http
import socket
from collections.abc import Iterator
from xml.parsers.expat import ExpatError

import requests
from astropy.io.votable.exceptions import VOTableSpecError
from pyvo.dal.exceptions import DALFormatError, DALQueryError


class RemoteError(Exception):
    """A remote service failed us: unreachable, slow, an HTTP error, a broken answer.

    The message names the URL and the failure; a run that meets one stops, keeps what it
    committed, and is recorded FAILED with this message.
    """


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes (pyvo keeps the underlying one in ``cause``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__


def _status(chain: list[BaseException]) -> str | None:
    for exc in chain:
        response = getattr(exc, "response", None)
        code = getattr(response, "status_code", None) or getattr(exc, "code", None)
        if isinstance(code, int) and code >= 400:  # noqa: PLR2004 - HTTP error codes
            try:
                return f"HTTP {code} {http.HTTPStatus(code).phrase}"
            except ValueError:
                return f"HTTP {code}"
    return None


_MALFORMED = (DALFormatError, VOTableSpecError, ExpatError, ValueError)


def describe(  # noqa: PLR0911 - one answer per kind of failure
    url: str, exc: BaseException, timeout: float | None = None
) -> RemoteError:
    """A :class:`RemoteError` for whatever requests, pyvo or astropy raised while reading."""
    if isinstance(exc, RemoteError):
        return exc
    chain = list(_chain(exc))
    if any(isinstance(e, requests.Timeout | socket.timeout | TimeoutError) for e in chain):
        limit = f" within {timeout:g} s" if timeout else ""
        return RemoteError(f"{url}: no answer{limit} (timed out)")
    if any(isinstance(e, requests.ConnectionError) for e in chain):
        return RemoteError(f"{url}: connection failed or dropped ({chain[-1]})")
    status = _status(chain)
    if isinstance(exc, DALQueryError):
        where = f" ({status})" if status else ""
        return RemoteError(f"{url}: the service refused the query{where}: {exc}")
    if status is not None:
        return RemoteError(f"{url}: {status}")
    if any(
        isinstance(e, DALFormatError | VOTableSpecError | ExpatError | ValueError) for e in chain
    ):
        return RemoteError(f"{url}: malformed VOTable ({chain[-1]})")
    return RemoteError(f"{url}: {type(chain[-1]).__name__}: {chain[-1]}")
