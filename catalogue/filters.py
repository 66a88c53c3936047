"""The metadata filter language: Rucio's, plus the ``in``, ``contains`` and ``exists`` it lacks.

A filter is a tree of :class:`Condition` leaves under :class:`AllOf` / :class:`AnyOf`. The string
form is Rucio's ``list_dids`` syntax (``,`` is AND, ``;`` is OR, operators ``= != < <= > >=``,
``*`` wildcards with ``=``/``!=``, compound ``1 < run < 5``, ``created_after``/``created_before``,
values typed automatically) extended with::

    key in (a|b|c)      key contains v      key exists      key !exists      key like pat%

docs/metadata-filters.md gives the whole grammar and the semantics of each operator.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from catalogue.errors import InvalidQueryError
from catalogue.models import MetaValue

Scalar = str | int | float | bool | datetime


class Op(StrEnum):
    """Comparison operators of a condition."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    IN = "in"
    CONTAINS = "contains"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"
    LIKE = "like"
    NOT_LIKE = "not_like"


@dataclass(frozen=True, slots=True)
class Condition:
    """``key op value``; ``value`` is a tuple for IN, ``None`` for EXISTS."""

    key: str
    op: Op
    value: Scalar | tuple[Scalar, ...] | None = None

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise InvalidQueryError(f"filter key {self.key!r} is not a valid metadata key")
        if self.op in (Op.EXISTS, Op.NOT_EXISTS):
            if self.value is not None:
                raise InvalidQueryError(f"{self.key}: '{self.op}' takes no value")
        elif self.op is Op.IN:
            if not isinstance(self.value, tuple) or not self.value:
                raise InvalidQueryError(f"{self.key}: 'in' needs a non-empty list of values")
        elif self.value is None or isinstance(self.value, tuple):
            raise InvalidQueryError(f"{self.key}: '{self.op}' needs a single value")
        if self.op in (Op.LIKE, Op.NOT_LIKE) and not isinstance(self.value, str):
            raise InvalidQueryError(f"{self.key}: 'like' needs a string pattern")


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every item holds."""

    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one item holds."""

    items: tuple[Filter, ...]


Filter = Condition | AllOf | AnyOf

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%fZ",
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%a, %d %b %Y %H:%M:%S UTC",
    "%Y-%m-%d",
)
_COMPARISON = re.compile(
    r"^\s*(?P<key>[^<>=!\s]+)\s*(?P<op><=|>=|==|!=|=|<|>)\s*(?P<value>.*?)\s*$"
)
_COMPOUND = re.compile(
    r"^\s*(?P<lo>[^<>=!]+?)\s*(?P<op1><=|<)\s*(?P<key>[^<>=!\s]+)\s*(?P<op2><=|<)\s*(?P<hi>.+?)\s*$"
)
_WORD = re.compile(
    r"^\s*(?P<key>[^\s<>=!]+)\s+(?P<op>in|contains|exists|!exists|like)\b\s*(?P<value>.*?)\s*$",
    re.IGNORECASE,
)
_SYMBOLS = {
    "=": Op.EQ,
    "==": Op.EQ,
    "!=": Op.NE,
    "<": Op.LT,
    "<=": Op.LTE,
    ">": Op.GT,
    ">=": Op.GTE,
}
_LEGACY = {"created_after": ("created_at", Op.GTE), "created_before": ("created_at", Op.LTE)}


def parse_value(text: str) -> Scalar:
    """Type a filter value as Rucio does: boolean, datetime, integer, float, else string."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":  # noqa: PLR2004
        return stripped[1:-1]
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(stripped, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        return float(stripped)
    except ValueError:
        return stripped


def _word_condition(match: re.Match[str], text: str) -> Condition:
    key, word, rest = match["key"], match["op"].lower(), match["value"]
    if word in ("exists", "!exists"):
        if rest:
            raise InvalidQueryError(f"filter {text!r}: '{word}' takes no value")
        return Condition(key, Op.EXISTS if word == "exists" else Op.NOT_EXISTS)
    if word == "in":
        if not (rest.startswith("(") and rest.endswith(")")):
            raise InvalidQueryError(f"filter {text!r}: write 'key in (a|b|c)'")
        values = tuple(parse_value(v) for v in rest[1:-1].split("|") if v.strip())
        return Condition(key, Op.IN, values)
    if word == "like":
        return Condition(key, Op.LIKE, rest.strip("'\""))
    return Condition(key, Op.CONTAINS, parse_value(rest))


def _comparison(key: str, symbol: str, raw: str, text: str) -> Condition:
    if not raw:
        raise InvalidQueryError(f"filter {text!r} has no value")
    op = _SYMBOLS[symbol]
    value = parse_value(raw)
    if key in _LEGACY:
        key, op = _LEGACY[key]
    if isinstance(value, str) and ("*" in value or "%" in value):
        if op not in (Op.EQ, Op.NE):
            raise InvalidQueryError(f"filter {text!r}: wildcards only work with = and !=")
        return Condition(key, Op.LIKE if op is Op.EQ else Op.NOT_LIKE, value.replace("*", "%"))
    return Condition(key, op, value)


def _parse_term(text: str) -> list[Condition]:
    if match := _WORD.match(text):
        return [_word_condition(match, text)]
    if match := _COMPOUND.match(text):
        flip = {Op.LT: Op.GT, Op.LTE: Op.GTE}
        low = _comparison(match["key"], match["op1"], match["lo"], text)
        high = _comparison(match["key"], match["op2"], match["hi"], text)
        return [Condition(low.key, flip[low.op], low.value), high]
    if match := _COMPARISON.match(text):
        return [_comparison(match["key"], match["op"], match["value"], text)]
    raise InvalidQueryError(f"cannot read filter term {text!r}: expected e.g. 'key=value'")


def parse_rucio_filter(text: str) -> Filter:
    """Read a filter string: ``;``-separated OR groups of ``,``-separated AND terms."""
    groups: list[Filter] = []
    for group_text in text.split(";"):
        terms = [t for t in group_text.split(",") if t.strip()]
        if not terms:
            raise InvalidQueryError(f"filter {text!r} has an empty group")
        conditions = [c for term in terms for c in _parse_term(term)]
        seen: set[tuple[str, Op]] = set()
        for condition in conditions:
            if (condition.key, condition.op) in seen:
                raise InvalidQueryError(
                    f"filter {text!r} repeats '{condition.key}' with '{condition.op}' in one group"
                )
            seen.add((condition.key, condition.op))
        groups.append(AllOf(tuple(conditions)) if len(conditions) > 1 else conditions[0])
    return AnyOf(tuple(groups)) if len(groups) > 1 else groups[0]


def all_of(filters: Sequence[Filter]) -> Filter | None:
    """Combine filters with AND; ``None`` when there are none."""
    if not filters:
        return None
    return filters[0] if len(filters) == 1 else AllOf(tuple(filters))


def value_type(value: MetaValue) -> str:
    """The stored type name of a metadata value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, list):
        return "list"
    return "string"
