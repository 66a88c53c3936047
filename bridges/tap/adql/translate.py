"""ADQL 2.1 to the store's SQL: :func:`translate` makes a :class:`Plan`, the executor runs it.

The query is parsed, checked against the whitelist, its names resolved against the
published tables, its geometry rewritten, and each table reference replaced by that table's
relation (``(SELECT ...) AS "alias"``), so a query reads only what is published. Predicates
on ``s_region`` are left as placeholders that :meth:`Plan.sql` fills with the DID ids the
catalogue found for each :class:`RegionNeed`.

Placeholders are quoted identifiers named after a random token (``"lakecat_<hex>_..."``)
that sqlglot renders like any column; the text put in their place is never the query's:
the relations' SQL (compiled from the store's tables), the HEALPix cell ranges (integers we
computed), the row limit and the DID ids (``int``). The tree is rendered once per plan (twice
at most: with and without a row limit), so :meth:`Plan.sql` is string substitution.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Dialect
from sqlglot import exp

from bridges.tap.adql import geometry as geo
from bridges.tap.adql.check import (
    TAP_TABLE,
    check_nodes,
    is_star,
    qualify_names,
    resolve_tables,
)
from bridges.tap.adql.dialect import AdqlError, parse
from bridges.tap.results import ResultColumn
from bridges.tap.tables import RelationContext, TableSet, TapColumn, TapTable
from catalogue.coverage import Coverage
from catalogue.models import Intersect
from catalogue.query import RegionFilter
from catalogue.region import Circle

#: The MOC order of the regions handed to the catalogue (its default index order).
REGION_ORDER = 10
_SQLGLOT_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres"}
_VALUE_SHAPES = ("POINT", "CIRCLE", "POLYGON", "BOX")
_PREDICATES = ("CONTAINS", "INTERSECTS")
_SCALARS = ("DISTANCE", "COORD1", "COORD2", "COORDSYS", "AREA")


@dataclass(frozen=True, slots=True)
class RegionNeed:
    """An ``s_region`` predicate against a constant shape or MOC, decided by the catalogue."""

    region: RegionFilter


@dataclass(frozen=True, slots=True)
class _NeedSlot:
    token: str
    alias: str
    did_column: str


@dataclass(slots=True)
class Plan:
    """A translated query: its output columns, the regions to decide, and its SQL."""

    columns: list[ResultColumn]
    regions: list[RegionNeed]
    top: int | None
    row_converter: Callable[[Sequence[Any]], tuple[Any, ...]] | None
    _tree: exp.Expr = field(repr=False)
    _dialect: str = field(repr=False)
    _texts: dict[str, str] = field(repr=False)  # placeholder -> relation or cell ranges
    _needs: list[_NeedSlot] = field(repr=False)
    _token: str = field(repr=False)
    _rendered: dict[bool, str] = field(default_factory=dict, repr=False)

    def sql(self, region_ids: Sequence[Sequence[int]], row_limit: int | None) -> str:
        """SQL text for the dialect; ``row_limit`` caps the outer query with ``top``.

        ``region_ids`` holds, for each of :attr:`regions` in order, the ids of the DIDs
        whose footprint satisfies it.
        """
        if len(region_ids) != len(self._needs):
            msg = f"{len(self._needs)} region id lists are needed, got {len(region_ids)}"
            raise ValueError(msg)
        caps = [n for n in (self.top, row_limit) if n is not None]
        text = self._template(limited=bool(caps))
        if caps:
            text = _replace_once(text, f"{self._token}_limit", str(int(min(caps))))
        for slot, ids in zip(self._needs, region_ids, strict=True):
            text = _replace_once(text, slot.token, self._in_ids(slot, ids))
        return text

    def _template(self, *, limited: bool) -> str:
        """The SQL with the row limit and region needs still placeholders, rendered once."""
        text = self._rendered.get(limited)
        if text is not None:
            return text
        original = self._tree.args.get("limit")
        limit = exp.Limit(expression=exp.column(f"{self._token}_limit", quoted=True))
        self._tree.set("limit", limit if limited else None)
        try:
            text = self._tree.sql(dialect=_SQLGLOT_DIALECTS[self._dialect], identify=True)
        finally:
            self._tree.set("limit", original)
        for token, replacement in self._texts.items():
            text = _replace_once(text, token, replacement)
        self._rendered[limited] = text
        return text

    def _in_ids(self, slot: _NeedSlot, ids: Sequence[int]) -> str:
        if not ids:
            return "(1 = 0)"
        column = exp.column(slot.did_column, table=slot.alias, quoted=True)
        rendered = column.sql(dialect=_SQLGLOT_DIALECTS[self._dialect], identify=True)
        return f"({rendered} IN ({', '.join(str(int(i)) for i in ids)}))"


def _replace_once(text: str, token: str, replacement: str) -> str:
    quoted = f'"{token}"'
    if text.count(quoted) != 1:
        msg = f"placeholder {token} appears {text.count(quoted)} times in the generated SQL"
        raise RuntimeError(msg)
    return text.replace(quoted, replacement)


def translate(
    adql: str,
    tables: TableSet,
    dialect: Dialect,
    context: RelationContext,
    *,
    region_order: int = REGION_ORDER,
) -> Plan:
    """Check and translate one ADQL query for ``dialect`` (``sqlite`` or ``postgresql``)."""
    if dialect.name not in _SQLGLOT_DIALECTS:
        raise AdqlError(f"ADQL cannot be translated for the {dialect.name} engine")
    tree = parse(adql)
    check_nodes(tree)
    used = resolve_tables(tree, tables)
    tree = qualify_names(tree, used)
    token = "lakecat_" + secrets.token_hex(8)
    while token in adql:  # pragma: no cover - 64 random bits
        token = "lakecat_" + secrets.token_hex(8)
    rewriter = _Rewriter(tree, used, dialect.name, region_order, token)
    columns, widths = rewriter.outputs()
    rewriter.rewrite()
    _make_portable(tree, dialect.name)
    _wrap_set_members(tree)
    relations = _substitute_relations(tree, used, dialect, context, token)
    return Plan(
        columns=columns,
        regions=rewriter.regions,
        top=_top(tree),
        row_converter=_converter(widths),
        _tree=tree,
        _dialect=dialect.name,
        _texts={**rewriter.fragments, **{k: f"({v})" for k, v in relations.items()}},
        _needs=rewriter.slots,
        _token=token,
    )


# --- names and sources --------------------------------------------------------------------


def _leftmost_select(tree: exp.Expr) -> exp.Select:
    node = tree
    while not isinstance(node, exp.Select):
        node = node.this
    return node


def _sources(select: exp.Select) -> list[exp.Expr]:
    from_ = select.args.get("from_")
    found = [from_.this] if from_ is not None else []
    return found + [j.this for j in select.args.get("joins") or []]


class _Rewriter:
    """The geometry rewrite and the output columns, over a qualified tree."""

    def __init__(
        self, tree: exp.Expr, tables: dict[str, TapTable], dialect: str, order: int, token: str
    ) -> None:
        self.tree = tree
        self.tables = tables
        self.dialect = dialect
        self.order = order
        self.token = token
        self.regions: list[RegionNeed] = []
        self.slots: list[_NeedSlot] = []
        self.fragments: dict[str, str] = {}  # placeholder -> cell range SQL (integers only)
        self.ctes = {cte.alias_or_name: cte.this for cte in tree.find_all(exp.CTE)}

    # sources -------------------------------------------------------------------------

    def source_of(self, column: exp.Column) -> exp.Expr | None:
        """The FROM item a qualified column reads, searching enclosing SELECTs outwards."""
        node = column.parent
        while node is not None:
            if isinstance(node, exp.Select):
                for source in _sources(node):
                    if source.alias_or_name == column.table:
                        return source
            node = node.parent
        return None

    def direct_table(self, column: exp.Column) -> tuple[str, TapTable] | None:
        """(alias, table) when the column comes straight from a published table."""
        source = self.source_of(column)
        if isinstance(source, exp.Table):
            name = source.meta.get(TAP_TABLE)
            if isinstance(name, str):
                return source.alias_or_name, self.tables[name]
        return None

    def origin(self, column: exp.Column, depth: int = 0) -> TapColumn | None:
        """The published column behind a column reference, through subqueries and CTEs."""
        source = self.source_of(column)
        direct = self.direct_table(column)
        if direct is not None:
            return direct[1].column(column.name)
        query: exp.Expr | None = None
        if isinstance(source, exp.Subquery):
            query = source.this
        elif isinstance(source, exp.Table):
            query = self.ctes.get(source.name)
        if query is None or depth > 20:  # noqa: PLR2004 - CTEs cannot nest deeper in practice
            return None
        for item in _leftmost_select(query).expressions:
            inner = item.this if isinstance(item, exp.Alias) else item
            if item.alias_or_name == column.name and isinstance(inner, exp.Column):
                return self.origin(inner, depth + 1)
        return None

    def is_region_column(self, column: exp.Column) -> bool:
        direct = self.direct_table(column)
        return bool(direct and direct[1].sky and column.name == direct[1].sky.region)

    def sky_of(self, point: geo.Point) -> tuple[str, TapTable] | None:
        """(alias, table) when the point is the table's indexed (ra, dec) column pair."""
        ra, dec = point.ra, point.dec
        if not (isinstance(ra, exp.Column) and isinstance(dec, exp.Column)):
            return None
        direct = self.direct_table(ra)
        if direct is None or ra.table != dec.table or direct[1].sky is None:
            return None
        if (ra.name, dec.name) != direct[1].sky.point:
            return None
        return direct

    def read(self, node: exp.Expr) -> geo.Geometry:
        return geo.read_geometry(node, self.is_region_column)

    # output columns ------------------------------------------------------------------

    def outputs(self) -> tuple[list[ResultColumn], list[int]]:
        """Result columns of the outer query; geometry values become several SQL columns."""
        select = _leftmost_select(self.tree)
        names: set[str] = set()
        columns: list[ResultColumn] = []
        widths: list[int] = []
        expressions: list[exp.Expr] = []
        for item in select.expressions:
            position = len(columns) + 1  # in the list with every * expanded, as sqlglot does
            if is_star(item):  # left by qualify_names: one published table, nothing else
                expressions.append(self.star(item, names, columns))
                widths += [1] * (len(columns) - len(widths))
                continue
            inner = item.this if isinstance(item, exp.Alias) else item
            given = item.alias_or_name
            generated = given.startswith("_col_") or not given
            name = _unique(_generated_name(inner, position) if generated else given, names)
            if geo.is_call(inner, *_VALUE_SHAPES):
                if select is not self.tree:
                    raise AdqlError.at("geometry values cannot be selected in UNION etc.", inner)
                parts, xtype, arraysize = geo.value_parts(self.read(inner), inner)
                expressions += [exp.alias_(p.copy(), f"{name}_{k}") for k, p in enumerate(parts)]
                columns.append(ResultColumn(name, "double", arraysize, xtype))
                widths.append(len(parts))
                continue
            expressions.append(item)
            widths.append(1)
            columns.append(self._describe(name, inner))
        select.set("expressions", expressions)
        return columns, widths

    def star(self, item: exp.Expr, names: set[str], columns: list[ResultColumn]) -> exp.Expr:
        """``*`` of the one published table: its columns, and a placeholder for their SQL.

        The same columns, names and SQL as sqlglot's expansion: every published column in
        order, under its lower-case name, read as ``"alias"."name" AS "name"``.
        """
        source = _sources(_leftmost_select(self.tree))[0]
        name = source.meta.get(TAP_TABLE)
        if not isinstance(name, str) or (
            isinstance(item, exp.Column) and item.table != (source.alias_or_name)
        ):  # pragma: no cover - check.star_stays allows nothing else
            raise AdqlError.at("cannot expand * here", item)
        table = self.tables[name]
        published = list(dict.fromkeys(c.name.lower() for c in table.columns))
        for column in published:
            meta = table.column(column)
            assert meta is not None  # noqa: S101 - listed just above
            columns.append(_result_column(_unique(column, names), meta))
        token = f"{self.token}_star_{len(self.fragments)}"
        self.fragments[token] = _star_sql(
            _SQLGLOT_DIALECTS[self.dialect], source.alias_or_name, tuple(published)
        )
        return exp.column(token, quoted=True)

    def _describe(self, name: str, inner: exp.Expr) -> ResultColumn:  # noqa: PLR0911
        if isinstance(inner, exp.Column):
            meta = self.origin(inner)
            if meta is not None:
                return _result_column(name, meta)
        if isinstance(inner, exp.Count):
            return ResultColumn(name, "long")
        if geo.is_call(inner, "DISTANCE"):
            return ResultColumn(name, "double", unit="deg")
        if geo.is_call(inner, "AREA"):
            return ResultColumn(name, "double", unit="deg**2")
        if geo.is_call(inner, "COORD1", "COORD2"):
            return ResultColumn(name, "double", unit="deg")
        if geo.is_call(inner, "COORDSYS"):
            return ResultColumn(name, "char", "*")
        return ResultColumn(name, None)

    # geometry ------------------------------------------------------------------------

    def rewrite(self) -> None:
        """Replace every geometry call by SQL; anything left over is an error."""
        calls = [n for n in self.tree.find_all(exp.Anonymous) if geo.is_call(n, *_SCALARS)]
        for node in sorted(calls, key=lambda n: -n.depth):
            node.replace(self.scalar(node))
        for node in list(self.tree.find_all(exp.Anonymous)):
            if geo.is_call(node, *_PREDICATES):
                self.replace_predicate(node)
        for node in self.tree.find_all(exp.Anonymous):
            if geo.is_call(node, *_VALUE_SHAPES, "MOC", "REGION", "CENTROID"):
                raise AdqlError.at(
                    f"{node.name.upper()} can only be used in CONTAINS, INTERSECTS, DISTANCE, "
                    "COORD1/COORD2, AREA, or as a selected value",
                    node,
                )

    def scalar(self, node: exp.Anonymous) -> exp.Expr:
        name = node.name.upper()
        if name == "COORDSYS":
            return exp.Literal.string("ICRS")
        if name == "AREA":
            if len(node.expressions) != 1:
                raise AdqlError.at("AREA takes one shape", node)
            return geo.number(geo.area(self.read(node.expressions[0]), node))
        if name in {"COORD1", "COORD2"}:
            if len(node.expressions) != 1 or not geo.is_call(node.expressions[0], "POINT"):
                raise AdqlError.at(f"{name} takes a POINT(...)", node)
            point = geo.read_point(node.expressions[0])
            return exp.Paren(this=(point.ra if name == "COORD1" else point.dec).copy())
        args = node.expressions
        if len(args) == 4:  # noqa: PLR2004 - DISTANCE(ra1, dec1, ra2, dec2)
            p, q = geo.Point(args[0], args[1]), geo.Point(args[2], args[3])
        elif len(args) == 2 and all(geo.is_call(a, "POINT") for a in args):  # noqa: PLR2004
            p, q = geo.read_point(args[0]), geo.read_point(args[1])
        else:
            raise AdqlError.at("DISTANCE takes two POINTs, or ra1, dec1, ra2, dec2", node)
        return geo.distance(p, q, self.dialect)

    def replace_predicate(self, node: exp.Anonymous) -> None:
        parent = node.parent
        other = None
        if isinstance(parent, exp.EQ):
            other = parent.expression if parent.this is node else parent.this
        value = other.this if isinstance(other, exp.Literal) and not other.is_string else None
        if parent is None or value not in {"0", "1"}:
            raise AdqlError.at(
                f"{node.name.upper()}(...) must be compared with 1 or 0, e.g. "
                f"{node.name.upper()}(...) = 1",
                node,
            )
        predicate = exp.Paren(this=self.predicate(node))
        parent.replace(predicate if value == "1" else exp.Not(this=predicate))

    def predicate(self, node: exp.Anonymous) -> exp.Expr:
        name = node.name.upper()
        if len(node.expressions) != 2:  # noqa: PLR2004 - two geometries
            raise AdqlError.at(f"{name} takes two geometries", node)
        a, b = (self.read(arg) for arg in node.expressions)
        if isinstance(a, geo.RegionColumn) and geo.is_constant(b):
            intersect = Intersect.OVERLAPS if name == "INTERSECTS" else Intersect.ENCLOSED
            return self.need(a, b, node.expressions[1], intersect)
        if isinstance(b, geo.RegionColumn) and geo.is_constant(a):
            intersect = Intersect.OVERLAPS if name == "INTERSECTS" else Intersect.COVERS
            return self.need(b, a, node.expressions[0], intersect)
        if isinstance(a, geo.Point) and a.constant() is None:
            return self.point_test(a, b, node)
        if name == "INTERSECTS" and isinstance(b, geo.Point) and b.constant() is None:
            return self.point_test(b, a, node)
        raise _unsupported(node)

    def need(
        self, column: geo.RegionColumn, shape: geo.Geometry, node: exp.Expr, how: Intersect
    ) -> exp.Expr:
        region = geo.constant_region(shape, node)
        if isinstance(region, Coverage):
            wanted = RegionFilter(region, how, None)
        else:
            wanted = RegionFilter.from_shape(region, self.order, how)
        direct = self.direct_table(column.column)
        if direct is None or direct[1].sky is None:  # pragma: no cover - read() checked it
            raise _unsupported(node)
        slot = _NeedSlot(f"{self.token}_need_{len(self.slots)}", direct[0], direct[1].sky.did_id)
        self.regions.append(RegionNeed(wanted))
        self.slots.append(slot)
        return exp.column(slot.token, quoted=True)

    def point_test(self, point: geo.Point, shape: geo.Geometry, node: exp.Expr) -> exp.Expr:
        """A column POINT inside a shape: index prefilter (when there is one) and exact test."""
        if isinstance(shape, geo.CircleShape) and not geo.is_constant(shape):
            exact = geo.in_circle(point, shape, self.dialect)
            return exp.and_(exact, geo.declination_band(point, shape))
        if isinstance(shape, geo.RegionColumn | geo.Point) or not geo.is_constant(shape):
            raise _unsupported(node)
        region = geo.constant_region(shape, node)
        sky = self.sky_of(point)
        cell = exp.column(sky[1].sky.point_cell, table=sky[0]) if sky and sky[1].sky else None
        if isinstance(region, Coverage):
            return self._in_moc(cell, region, node)
        if isinstance(region, Circle):
            centre = geo.Point(geo.number(region.ra), geo.number(region.dec))
            exact = geo.in_circle(
                point, geo.CircleShape(centre, geo.number(region.radius)), self.dialect
            )
        else:
            exact = geo.in_polygon(point, region, node)
        if cell is None:
            return exact
        return exp.And(this=self.cell_ranges(cell, geo.probe_coverage(region)), expression=exact)

    def cell_ranges(self, cell: exp.Column, coverage: Coverage) -> exp.Expr:
        """A placeholder for the cell range test, rendered as text (integers) by the Plan."""
        token = f"{self.token}_cells_{len(self.fragments)}"
        rendered = cell.sql(dialect=_SQLGLOT_DIALECTS[self.dialect], identify=True)
        self.fragments[token] = geo.cell_ranges_sql(rendered, coverage)
        return exp.column(token, quoted=True)

    def _in_moc(self, cell: exp.Column | None, coverage: Coverage, node: exp.Expr) -> exp.Expr:
        if cell is None:
            raise AdqlError.at(
                "CONTAINS(POINT(...), MOC(...)) needs the point columns of a table's sky index "
                "(s_ra, s_dec of ivoa.obscore)",
                node,
            )
        if len(coverage.ranges) > geo.MAX_MOC_RANGES:
            raise AdqlError.at(
                f"the MOC has {len(coverage.ranges)} ranges; at most {geo.MAX_MOC_RANGES} can be "
                "tested: give it at a lower order",
                node,
            )
        exact = self.cell_ranges(cell, coverage)
        probe = geo.probe_ranges(coverage)
        if len(probe.ranges) == len(coverage.ranges):
            return exact
        return exp.And(this=self.cell_ranges(cell, probe), expression=exact)


