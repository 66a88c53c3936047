"""Filters (catalogue.filters) as SQL: system columns, ObsCore columns, or typed metadata rows."""

from __future__ import annotations

import operator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnClause

from catalogue.errors import InvalidQueryError
from catalogue.filters import AllOf, AnyOf, Condition, Filter, Op, Scalar
from catalogue.models import DIDType
from catalogue.obscore import FIELDS_BY_NAME, SUMMARY_FIELDS, FieldKind
from catalogue.store import tables as t

_SYSTEM = {
    "name": t.did.c.name,
    "scope": t.did.c.scope,
    "bytes": t.did.c.bytes,
    "length": t.did.c.length,
    "guid": t.did.c.guid,
    "adler32": t.did.c.adler32,
    "md5": t.did.c.md5,
    "created_at": t.did.c.created_at,
    "updated_at": t.did.c.updated_at,
}
_TYPE_KEYS = {"type", "did_type"}
_TYPE_ALIASES = {
    "ALL": tuple(DIDType),
    "COLLECTION": (DIDType.DATASET, DIDType.CONTAINER),
    **{d.value: (d,) for d in DIDType},
}


def escape_like(pattern: str) -> str:
    """Keep ``%`` as the wildcard, make ``_`` literal (names often contain it)."""
    return pattern.replace("\\", "\\\\").replace("_", "\\_")


_OPERATORS = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LTE: operator.le,
    Op.GT: operator.gt,
    Op.GTE: operator.ge,
}


def _compare(column: Any, op: Op, value: Any) -> ColumnElement[bool]:
    if op in _OPERATORS:
        return _OPERATORS[op](column, value)  # type: ignore[no-any-return]
    if op is Op.IN:
        return column.in_(list(value))  # type: ignore[no-any-return]
    if op in (Op.LIKE, Op.NOT_LIKE):
        pattern = column.like(escape_like(value), escape="\\")
        return pattern if op is Op.LIKE else not_(pattern)  # type: ignore[no-any-return]
    raise InvalidQueryError(f"operator '{op}' does not apply here")


def _check_kind(key: str, kind: FieldKind, value: Any) -> None:
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        ok = {
            FieldKind.TEXT: isinstance(v, str),
            FieldKind.INTEGER: isinstance(v, int | float) and not isinstance(v, bool),
            FieldKind.FLOAT: isinstance(v, int | float) and not isinstance(v, bool),
            FieldKind.TIMESTAMP: isinstance(v, datetime),
        }[kind]
        if not ok:
            raise InvalidQueryError(f"{key}: {v!r} is not a {kind.value} value")


def _column_condition(key: str, column: Any, kind: FieldKind, c: Condition) -> ColumnElement[bool]:
    if c.op is Op.EXISTS:
        return column.is_not(None)  # type: ignore[no-any-return]
    if c.op is Op.NOT_EXISTS:
        return column.is_(None)  # type: ignore[no-any-return]
    if c.op is Op.CONTAINS:
        raise InvalidQueryError(f"{key} holds a single value; use '=' or 'in', not 'contains'")
    if c.op in (Op.LIKE, Op.NOT_LIKE) and kind is not FieldKind.TEXT:
        raise InvalidQueryError(f"{key}: wildcards work on text values only")
    _check_kind(key, kind, c.value)
    return _compare(column, c.op, c.value)


def _type_condition(c: Condition) -> ColumnElement[bool]:
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    if c.op not in (Op.EQ, Op.IN):
        raise InvalidQueryError("type filters take '=' only (FILE, DATASET, CONTAINER, ALL)")
    types: list[str] = []
    for value in values:
        alias = str(value).upper()
        if alias not in _TYPE_ALIASES:
            raise InvalidQueryError(f"type {value!r} is not one of {sorted(_TYPE_ALIASES)}")
        types.extend(d.value for d in _TYPE_ALIASES[alias])
    return t.did.c.did_type.in_(types)


