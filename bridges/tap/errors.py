"""Errors the TAP service reports to clients as DALI error documents."""

from __future__ import annotations

from catalogue.errors import InvalidQueryError


class TapError(InvalidQueryError):
    """A request the service cannot answer; ``message`` is written for the person asking."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class UsageError(TapError):
    """Bad or missing protocol parameters (LANG, MAXREC, RESPONSEFORMAT, UPLOAD, ...)."""


class QueryTimeoutError(TapError):
    """The query ran past the execution limit and was cancelled."""
