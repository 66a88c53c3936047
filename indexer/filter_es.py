"""Filters (catalogue.filters) as Elasticsearch queries, with the store's semantics exactly.

This mirrors ``catalogue/store/filter_sql.py`` clause for clause, including SQL's NULLs: a
comparison with a missing value is false, so ``!=`` and ``not like`` only match DIDs that
have the key. A filter is first translated to SQL (and thrown away) so that a bad filter
raises the very error the relational backend raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from catalogue.errors import InvalidQueryError
from catalogue.filters import AllOf, AnyOf, Condition, Filter, Op, Scalar
from catalogue.models import DIDType
from catalogue.obscore import FIELDS_BY_NAME, SUMMARY_FIELDS, FieldKind
from catalogue.store.filter_sql import filter_clause
from indexer.mapping import ELEMENT_FIELDS, SCALAR_FIELDS, field_key, micros

Query = dict[str, Any]
MATCH_ALL: Query = {"match_all": {}}
MATCH_NONE: Query = {"match_none": {}}

_SYSTEM = {
    "name": FieldKind.TEXT,
    "scope": FieldKind.TEXT,
    "guid": FieldKind.TEXT,
    "adler32": FieldKind.TEXT,
    "md5": FieldKind.TEXT,
    "bytes": FieldKind.INTEGER,
    "length": FieldKind.INTEGER,
    "created_at": FieldKind.TIMESTAMP,
    "updated_at": FieldKind.TIMESTAMP,
}
_TYPE_KEYS = {"type", "did_type"}
_TYPE_ALIASES = {
    "ALL": tuple(DIDType),
    "COLLECTION": (DIDType.DATASET, DIDType.CONTAINER),
    **{d.value: (d,) for d in DIDType},
}
_RANGE = {Op.LT: "lt", Op.LTE: "lte", Op.GT: "gt", Op.GTE: "gte"}
_PYTHON_COMPARE: dict[Op, Callable[[float, float], bool]] = {
    Op.EQ: lambda a, b: a == b,
    Op.LT: lambda a, b: a < b,
    Op.LTE: lambda a, b: a <= b,
    Op.GT: lambda a, b: a > b,
    Op.GTE: lambda a, b: a >= b,
}


def all_of(*parts: Query) -> Query:
    """Every part holds."""
    return {"bool": {"filter": list(parts)}} if parts else MATCH_ALL


def any_of(*parts: Query) -> Query:
    """At least one part holds."""
    return {"bool": {"should": list(parts), "minimum_should_match": 1}} if parts else MATCH_NONE


def negate(query: Query) -> Query:
    """The part does not hold."""
    return {"bool": {"must_not": [query]}}


def exists(field: str) -> Query:
    """The document has a value in ``field``."""
    return {"exists": {"field": field}}


def like_to_wildcard(pattern: str) -> str:
    """A SQL LIKE pattern (``%`` any run, ``_`` literal, as filter_sql escapes it) as a wildcard."""
    special = {"%": "*", "*": "\\*", "?": "\\?", "\\": "\\\\"}
    return "".join(special.get(ch, ch) for ch in pattern)


def _like_matches(text: str, pattern: str) -> bool:
    parts = (re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(".*".join(parts), text, re.DOTALL) is not None


def _indexed(value: Any) -> Any:
    return micros(value) if isinstance(value, datetime) else value


def _compare(field: str, op: Op, value: Any) -> Query:
    """``field op value`` for a field holding one value (a missing value never compares)."""
    if op is Op.EQ:
        return {"term": {field: _indexed(value)}}
    if op is Op.NE:
        return all_of(exists(field), negate({"term": {field: _indexed(value)}}))
    if op in _RANGE:
        return {"range": {field: {_RANGE[op]: _indexed(value)}}}
    if op is Op.IN:
        return {"terms": {field: [_indexed(v) for v in value]}}
    if op is Op.LIKE:
        return {"wildcard": {field: {"value": like_to_wildcard(value)}}}
    if op is Op.NOT_LIKE:
        return all_of(exists(field), negate(_compare(field, Op.LIKE, value)))
    raise InvalidQueryError(f"operator '{op}' does not apply here")


def _column(field: str, c: Condition) -> Query:
    if c.op is Op.EXISTS:
        return exists(field)
    if c.op is Op.NOT_EXISTS:
        return negate(exists(field))
    return _compare(field, c.op, c.value)


def _type_condition(c: Condition) -> Query:
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    types = [d.value for value in values for d in _TYPE_ALIASES[str(value).upper()]]
    return {"terms": {"did_type": types}}


def _summary(c: Condition, kind: FieldKind) -> Query:
    """A collection matches an ObsCore condition when some member does (its summary)."""
    rows = [{"term": {"summary.field": c.key}}]
    if c.op not in (Op.EXISTS, Op.NOT_EXISTS):
        numeric = kind in (FieldKind.INTEGER, FieldKind.FLOAT)
        column = "summary.v_num" if numeric else "summary.v_text"
        if c.op is Op.NE:
            rows.append(negate({"term": {column: c.value}}))
        elif c.op is Op.NOT_LIKE:
            rows.append(negate(_compare(column, Op.LIKE, c.value)))
        else:
            rows.append(_compare(column, c.op, c.value))
    nested = {"nested": {"path": "summary", "query": all_of(*rows)}}
    return negate(nested) if c.op is Op.NOT_EXISTS else nested


def _value_kind(value: Scalar) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    return "string"


def _boolean(field: str, op: Op, value: bool) -> Query:
    """The store compares booleans as 0.0 and 1.0: list the truth values that satisfy it."""
    accepted = [b for b in (False, True) if _PYTHON_COMPARE[op](float(b), float(value))]
    return {"terms": {field: accepted}} if accepted else MATCH_NONE


def _typed(prefixes: dict[str, str], key: str, op: Op, value: Scalar) -> Query:
    kind = _value_kind(value)
    field = f"{prefixes[kind]}.{field_key(key)}"
    if kind == "boolean":
        return _boolean(field, op, bool(value))
    return _compare(field, op, value)


def _meta(c: Condition) -> Query:  # noqa: PLR0911 - one case per operator, as in filter_sql
    key = field_key(c.key)
    if c.op is Op.EXISTS:
        return {"term": {"m_keys": c.key}}
    if c.op is Op.NOT_EXISTS:
        return negate({"term": {"m_keys": c.key}})
    if c.op is Op.IN:
        values = c.value if isinstance(c.value, tuple) else ()
        return any_of(*(_meta(Condition(c.key, Op.EQ, v)) for v in values))
    value: Scalar = c.value  # type: ignore[assignment]
    scalar = {"term": {"m_scalar": c.key}}
    if c.op is Op.CONTAINS:
        return _typed(ELEMENT_FIELDS, c.key, Op.EQ, value)
    if c.op is Op.NE:
        return all_of(scalar, negate(_typed(SCALAR_FIELDS, c.key, Op.EQ, value)))
    if c.op is Op.LIKE:
        return _compare(f"{SCALAR_FIELDS['string']}.{key}", Op.LIKE, value)
    if c.op is Op.NOT_LIKE:
        # the store's text column also holds booleans, as "true" and "false"
        texts = [
            _compare(f"{SCALAR_FIELDS['string']}.{key}", Op.LIKE, value),
            *(
                {"term": {f"{SCALAR_FIELDS['boolean']}.{key}": b}}
                for b in (False, True)
                if _like_matches(str(b).lower(), str(value))
            ),
        ]
        return all_of(scalar, negate(any_of(*texts)))
    return _typed(SCALAR_FIELDS, c.key, c.op, value)


def _condition(c: Condition) -> Query:
    if c.key in _TYPE_KEYS:
        return _type_condition(c)
    if c.key in _SYSTEM:
        return _column(c.key, c)
    if c.key in FIELDS_BY_NAME:
        own = _column(f"c.{c.key}", c)
        if c.key not in SUMMARY_FIELDS:
            return own
        summary = _summary(c, FIELDS_BY_NAME[c.key].kind)
        if c.op is Op.NOT_EXISTS:
            return all_of(own, summary)
        return any_of(own, summary)
    return _meta(c)


def _translate(f: Filter) -> Query:
    if isinstance(f, Condition):
        return _condition(f)
    parts = [_translate(item) for item in f.items]
    if isinstance(f, AllOf):
        return all_of(*parts)
    if isinstance(f, AnyOf):
        return any_of(*parts)
    raise InvalidQueryError("unknown filter node")


def filter_query(f: Filter) -> Query:
    """The Elasticsearch query of a filter; raises what the store raises for a bad one."""
    filter_clause(f)  # the store's checks: kinds, operators, type names
    return _translate(f)
