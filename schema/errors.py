"""How errors reach GraphQL clients.

Expected errors of mutations are members of their result unions (``...Error`` types naming
the reason, and the field where there is one). Errors in queries are top-level ``errors[]``
entries with ``extensions.code``; a catalogue error keeps its message, anything else is
masked as "Unexpected error." and logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from catalogue import errors
from catalogue.authorization import AuthenticationRequiredError, PermissionDeniedError

T = TypeVar("T")
_log = logging.getLogger("lakecat.graphql")
UNEXPECTED = "Unexpected error."

_CODES: dict[type[errors.CatalogueError], str] = {
    AuthenticationRequiredError: "UNAUTHENTICATED",
    PermissionDeniedError: "FORBIDDEN",
    errors.InvalidInputError: "BAD_USER_INPUT",
    errors.NotFoundError: "NOT_FOUND",
    errors.ConflictError: "CONFLICT",
    errors.AttachmentError: "CONFLICT",
}


@strawberry.interface(name="UserError", description="An expected refusal of a mutation.")
class UserProblem:
    message: str


@strawberry.type(name="InvalidInputError", description="A value the catalogue does not accept.")
class InvalidInputProblem(UserProblem):
    field: str | None = None


@strawberry.type(name="NotFoundError", description="A DID or RSE that does not exist.")
class NotFoundProblem(UserProblem):
    pass


@strawberry.type(name="ConflictError", description="A write that contradicts what is stored.")
class ConflictProblem(UserProblem):
    pass


@strawberry.type(name="AttachmentError", description="An attachment the DID graph forbids.")
class AttachmentProblem(UserProblem):
    pass


def as_problem(exc: errors.CatalogueError, field: str | None = None) -> UserProblem:
    """The union member for a catalogue error."""
    if isinstance(exc, errors.InvalidInputError):
        return InvalidInputProblem(message=str(exc), field=field)
    if isinstance(exc, errors.NotFoundError):
        return NotFoundProblem(message=str(exc))
    if isinstance(exc, errors.AttachmentError):
        return AttachmentProblem(message=str(exc))
    return ConflictProblem(message=str(exc))


async def guarded(work: Awaitable[T], field: str | None = None) -> T | UserProblem:
    """Await a write; a catalogue error becomes its union member."""
    try:
        return await work
    except PermissionDeniedError:
        raise  # not a refusal of the input: a top-level error, 401 or 403 (AuthStatus)
    except errors.CatalogueError as exc:
        return as_problem(exc, field)


def _unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, errors.CatalogueError | GraphQLError):
        return False
    _log.error("unexpected error in %s", error.path, exc_info=original)
    return True


class ErrorCodes(SchemaExtension):
    """Give every error an ``extensions.code``.

    Catalogue errors by kind, masked ones as INTERNAL_SERVER_ERROR, refusals of the document
    (syntax, validation, limits) as GRAPHQL_VALIDATION_FAILED.
    """

    def on_operation(self) -> Any:
        yield
        result = self.execution_context.result
        for error in (result.errors if result else None) or []:
            if (error.extensions or {}).get("code"):
                continue
            original = error.original_error
            if isinstance(original, errors.CatalogueError):
                code = next(c for k, c in _CODES.items() if isinstance(original, k))
            elif error.message == UNEXPECTED:
                code = "INTERNAL_SERVER_ERROR"
            elif original is None:
                code = "GRAPHQL_VALIDATION_FAILED"
            else:
                continue
            error.extensions = {**(error.extensions or {}), "code": code}


class AuthStatus(SchemaExtension):
    """Answer 401 (with ``WWW-Authenticate``) or 403 when a write was refused for its caller.

    The GraphQL error still says why; the status lets HTTP clients and proxies see it too.
    """

    def on_operation(self) -> Any:
        yield
        result = self.execution_context.result
        context = self.execution_context.context
        response = getattr(context, "response", None)
        found = [e.original_error for e in (result.errors if result else None) or []]
        if response is None:
            return
        if any(isinstance(e, AuthenticationRequiredError) for e in found):
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="lakecat"'
        elif any(isinstance(e, PermissionDeniedError) for e in found):
            response.status_code = 403
            response.headers["WWW-Authenticate"] = (
                'Bearer realm="lakecat", error="insufficient_scope"'
            )


def mask_errors() -> MaskErrors:
    """Mask everything that is not a catalogue or deliberate GraphQL error."""
    return MaskErrors(should_mask_error=_unexpected, error_message=UNEXPECTED)