def _result_column(name: str, meta: TapColumn) -> ResultColumn:
    return ResultColumn(
        name,
        meta.datatype,
        meta.arraysize,
        meta.xtype,
        meta.unit,
        meta.ucd,
        meta.utype,
        meta.description,
    )


@functools.lru_cache(maxsize=256)
def _star_sql(dialect: str, alias: str, names: tuple[str, ...]) -> str:
    """``"alias"."a" AS "a", ...`` as sqlglot renders it (identifiers quoted by sqlglot)."""
    items = [exp.alias_(exp.column(n, table=alias, quoted=True), n, quoted=True) for n in names]
    return ", ".join(item.sql(dialect=dialect, identify=True) for item in items)


def _unsupported(node: exp.Expr) -> AdqlError:
    return AdqlError.at(
        f"{node.sql(dialect='postgres')} is not supported; supported are "
        "CONTAINS(POINT(ra, dec), <constant CIRCLE, POLYGON, BOX or MOC>), "
        "CONTAINS(POINT(ra, dec), CIRCLE(<columns>)) for cross-matches, and "
        "CONTAINS/INTERSECTS between s_region and a constant shape",
        node,
    )


_ADQL_NAMES: dict[type[exp.Expr], str] = {
    exp.Count: "count",
    exp.Ceil: "ceiling",
    exp.Trunc: "truncate",
    exp.Ln: "log",
    exp.Log: "log10",
    exp.Pow: "power",
    exp.Mod: "mod",
}


