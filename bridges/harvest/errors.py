"""What went wrong with a remote, said precisely enough for an operator to act on."""

from __future__ import annotations

import requests
from astropy.io.votable.exceptions import VOTableSpecError
from pyvo.dal.exceptions import DALFormatError, DALQueryError, DALServiceError


class RemoteError(Exception):
    """A remote service failed us: unreachable, slow, an HTTP error, a broken answer.

    The message names the URL and the failure; a run that meets one stops, keeps what it
    committed, and is recorded FAILED with this message.
    """


def _http_status(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if response is None and exc.__cause__ is not None:
        response = getattr(exc.__cause__, "response", None)
    if response is None or getattr(response, "status_code", None) is None:
        return None
    return f"HTTP {response.status_code} {response.reason or ''}".strip()


def describe(url: str, exc: BaseException, timeout: float | None = None) -> RemoteError:  # noqa: PLR0911
    """A :class:`RemoteError` for whatever requests, pyvo or astropy raised while reading."""
    if isinstance(exc, RemoteError):
        return exc
    if isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower():
        limit = f" within {timeout:g} s" if timeout else ""
        return RemoteError(f"{url}: no answer{limit} (timed out)")
    if isinstance(exc, requests.ConnectionError):
        return RemoteError(f"{url}: cannot connect ({exc})")
    status = _http_status(exc)
    if isinstance(exc, DALQueryError):
        where = f" ({status})" if status else ""
        return RemoteError(f"{url}: the service refused the query{where}: {exc}")
    if status is not None:
        return RemoteError(f"{url}: {status}")
    if isinstance(exc, DALFormatError | VOTableSpecError | ValueError):
        return RemoteError(f"{url}: malformed VOTable ({exc})")
    if isinstance(exc, DALServiceError | requests.RequestException):
        return RemoteError(f"{url}: {exc}")
    return RemoteError(f"{url}: {type(exc).__name__}: {exc}")
