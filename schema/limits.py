"""Refusing requests too expensive to answer: nested pagination multiplies."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    IntValueNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)

MAX_NODES = 20_000
"""At most this many DIDs a request may ask for, counting nested pages (first x first ...)."""

_PAGED = {"dids": 50, "files": 50, "children": 50}


class PaginationCost(ValidationRule):
    """Multiply ``first`` along nested connections; refuse when it exceeds :data:`MAX_NODES`."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self._stack: list[int] = [1]

    def _first(self, node: FieldNode) -> int:
        default = _PAGED[node.name.value]
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                variables: dict[str, Any] = getattr(self.context, "variable_values", None) or {}
                return int(variables.get(value.name.value, default))
        return default

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value not in _PAGED:
            return
        cost = self._stack[-1] * max(self._first(node), 1)
        if cost > MAX_NODES:
            self.report_error(
                GraphQLError(
                    f"{node.name.value}: this request could return {cost} DIDs through nested "
                    f"pages; the limit is {MAX_NODES}. Ask for smaller pages.",
                    node,
                    extensions={"code": "QUERY_TOO_EXPENSIVE"},
                )
            )
        self._stack.append(cost)

    def leave_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in _PAGED:
            self._stack.pop()