def _generated_name(inner: exp.Expr, position: int) -> str:
    if type(inner) in _ADQL_NAMES:
        return _ADQL_NAMES[type(inner)]
    if isinstance(inner, exp.Anonymous):
        return inner.name.lower()
    if isinstance(inner, exp.Func) and not isinstance(inner, exp.Binary | exp.Connector):
        return inner.sql_name().lower()
    return f"col{position}"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate.lower())
    return candidate


# --- SQL for each engine --------------------------------------------------------------------


def _make_portable(tree: exp.Expr, dialect: str) -> None:
    """Rewrite the ADQL functions whose SQL differs between SQLite and PostgreSQL."""
    for node in list(tree.walk()):
        replacement = _portable(node, dialect)
        if replacement is not None:
            node.replace(replacement)


def _portable(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if isinstance(node, exp.Trunc) and node.args.get("decimals") is not None:
        scale = geo.call("POWER", geo.number(10), node.args["decimals"].copy())
        product = exp.Mul(this=exp.Paren(this=node.this.copy()), expression=scale)
        truncated = geo.call("TRUNC", product)
        return exp.Paren(this=exp.Div(this=truncated, expression=scale.copy(), typed=True))
    if (
        isinstance(node, exp.Round)
        and node.args.get("decimals") is not None
        and dialect != "sqlite"
    ):
        numeric = exp.cast(node.this.copy(), exp.DType.DECIMAL)
        rounded = geo.call("ROUND", numeric, node.args["decimals"].copy())
        return exp.cast(rounded, exp.DType.DOUBLE)
    if isinstance(node, exp.Log) and node.args.get("expression") is not None:
        return geo.call("LOG10", node.args["expression"].copy())
    if isinstance(node, exp.Cot):
        tangent = geo.call("TAN", node.this.copy())
        return exp.Paren(
            this=exp.Div(this=exp.Literal.number("1.0"), expression=tangent, typed=True)
        )
    if isinstance(node, exp.Rand) and dialect == "sqlite":
        scaled = exp.Div(
            this=geo.call("RANDOM"),
            expression=exp.Literal.number("18446744073709551616.0"),
            typed=True,
        )
        return exp.Paren(this=exp.Add(this=scaled, expression=exp.Literal.number("0.5")))
    return None


def _wrap_set_members(tree: exp.Expr) -> None:
    """Members of UNION etc. with their own TOP or ORDER BY become ``SELECT * FROM (...)``."""
    count = 0
    for node in list(tree.find_all(exp.SetOperation)):
        for side in ("this", "expression"):
            member = node.args.get(side)
            if isinstance(member, exp.Subquery) and not member.alias:
                member = member.this
            elif not (
                isinstance(member, exp.Select)
                and any(member.args.get(k) for k in ("limit", "order", "offset"))
            ):
                continue
            count += 1
            wrapped = exp.select("*").from_(
                exp.Subquery(
                    this=member, alias=exp.TableAlias(this=exp.to_identifier(f"_member{count}"))
                )
            )
            node.set(side, wrapped)


def _substitute_relations(
    tree: exp.Expr,
    used: dict[str, TapTable],
    dialect: Dialect,
    context: RelationContext,
    token: str,
) -> dict[str, str]:
    relations: dict[str, str] = {}
    for index, table in enumerate(list(tree.find_all(exp.Table))):
        name = table.meta.get(TAP_TABLE)
        if not isinstance(name, str):
            continue
        placeholder = f"{token}_rel_{index}"
        relations[placeholder] = used[name].relation_sql(dialect, context)
        alias = exp.TableAlias(this=exp.to_identifier(table.alias_or_name))
        table.replace(exp.Table(this=exp.to_identifier(placeholder), alias=alias))
    return relations


def _top(tree: exp.Expr) -> int | None:
    limit = tree.args.get("limit")
    if limit is None:
        return None
    value = geo.fold(limit.expression)
    if value is None or value != int(value) or value < 0:
        raise AdqlError.at("TOP takes a whole number of rows", limit)
    return int(value)


def _converter(widths: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]] | None:
    if all(w == 1 for w in widths):
        return None

    def convert(row: Sequence[Any]) -> tuple[Any, ...]:
        out: list[Any] = []
        index = 0
        for width in widths:
            if width == 1:
                out.append(row[index])
            else:
                values = row[index : index + width]
                out.append(None if any(v is None for v in values) else [float(v) for v in values])
            index += width
        return tuple(out)

    return convert
