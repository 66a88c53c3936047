"""The HTTP session every harvester uses: a time limit on every request, and our name."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import requests

#: Seconds to wait for a remote to answer one request (``--timeout``).
DEFAULT_TIMEOUT = 60.0


class RemoteSession(requests.Session):
    """A requests session (pyvo's transport) whose requests all time out.

    pyvo has no time limit of its own; a harvest must not hang on a silent server.
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = f"lakecat-harvest/{version('lakecat')}"

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Every request with the session's time limit unless one is given."""
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)
