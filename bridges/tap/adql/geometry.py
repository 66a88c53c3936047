"""ADQL 2.1 §4.2 geometry: reading shapes from the tree, and the SQL that tests them.

Constant arguments are folded by walking the tree with :mod:`math` (never ``eval``).
Point-in-shape tests become SQL arithmetic on unit vectors, so they run unchanged on SQLite
(built with its math functions) and PostgreSQL without pgsphere; the table's depth-29
HEALPix cell column narrows the rows first. Predicates on ``s_region`` are decided by the
catalogue's region search, the same code the GraphQL API uses.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlglot import exp

from bridges.tap.adql.dialect import AdqlError
from catalogue.coverage import MAX_ORDER, Coverage
from catalogue.errors import InvalidInputError
from catalogue.region import Circle, Polygon, Region
from catalogue.store.region_index import _probe_ranges

#: A constant POINT as a region: a cone this small (degrees) around it.
POINT_RADIUS = 1e-7
#: A MOC given to CONTAINS(POINT(...), MOC(...)) may have at most this many ranges.
MAX_MOC_RANGES = 2000
_SQUARE_DEGREES = (180.0 / math.pi) ** 2
_EPSILON = 1e-12
_TWO = exp.Literal.number("2.0")


@dataclass(frozen=True, slots=True)
class Point:
    """POINT(ra, dec): two expressions in degrees."""

    ra: exp.Expr
    dec: exp.Expr

    def constant(self) -> tuple[float, float] | None:
        """(ra, dec) when both fold to numbers."""
        ra, dec = fold(self.ra), fold(self.dec)
        return None if ra is None or dec is None else (ra, dec)


@dataclass(frozen=True, slots=True)
class CircleShape:
    """CIRCLE(centre, radius), radius in degrees."""

    centre: Point
    radius: exp.Expr


@dataclass(frozen=True, slots=True)
class PolygonShape:
    """POLYGON(...) or BOX(...): vertices in order."""

    vertices: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class MocShape:
    """MOC('ascii MOC') or MOC(order, shape): a DaCHS-style extension."""

    coverage: Coverage


@dataclass(frozen=True, slots=True)
class RegionColumn:
    """A column holding regions (``s_region``)."""

    column: exp.Column


Geometry = Point | CircleShape | PolygonShape | MocShape | RegionColumn

_FOLD_1: dict[type[exp.Expr], Callable[[float], float]] = {
    exp.Abs: abs,
    exp.Sqrt: math.sqrt,
    exp.Sin: math.sin,
    exp.Cos: math.cos,
    exp.Tan: math.tan,
    exp.Asin: math.asin,
    exp.Acos: math.acos,
    exp.Atan: math.atan,
    exp.Radians: math.radians,
    exp.Degrees: math.degrees,
    exp.Exp: math.exp,
    exp.Ln: math.log,
    exp.Floor: math.floor,
    exp.Ceil: math.ceil,
}
_FOLD_2: dict[type[exp.Expr], Callable[[float, float], float]] = {
    exp.Add: lambda a, b: a + b,
    exp.Sub: lambda a, b: a - b,
    exp.Mul: lambda a, b: a * b,
    exp.Div: lambda a, b: a / b,
    exp.Pow: math.pow,
    exp.Atan2: math.atan2,
}


def fold(node: exp.Expr | None) -> float | None:
    """The value of a constant numeric expression, or None when it is not one."""
    try:
        value = _fold(node)
    except (ArithmeticError, ValueError):
        return None
    return value if value is not None and math.isfinite(value) else None


def _fold(node: exp.Expr | None) -> float | None:  # noqa: PLR0911 - one case per node type
    if isinstance(node, exp.Literal):
        return None if node.is_string else float(node.this)
    if isinstance(node, exp.Paren):
        return _fold(node.this)
    if isinstance(node, exp.Neg):
        inner = _fold(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Pi):
        return math.pi
    if node is not None and type(node) in _FOLD_1 and not node.expressions:
        inner = _fold(node.this)
        return None if inner is None else float(_FOLD_1[type(node)](inner))
    if node is not None and type(node) in _FOLD_2:
        left, right = _fold(node.this), _fold(node.args.get("expression"))
        return None if left is None or right is None else _FOLD_2[type(node)](left, right)
    return None


# --- reading shapes -----------------------------------------------------------------------


def is_call(node: exp.Expr | None, *names: str) -> bool:
    """True when ``node`` is a call of one of the (geometry) functions ``names``."""
    return isinstance(node, exp.Anonymous) and node.name.upper() in names


def arguments(call: exp.Expr) -> list[exp.Expr]:
    """The arguments of a geometry call, without a leading coordinate system string."""
    args = list(call.expressions)
    if args and isinstance(args[0], exp.Literal) and args[0].is_string:
        frame = args[0].this.strip().upper()
        if frame not in {"", "ICRS"} and not frame.startswith("ICRS "):
            raise AdqlError.at(
                f"coordinate system {args[0].this!r} is not supported: this service "
                "publishes ICRS positions; write 'ICRS' or '' (or leave it out)",
                args[0],
            )
        args = args[1:]
    return args


def read_geometry(node: exp.Expr, region_columns: Callable[[exp.Column], bool]) -> Geometry:
    """The geometry ``node`` denotes; ``region_columns`` says which columns hold regions."""
    if isinstance(node, exp.Column) and region_columns(node):
        return RegionColumn(node)
    if isinstance(node, exp.Paren):
        return read_geometry(node.this, region_columns)
    name = node.name.upper() if isinstance(node, exp.Anonymous) else ""
    readers: dict[str, Callable[[exp.Expr], Geometry]] = {
        "POINT": read_point,
        "CIRCLE": _read_circle,
        "POLYGON": _read_polygon,
        "BOX": _read_box,
        "MOC": _read_moc,
    }
    if name not in readers:
        raise AdqlError.at(
            f"expected a geometry (POINT, CIRCLE, POLYGON, BOX, MOC or s_region), "
            f"found {node.sql()}",
            node,
        )
    return readers[name](node)


def read_point(call: exp.Expr) -> Point:
    """POINT([coordsys,] ra, dec)."""
    args = arguments(call)
    if not is_call(call, "POINT") or len(args) != 2:  # noqa: PLR2004 - ra and dec
        raise AdqlError.at("POINT takes ra and dec (after an optional 'ICRS')", call)
    return Point(args[0], args[1])


def _read_circle(call: exp.Expr) -> CircleShape:
    args = arguments(call)
    if len(args) == 2 and is_call(args[0], "POINT"):  # noqa: PLR2004 - point, radius
        return CircleShape(read_point(args[0]), args[1])
    if len(args) == 3:  # noqa: PLR2004 - ra, dec, radius
        return CircleShape(Point(args[0], args[1]), args[2])
    raise AdqlError.at("CIRCLE takes ra, dec, radius or POINT(...), radius", call)


def _read_polygon(call: exp.Expr) -> PolygonShape:
    args = arguments(call)
    if args and all(is_call(a, "POINT") for a in args):
        vertices = tuple(read_point(a) for a in args)
    elif len(args) % 2 == 0:
        vertices = tuple(Point(args[i], args[i + 1]) for i in range(0, len(args), 2))
    else:
        raise AdqlError.at("POLYGON takes ra, dec pairs or POINTs", call)
    if len(vertices) < 3:  # noqa: PLR2004 - a polygon has three vertices at least
        raise AdqlError.at(f"POLYGON needs at least 3 vertices, got {len(vertices)}", call)
    return PolygonShape(vertices)


def _read_box(call: exp.Expr) -> PolygonShape:
    args = arguments(call)
    if len(args) == 3 and is_call(args[0], "POINT"):  # noqa: PLR2004 - point, width, height
        centre, width, height = read_point(args[0]), args[1], args[2]
    elif len(args) == 4:  # noqa: PLR2004 - ra, dec, width, height
        centre, width, height = Point(args[0], args[1]), args[2], args[3]
    else:
        raise AdqlError.at("BOX takes ra, dec, width, height (degrees)", call)
    half_w = exp.Div(this=exp.Paren(this=width.copy()), expression=_TWO.copy(), typed=True)
    half_h = exp.Div(this=exp.Paren(this=height.copy()), expression=_TWO.copy(), typed=True)

    def corner(ra_sign: type[exp.Add | exp.Sub], dec_sign: type[exp.Add | exp.Sub]) -> Point:
        return Point(
            ra_sign(this=exp.Paren(this=centre.ra.copy()), expression=half_w.copy()),
            dec_sign(this=exp.Paren(this=centre.dec.copy()), expression=half_h.copy()),
        )

    return PolygonShape(
        (
            corner(exp.Sub, exp.Sub),
            corner(exp.Add, exp.Sub),
            corner(exp.Add, exp.Add),
            corner(exp.Sub, exp.Add),
        )
    )


def _read_moc(call: exp.Expr) -> MocShape:
    args = list(call.expressions)
    try:
        if len(args) == 1 and isinstance(args[0], exp.Literal) and args[0].is_string:
            return MocShape(Coverage.from_string(args[0].this))
        order = fold(args[0]) if len(args) == 2 else None  # noqa: PLR2004 - order, shape
        if order is not None and order == int(order) and 0 <= order <= MAX_ORDER:
            shape = constant_region(read_geometry(args[1], lambda _: False), args[1])
            if not isinstance(shape, Coverage):
                return MocShape(Coverage.from_region(shape, int(order)))
    except InvalidInputError as exc:
        raise AdqlError.at(f"bad MOC: {exc}", call) from None
    raise AdqlError.at(
        "MOC takes a MOC 2.0 ASCII string, or an order (0-29) and a constant CIRCLE or POLYGON",
        call,
    )


def is_constant(geometry: Geometry) -> bool:
    """True when the shape's arguments are all numbers (or it is a MOC)."""
    if isinstance(geometry, MocShape):
        return True
    if isinstance(geometry, Point):
        return geometry.constant() is not None
    if isinstance(geometry, CircleShape):
        return geometry.centre.constant() is not None and fold(geometry.radius) is not None
    if isinstance(geometry, PolygonShape):
        return all(v.constant() is not None for v in geometry.vertices)
    return False


