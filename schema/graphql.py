"""The GraphQL schema: roots, types, limits and error handling put together."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from schema.errors import AuthStatus, ErrorCodes, mask_errors
from schema.limits import PaginationLimit
from schema.mutation import Mutation as CatalogueMutation
from schema.provenance_mutation import ProvenanceMutation
from schema.query import Query
from schema.types import LONG_SCALAR, Container, Dataset, File, Long

MAX_DEPTH = 12
MAX_TOKENS = 5000
MAX_ALIASES = 30

_EXTENSIONS: list[Any] = [  # factories: a fresh extension for each request
    lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
    lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
    PaginationLimit,
    ErrorCodes,
    AuthStatus,
    mask_errors,
]


@strawberry.type(name="Mutation")
class Mutation(CatalogueMutation, ProvenanceMutation):
    """Every mutation: the catalogue's (schema/mutation.py) and recordActivity."""


class LakeSchema(strawberry.Schema):
    """Client errors are answers, not incidents: only unexpected ones are logged."""

    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        """Unexpected errors were logged with their traceback when masked (schema/errors.py)."""
        del errors, execution_context


schema = LakeSchema(
    query=Query,
    mutation=Mutation,
    types=[File, Dataset, Container],
    extensions=_EXTENSIONS,
    config=StrawberryConfig(scalar_map={Long: LONG_SCALAR}),
)