def _value_column(value: Scalar) -> tuple[ColumnClause[Any], list[str]]:
    """The did_meta column to compare a value in, and the value types that may match."""
    if isinstance(value, bool):
        return t.did_meta.c.v_num, ["boolean"]
    if isinstance(value, int | float):
        return t.did_meta.c.v_num, ["integer", "float"]
    if isinstance(value, datetime):
        return t.did_meta.c.v_time, ["datetime"]
    return t.did_meta.c.v_text, ["string"]


def _meta_exists(key: str, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(
        select(1).where(t.did_meta.c.did_id == t.did.c.id, t.did_meta.c.key == key, *conditions)
    )


def _meta_condition(c: Condition) -> ColumnElement[bool]:  # noqa: PLR0911 - one case per operator
    if c.op is Op.EXISTS:
        return _meta_exists(c.key)
    if c.op is Op.NOT_EXISTS:
        return not_(_meta_exists(c.key))
    if c.op is Op.IN:
        values = c.value if isinstance(c.value, tuple) else ()
        return or_(*(_meta_condition(Condition(c.key, Op.EQ, v)) for v in values))
    value: Scalar = c.value  # type: ignore[assignment]
    column, types = _value_column(value)
    bound = float(value) if isinstance(value, bool) else value
    if c.op is Op.CONTAINS:
        element_types = [f"list:{name}" for name in types]
        return _meta_exists(c.key, t.did_meta.c.value_type.in_(element_types), column == bound)
    if c.op is Op.NE:
        return and_(
            _meta_exists(c.key, t.did_meta.c.value_type.not_like("list%")),
            not_(_meta_exists(c.key, t.did_meta.c.value_type.in_(types), column == bound)),
        )
    if c.op is Op.NOT_LIKE:
        return and_(
            _meta_exists(c.key, t.did_meta.c.value_type.not_like("list%")),
            not_(_meta_exists(c.key, _compare(t.did_meta.c.v_text, Op.LIKE, value))),
        )
    if c.op is Op.LIKE:
        return _meta_exists(
            c.key,
            t.did_meta.c.value_type == "string",
            _compare(t.did_meta.c.v_text, Op.LIKE, value),
        )
    return _meta_exists(c.key, t.did_meta.c.value_type.in_(types), _compare(column, c.op, bound))


def _condition(c: Condition) -> ColumnElement[bool]:
    if c.key in _TYPE_KEYS:
        return _type_condition(c)
    if c.key in _SYSTEM:
        column = _SYSTEM[c.key]
        kind = (
            FieldKind.TIMESTAMP
            if c.key in ("created_at", "updated_at")
            else FieldKind.INTEGER
            if c.key in ("bytes", "length")
            else FieldKind.TEXT
        )
        return _column_condition(c.key, column, kind, c)
    if c.key in FIELDS_BY_NAME:
        field = FIELDS_BY_NAME[c.key]
        own = _column_condition(c.key, t.characterisation.c[c.key], field.kind, c)
        if c.key not in SUMMARY_FIELDS:
            return own
        if c.op is Op.NOT_EXISTS:
            return and_(own, _summary_condition(c, field.kind))
        return or_(own, _summary_condition(c, field.kind))
    return _meta_condition(c)


def _summary_condition(c: Condition, kind: FieldKind) -> ColumnElement[bool]:
    """A collection matches an ObsCore condition when some member does (its summary)."""
    numeric = kind in (FieldKind.INTEGER, FieldKind.FLOAT)
    column = t.collection_value.c.v_num if numeric else t.collection_value.c.v_text
    rows = select(1).where(
        t.collection_value.c.did_id == t.did.c.id, t.collection_value.c.field == c.key
    )
    if c.op is Op.NOT_EXISTS:
        return not_(exists(rows))
    if c.op is Op.EXISTS:
        return exists(rows)
    return exists(rows.where(_compare(column, c.op, c.value)))


def filter_clause(f: Filter) -> ColumnElement[bool]:
    """The SQL condition of a filter over ``did`` joined with ``characterisation``."""
    if isinstance(f, Condition):
        return _condition(f)
    parts = [filter_clause(item) for item in f.items]
    if isinstance(f, AllOf):
        return and_(true(), *parts)
    if isinstance(f, AnyOf):
        return or_(false(), *parts)
    raise InvalidQueryError("unknown filter node")