def constant_region(geometry: Geometry, node: exp.Expr) -> Region | Coverage:
    """The catalogue region (or MOC) of a constant shape; a point is a tiny cone."""
    try:
        if isinstance(geometry, MocShape):
            return geometry.coverage
        if isinstance(geometry, Point):
            ra_dec = geometry.constant()
            if ra_dec is not None:
                return Circle(ra_dec[0], ra_dec[1], POINT_RADIUS)
        if isinstance(geometry, CircleShape):
            centre, radius = geometry.centre.constant(), fold(geometry.radius)
            if centre is not None and radius is not None:
                return Circle(centre[0], centre[1], radius)
        if isinstance(geometry, PolygonShape):
            points = [v.constant() for v in geometry.vertices]
            if all(p is not None for p in points):
                return Polygon(tuple(p for p in points if p is not None))
    except InvalidInputError as exc:
        raise AdqlError.at(str(exc), node) from None
    raise AdqlError.at(f"this shape must be constant (numbers only): {node.sql()}", node)


def area(geometry: Geometry, node: exp.Expr) -> float:
    """AREA of a constant shape in square degrees (spherical)."""
    if isinstance(geometry, RegionColumn):
        raise AdqlError.at("AREA of s_region is not supported; AREA takes a constant shape", node)
    if isinstance(geometry, Point):
        return 0.0
    region = constant_region(geometry, node)
    if isinstance(region, Coverage):
        return region.sky_fraction * 4 * math.pi * _SQUARE_DEGREES
    if isinstance(region, Circle):
        return 2 * math.pi * (1 - math.cos(math.radians(region.radius))) * _SQUARE_DEGREES
    units = [_unit(ra, dec) for ra, dec in region.vertices]
    total = 0.0
    a = units[0]
    for b, c in itertools.pairwise(units[1:]):
        numerator = abs(_dot(a, _cross(b, c)))
        denominator = 1 + _dot(a, b) + _dot(b, c) + _dot(c, a)
        total += 2 * math.atan2(numerator, denominator)
    return total * _SQUARE_DEGREES


