"""Refusing requests too expensive to answer: nested pagination multiplies.

``dids(first: 500) { ... files(first: 500) }`` may return 250,000 DIDs. The cost of a request
is the number of DIDs its connections may return, each page size multiplied by the page sizes
of the connections around it, summed over the document (named fragments and variables
included). Depth, token and alias limits are strawberry's (schema/graphql.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

MAX_NODES = 20_000
"""At most this many DIDs a request may ask for, counting nested pages (first x first ...)."""

# connection field -> default page size; a lineage counts its node limit
_PAGED = {"dids": 50, "files": 50, "children": 50, "lineage": 1000}
_SIZES = frozenset({"first", "limit"})


def _first(node: FieldNode, variables: Mapping[str, Any]) -> int:
    for argument in node.arguments or ():
        if argument.name.value not in _SIZES:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return int(given) if isinstance(given, int) else _PAGED[node.name.value]
    return _PAGED[node.name.value]


def request_cost(
    selections: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    around: int = 1,
    seen: frozenset[str] = frozenset(),
) -> int:
    """How many DIDs the connections under ``selections`` may return."""
    total = 0
    for selection in selections.selections if selections else ():
        if isinstance(selection, FieldNode):
            inner = around
            if selection.name.value in _PAGED:
                inner = around * max(_first(selection, variables), 1)
                total += inner
            total += request_cost(selection.selection_set, fragments, variables, inner, seen)
        elif isinstance(selection, InlineFragmentNode):
            total += request_cost(selection.selection_set, fragments, variables, around, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                total += request_cost(
                    fragments[name].selection_set, fragments, variables, around, seen | {name}
                )
    return total


def _rule(variables: Mapping[str, Any]) -> type[ValidationRule]:
    class PaginationCost(ValidationRule):
        """Refuse an operation whose cost exceeds :data:`MAX_NODES`."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self._fragments = {
                d.name.value: d
                for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            defaults = {  # a variable not given counts with its default, as execution will
                d.variable.name.value: value_from_ast_untyped(d.default_value)
                for d in node.variable_definitions or ()
                if d.default_value is not None
            }
            cost = request_cost(node.selection_set, self._fragments, {**defaults, **variables})
            if cost > MAX_NODES:
                self.report_error(
                    GraphQLError(
                        f"this request could return {cost} DIDs through its (nested) pages; "
                        f"the limit is {MAX_NODES}. Ask for smaller pages.",
                        node,
                        extensions={"code": "QUERY_TOO_EXPENSIVE"},
                    )
                )

    return PaginationCost


class PaginationLimit(SchemaExtension):
    """Adds the cost rule, bound to this request's variables, to validation."""

    def on_operation(self) -> Iterator[None]:
        variables = self.execution_context.variables or {}
        self.execution_context.validation_rules = (
            *self.execution_context.validation_rules,
            _rule(variables),
        )
        yield
