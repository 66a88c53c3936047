"""The whitelist: what of a parsed query may run, and which published table each name means.

sqlglot accepts nearly any SQL (DELETE, ``pg_sleep``, ``FOR UPDATE``...), so nothing passes
here unless it is listed: node types, their arguments, functions, CAST types, tables and
the columns those tables publish. Hidden relation columns (``_did_id``...) are not in the
schema handed to sqlglot, so ADQL cannot name them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from bridges.tap.adql.dialect import GEOMETRY_FUNCTIONS, Adql, AdqlError
from bridges.tap.tables import TableSet, TapTable

#: Where a resolved table reference keeps its TapTable's qualified name (``node.meta``).
TAP_TABLE = "tap_table"

_ALLOWED: dict[type[exp.Expr], frozenset[str] | None] = {
    # structure; the set lists the arguments that may be filled (None: any)
    exp.Select: frozenset(
        {"expressions", "from_", "joins", "where", "group", "having", "order", "limit"}
        | {"offset", "distinct", "with_"}
    ),
    exp.Union: frozenset({"this", "expression", "distinct", "order", "limit", "offset", "with_"}),
    exp.Intersect: frozenset({"this", "expression", "distinct", "order", "offset", "with_"}),
    exp.Except: frozenset({"this", "expression", "distinct", "order", "offset", "with_"}),
    exp.Subquery: frozenset({"this", "alias"}),
    exp.With: frozenset({"expressions"}),
    exp.CTE: frozenset({"this", "alias"}),
    exp.TableAlias: frozenset({"this", "columns"}),
    exp.Table: frozenset({"this", "db", "alias"}),
    exp.Join: frozenset({"this", "on", "using", "side", "kind", "method"}),
    exp.From: None,
    exp.Where: None,
    exp.Group: frozenset({"expressions"}),
    exp.Having: None,
    exp.Order: None,
    exp.Ordered: None,
    exp.Limit: frozenset({"expression"}),
    exp.Offset: frozenset({"expression"}),
    exp.Distinct: frozenset({"expressions"}),
    exp.Column: frozenset({"this", "table", "db"}),
    exp.Identifier: None,
    exp.Star: frozenset(),
    exp.Alias: None,
    exp.Literal: None,
    exp.Null: None,
    exp.Paren: None,
    exp.Exists: frozenset({"this"}),
    # operators
    **dict.fromkeys(
        (exp.Neg, exp.Not, exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE),
        None,
    ),
    **dict.fromkeys((exp.Add, exp.Sub, exp.Mul, exp.Div, exp.DPipe, exp.Mod), None),
    **dict.fromkeys((exp.Like, exp.ILike, exp.Escape, exp.In, exp.Between, exp.Is), None),
    exp.Cast: frozenset({"this", "to", "_type"}),
    exp.DataType: None,
    exp.DataTypeParam: None,
    exp.Coalesce: None,
    exp.Case: None,
    exp.If: None,
    # functions (ADQL 2.1 §2.3)
    **dict.fromkeys((exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max), None),
    **dict.fromkeys((exp.Abs, exp.Ceil, exp.Floor, exp.Degrees, exp.Radians, exp.Exp), None),
    **dict.fromkeys((exp.Ln, exp.Log, exp.Pi, exp.Pow, exp.Round, exp.Sqrt, exp.Trunc), None),
    exp.Rand: frozenset(),
    **dict.fromkeys((exp.Sin, exp.Cos, exp.Tan, exp.Asin, exp.Acos, exp.Atan, exp.Atan2), None),
    **dict.fromkeys((exp.Cot, exp.Sign, exp.Lower, exp.Upper), None),
    exp.Anonymous: None,  # only the geometry functions, checked by name
}

_ARGUMENTS = {
    "locks": "FOR UPDATE / FOR SHARE",
    "into": "INTO",
    "windows": "WINDOW",
    "qualify": "QUALIFY",
    "sample": "TABLESAMPLE",
    "laterals": "LATERAL",
    "catalog": "a three-part name (catalog.schema.table)",
}

_CAST_TYPES = frozenset(
    {
        exp.DType.SMALLINT,
        exp.DType.INT,
        exp.DType.BIGINT,
        exp.DType.FLOAT,
        exp.DType.DOUBLE,
        exp.DType.CHAR,
        exp.DType.VARCHAR,
        exp.DType.TEXT,
        exp.DType.TIMESTAMP,
    }
)

_SQL_TYPES = {
    "char": "TEXT",
    "unicodeChar": "TEXT",
    "short": "SMALLINT",
    "int": "INT",
    "long": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
}


def check_nodes(tree: exp.Expr) -> None:
    """Reject any statement, clause, operator or function that is not on the list."""
    if not isinstance(tree, exp.Query):
        raise AdqlError.at(f"only SELECT queries are allowed, not {_describe(tree)}", tree)
    for node in tree.walk():
        allowed = _ALLOWED.get(type(node), frozenset())
        if type(node) not in _ALLOWED:
            raise AdqlError.at(f"{_describe(node)} is not allowed in ADQL here", node)
        if allowed is not None:
            extra = [k for k, v in node.args.items() if _filled(v) and k not in allowed]
            if extra:
                what = _ARGUMENTS.get(extra[0], extra[0].rstrip("_").upper())
                raise AdqlError.at(f"{_describe(node)} with {what} is not supported", node)
        _check_node(node)


def _check_node(node: exp.Expr) -> None:
    if isinstance(node, exp.Anonymous) and node.name.upper() not in GEOMETRY_FUNCTIONS:
        raise AdqlError.at(f"function {node.name}() is not an ADQL function", node)
    if isinstance(node, exp.Cast):
        to = node.args.get("to")
        if not isinstance(to, exp.DataType) or to.this not in _CAST_TYPES:
            raise AdqlError.at(
                f"CAST to {to.sql() if to else '?'} is not allowed; ADQL 2.1 casts to SMALLINT, "
                "INTEGER, BIGINT, REAL, DOUBLE PRECISION, CHAR(n), VARCHAR(n) or TIMESTAMP",
                node,
            )
    if isinstance(node, exp.Join):
        method = node.args.get("method")
        if method and str(method).upper() != "NATURAL":
            raise AdqlError.at(f"{method} JOIN is not ADQL", node)
    if isinstance(node, exp.Log) and node.args.get("expression") is not None:
        base = node.this
        if not (isinstance(base, exp.Literal) and base.this == "10"):
            raise AdqlError.at("LOG takes one argument (natural logarithm); see LOG10", node)
    if isinstance(node, exp.Literal) and node.is_string and "\x00" in node.this:
        raise AdqlError.at("string literals may not contain NUL characters", node)


def _filled(value: Any) -> bool:
    return value not in (None, False, [], "")


def _describe(node: exp.Expr) -> str:
    if isinstance(node, exp.Func):
        return f"function {node.sql_name()}()"
    names: dict[type[exp.Expr], str] = {
        exp.Dot: "a dotted function or path (schema.function)",
        exp.Placeholder: "a parameter placeholder",
        exp.Lock: "FOR UPDATE / FOR SHARE",
        exp.Into: "SELECT INTO",
        exp.Window: "a window function (OVER ...)",
    }
    return names.get(type(node), node.key.upper())


# --- tables -------------------------------------------------------------------------------


def resolve_tables(tree: exp.Expr, tables: TableSet) -> dict[str, TapTable]:
    """Check every table name against the published set; mark and canonicalise each.

    Returns the TapTables used, by qualified name. CTE names are tables too (their scope
    is not tracked: a CTE name anywhere in the query counts as one).
    """
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    used: dict[str, TapTable] = {}
    for table in list(tree.find_all(exp.Table)):
        if not table.args.get("db") and table.name.lower() in ctes:
            continue
        tap = tables.find(table.text("db") or None, table.name)
        if tap is None:
            written = ".".join(p for p in (table.text("db"), table.name) if p)
            known = ", ".join(sorted(tb.qualified_name for tb in tables))
            raise AdqlError.at(
                f"table {written!r} is not published here; known tables: {known}", table
            )
        table.set("db", exp.to_identifier(tap.schema.lower(), quoted=True))
        table.set("this", exp.to_identifier(tap.name.lower(), quoted=True))
        table.meta[TAP_TABLE] = tap.qualified_name
        used[tap.qualified_name] = tap
    return used


def schema_of(tables: dict[str, TapTable]) -> MappingSchema:
    """The published columns as sqlglot sees them; hidden columns are left out on purpose."""
    if all(tap.cacheable for tap in tables.values()):
        return _cached_schema(tuple(tables.values()))
    return _schema(tables.values())


@functools.lru_cache(maxsize=64)
def _cached_schema(tables: tuple[TapTable, ...]) -> MappingSchema:
    """Published tables do not change while the service runs (uploads are not cached)."""
    return _schema(tables)


def _schema(tables: Iterable[TapTable]) -> MappingSchema:
    mapping: dict[str, object] = {}
    for tap in tables:
        columns = {c.name.lower(): _SQL_TYPES.get(c.datatype, "TEXT") for c in tap.columns}
        by_schema = mapping.setdefault(tap.schema.lower(), {})
        assert isinstance(by_schema, dict)  # noqa: S101 - built just above
        by_schema[tap.name.lower()] = columns
    return MappingSchema(mapping, dialect=Adql)


# --- columns -------------------------------------------------------------------------------


def qualify_names(tree: exp.Expr, tables: dict[str, TapTable]) -> exp.Expr:
    """Check column names with our messages, then let sqlglot qualify and expand ``*``.

    A ``*`` (or ``alias.*``) of a query that reads one published table and nothing else is
    left in place (see :func:`star_stays`): the translator lists that table's columns itself,
    which spares sqlglot expanding, aliasing and validating dozens of columns per query.
    """
    tree = normalize_identifiers(tree, dialect=Adql)
    for scope in traverse_scope(tree):
        if isinstance(scope.expression, exp.Select):
            for column in scope.columns:
                # sqlglot also lists a subquery's unresolved columns as possibly correlated
                if column.find_ancestor(exp.Select) is scope.expression:
                    _check_column(scope, column, tables)
    try:
        return qualify(
            tree,
            dialect=Adql,
            schema=schema_of(tables),
            quote_identifiers=False,
            validate_qualify_columns=True,
            expand_stars=not star_stays(tree),
        )
    except OptimizeError as exc:
        raise AdqlError(f"cannot resolve the names of the query: {exc}") from None


def is_star(node: exp.Expr) -> bool:
    """``*`` or ``alias.*`` as a select list item."""
    return isinstance(node, exp.Star) or (
        isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
    )


def star_stays(tree: exp.Expr) -> bool:
    """True when a ``*`` in the select list may stay unexpanded through ``qualify``.

    Only for one SELECT over one published table: no joins, subqueries, CTEs or set
    operations (whose stars sqlglot must resolve), and no ``ORDER BY 1``/``GROUP BY 1``
    (positions that sqlglot resolves against the expanded list).
    """
    if not isinstance(tree, exp.Select) or tree.args.get("with_") or tree.args.get("joins"):
        return False
    if not any(is_star(item) for item in tree.expressions):
        return False
    from_ = tree.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table) or TAP_TABLE not in from_.this.meta:
        return False
    if any(node is not tree for node in tree.find_all(exp.Query, exp.Subquery)):
        return False
    keys = [*(tree.args.get("group") or exp.Group()).expressions]
    keys += [o.this for o in (tree.args.get("order") or exp.Order()).expressions]
    return not any(isinstance(k, exp.Literal) and not k.is_string for k in keys)


def source_table(scope_source: object, tables: dict[str, TapTable]) -> TapTable | None:
    """The TapTable behind a scope source, if it is a published table."""
    if isinstance(scope_source, exp.Table):
        name = scope_source.meta.get(TAP_TABLE)
        return tables.get(name) if isinstance(name, str) else None
    return None


def _scopes_out(scope: Scope) -> Iterator[Scope]:
    current: Scope | None = scope
    while current is not None:
        yield current
        current = current.parent


def _check_column(scope: Scope, column: exp.Column, tables: dict[str, TapTable]) -> None:
    name = column.name
    if isinstance(column.this, exp.Star):
        name = "*"
    if column.table:
        for outer in _scopes_out(scope):
            if column.table in outer.sources:
                _check_in_source(column, name, column.table, outer.sources[column.table], tables)
                return
        raise AdqlError.at(
            f"{column.table!r} in {column.sql(dialect=Adql)} is not a table or alias of the "
            "FROM clause",
            column,
        )
    if _is_select_alias(scope, name):
        return
    for outer in _scopes_out(scope):
        owners = [a for a, src in outer.sources.items() if _has_column(src, column, tables)]
        if len(owners) > 1 and not _joined_by(outer, name):
            raise AdqlError.at(
                f"column {name!r} is ambiguous: it is in {', '.join(sorted(owners))}; "
                "qualify it with the table or alias",
                column,
            )
        if owners:
            return
    listed = ", ".join(_source_label(a, s, tables) for a, s in scope.sources.items())
    raise AdqlError.at(f"column {name!r} is not in {listed or 'the FROM clause'}", column)


def _check_in_source(
    column: exp.Column, name: str, alias: str, source: object, tables: dict[str, TapTable]
) -> None:
    if name == "*" or _has_column(source, column, tables):
        return
    raise AdqlError.at(f"column {name!r} is not in {_source_label(alias, source, tables)}", column)


def _has_column(source: object, column: exp.Column, tables: dict[str, TapTable]) -> bool:
    tap = source_table(source, tables)
    if tap is not None:
        quoted = isinstance(column.this, exp.Identifier) and column.this.quoted
        return any(
            (c.name == column.name) if quoted else (c.name.lower() == column.name.lower())
            for c in tap.columns
        )
    if isinstance(source, Scope) and isinstance(source.expression, exp.Query):
        names = source.expression.named_selects
        return (
            column.name in names
            or "*" in names
            or any(
                isinstance(s, exp.Column) and isinstance(s.this, exp.Star)
                for s in source.expression.selects
            )
        )
    return True  # a table sqlglot resolved that is not ours: qualify will object


def _is_select_alias(scope: Scope, name: str) -> bool:
    expression = scope.expression
    return isinstance(expression, exp.Select) and any(
        isinstance(s, exp.Alias) and s.alias == name for s in expression.selects
    )


def _joined_by(scope: Scope, name: str) -> bool:
    """True when USING or NATURAL join merges the same-named columns of both sides."""
    expression = scope.expression
    for join in expression.args.get("joins") or []:
        if str(join.args.get("method") or "").upper() == "NATURAL":
            return True
        if any(u.name == name for u in join.args.get("using") or []):
            return True
    return False


def _source_label(alias: str, source: object, tables: dict[str, TapTable]) -> str:
    tap = source_table(source, tables)
    if tap is not None:
        return (
            tap.qualified_name if alias == tap.name.lower() else f"{tap.qualified_name} AS {alias}"
        )
    return f"the subquery or CTE {alias!r}"