# --- SQL ----------------------------------------------------------------------------------


def number(value: float) -> exp.Expr:
    """A numeric literal; a negative one is written ``(-x)``, so it reads well anywhere."""
    magnitude = abs(float(value))
    text = str(int(magnitude)) if magnitude.is_integer() and magnitude < 1e15 else repr(magnitude)  # noqa: PLR2004
    literal = exp.Literal.number(text)
    return exp.Paren(this=exp.Neg(this=literal)) if value < 0 else literal


def call(name: str, *args: exp.Expr) -> exp.Expr:
    """A SQL function call that exists under this name on both engines."""
    return exp.Anonymous(this=name, expressions=list(args))


def _radians(value: exp.Expr) -> exp.Expr:
    return call("RADIANS", exp.Paren(this=value.copy()))


def _half_sin_squared(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    diff = exp.Sub(this=_radians(b), expression=_radians(a))
    half = exp.Div(this=exp.Paren(this=diff), expression=_TWO.copy(), typed=True)
    return call("POWER", call("SIN", half), number(2))


def distance(p: Point, q: Point, dialect: str) -> exp.Expr:
    """Angular distance in degrees (haversine; the argument clamped to 1 for acos-safety)."""
    term = exp.Add(
        this=_half_sin_squared(p.dec, q.dec),
        expression=exp.Mul(
            this=exp.Mul(
                this=call("COS", _radians(p.dec)), expression=call("COS", _radians(q.dec))
            ),
            expression=_half_sin_squared(p.ra, q.ra),
        ),
    )
    clamp = "LEAST" if dialect == "postgresql" else "MIN"
    root = call("SQRT", call(clamp, number(1.0), term))
    return call("DEGREES", exp.Mul(this=number(2), expression=call("ASIN", root)))


def in_circle(point: Point, circle: CircleShape, dialect: str) -> exp.Expr:
    """Exact test: the point lies within the circle."""
    return exp.LTE(
        this=distance(point, circle.centre, dialect),
        expression=exp.Paren(this=circle.radius.copy()),
    )


def declination_band(point: Point, circle: CircleShape) -> exp.Expr:
    """``dec BETWEEN d - r AND d + r``: lets PostgreSQL use the index on the point's dec."""
    centre, radius = exp.Paren(this=circle.centre.dec.copy()), exp.Paren(this=circle.radius.copy())
    return exp.Between(
        this=point.dec.copy(),
        low=exp.Sub(this=centre, expression=radius),
        high=exp.Add(this=centre.copy(), expression=radius.copy()),
    )


def in_polygon(point: Point, polygon: Polygon, node: exp.Expr) -> exp.Expr:
    """Exact test for a convex polygon: the point is on the inner side of every edge."""
    normals = convex_normals(polygon, node)
    ra, dec = _radians(point.ra), _radians(point.dec)
    unit = (
        exp.Mul(this=call("COS", dec), expression=call("COS", ra)),
        exp.Mul(this=call("COS", dec.copy()), expression=call("SIN", ra.copy())),
        call("SIN", dec.copy()),
    )
    tests: list[exp.Expr] = []
    for normal in normals:
        terms = [
            exp.Mul(this=number(n), expression=u.copy()) for n, u in zip(normal, unit, strict=True)
        ]
        total = exp.Add(this=exp.Add(this=terms[0], expression=terms[1]), expression=terms[2])
        tests.append(exp.GTE(this=total, expression=number(0)))
    return exp.Paren(this=exp.and_(*tests))


def convex_normals(polygon: Polygon, node: exp.Expr) -> list[tuple[float, float, float]]:
    """Edge normals (v_i x v_i+1) pointing inwards; a non-convex polygon is an error."""
    units = [_unit(ra, dec) for ra, dec in polygon.vertices]
    count = len(units)
    for sign in (1.0, -1.0):
        ordered = units if sign > 0 else units[::-1]
        normals = [_cross(ordered[i], ordered[(i + 1) % count]) for i in range(count)]
        if any(_dot(n, n) < _EPSILON**2 for n in normals):
            raise AdqlError.at("POLYGON has repeated or opposite vertices", node)
        if all(
            _dot(normals[i], ordered[j]) >= -_EPSILON
            for i in range(count)
            for j in range(count)
            if j not in {i, (i + 1) % count}
        ):
            return normals
    raise AdqlError.at(
        "only convex polygons are supported for point tests (CONTAINS(POINT(...), POLYGON(...)))",
        node,
    )


def cell_ranges_sql(cell: str, coverage: Coverage) -> str:
    """``((cell >= lo AND cell < hi) OR ...)`` over the coverage's depth-29 ranges, as text.

    ``cell`` is the column as sqlglot rendered it; everything else is integers computed here
    (``int`` of the coverage's ranges), so the text holds nothing a query wrote. Built as
    text because a cone has dozens of ranges and an expression tree of them costs
    milliseconds to build, walk and render.
    """
    if coverage.is_empty:
        return "(1 = 0)"
    tests = " OR ".join(
        f"({cell} >= {int(lo)} AND {cell} < {int(hi)})" for lo, hi in coverage.ranges.tolist()
    )
    return f"({tests})"


def probe_coverage(region: Region) -> Coverage:
    """A coarse MOC of the region (at most the region index's number of ranges)."""
    size = region.radius if isinstance(region, Circle) else region.centre_and_fov()[2] / 2
    order = math.floor(math.log2(58.6 / max(size, 1e-9))) + 3
    return probe_ranges(Coverage.from_region(region, min(max(order, 0), MAX_ORDER)))


def probe_ranges(coverage: Coverage) -> Coverage:
    """The coverage degraded as the catalogue's region index probes it."""
    return _probe_ranges(coverage)


def value_parts(geometry: Geometry, node: exp.Expr) -> tuple[list[exp.Expr], str, str]:
    """A geometry value as SQL scalars (constants folded), with its DALI xtype and arraysize."""
    if isinstance(geometry, Point):
        return _folded([geometry.ra, geometry.dec]), "point", "2"
    if isinstance(geometry, CircleShape):
        parts = [geometry.centre.ra, geometry.centre.dec, geometry.radius]
        return _folded(parts), "circle", "3"
    if isinstance(geometry, PolygonShape):
        parts = [e for v in geometry.vertices for e in (v.ra, v.dec)]
        return _folded(parts), "polygon", "*"
    raise AdqlError.at("only POINT, CIRCLE, POLYGON and BOX values can be selected", node)


def _folded(parts: list[exp.Expr]) -> list[exp.Expr]:
    values = [fold(p) for p in parts]
    return [p if v is None else number(v) for p, v in zip(parts, values, strict=True)]


def _unit(ra: float, dec: float) -> tuple[float, float, float]:
    r, d = math.radians(ra), math.radians(dec)
    return math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)


def _cross(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
