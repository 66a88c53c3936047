"""Exact spherical geometry between cones and polygons, to decide region queries on files.

A file's ``s_region`` is the truth of its footprint; its MOC is an outer approximation that
finds candidates. Edges are great-circle arcs (STC-S, DALI). Polygons are assumed smaller
than a hemisphere, as instrument footprints are; point-in-polygon and arc crossings are
computed in the gnomonic projection about the polygon's centre, where great circles are
straight lines, so the planar tests are exact.
"""

from __future__ import annotations

import math

import numpy as np

from catalogue.models import Intersect
from catalogue.region import Circle, Polygon, Region, unit_vectors

_EPS = 1e-12
_ON_ARC = 1e-9  # degrees: a foot point this close to the arc length lies on the arc


def _unit(ra: float, dec: float) -> np.ndarray:
    vector: np.ndarray = unit_vectors(np.array([[ra, dec]], dtype=float))[0]
    return vector


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angular distance in degrees (stable for small angles)."""
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    angle: np.ndarray = np.degrees(np.arctan2(cross, np.sum(a * b, axis=-1)))
    return angle


class _Shape:
    """A polygon's vertices as unit vectors and its gnomonic frame."""

    def __init__(self, polygon: Polygon) -> None:
        self.xyz = unit_vectors(np.array(polygon.vertices, dtype=float))
        centre = self.xyz.sum(axis=0)
        self.centre = centre / np.linalg.norm(centre)
        east = np.cross([0.0, 0.0, 1.0], self.centre)
        if np.linalg.norm(east) < _EPS:
            east = np.array([0.0, 1.0, 0.0])
        self.east = east / np.linalg.norm(east)
        self.north = np.cross(self.centre, self.east)
        self.plane = self.project(self.xyz)

    def project(self, xyz: np.ndarray) -> np.ndarray:
        """Gnomonic coordinates; points on the far hemisphere become NaN."""
        depth = xyz @ self.centre
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(depth > _EPS, (xyz @ self.east) / depth, np.nan)
            v = np.where(depth > _EPS, (xyz @ self.north) / depth, np.nan)
        return np.column_stack((u, v))

    def contains(self, xyz: np.ndarray) -> np.ndarray:
        """Which points lie inside (even-odd rule in the gnomonic plane)."""
        points = self.project(np.atleast_2d(xyz))
        x, y = points[:, 0:1], points[:, 1:2]
        a, b = self.plane, np.roll(self.plane, -1, axis=0)
        crosses = (a[:, 1] > y) != (b[:, 1] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
        inside = np.logical_and(crosses, x < at).sum(axis=1) % 2 == 1
        result: np.ndarray = inside & ~np.isnan(points[:, 0])
        return result

    def edge_distance(self, point: np.ndarray) -> float:
        """Smallest angular distance (deg) from a point to the polygon's boundary."""
        a, b = self.xyz, np.roll(self.xyz, -1, axis=0)
        normal = np.cross(a, b)
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        foot = point - (normal @ point)[:, None] * normal
        foot_norm = np.linalg.norm(foot, axis=1, keepdims=True)
        foot = foot / np.where(foot_norm > _EPS, foot_norm, 1.0)
        arc = _angle(a, b)
        on_arc = np.abs(_angle(a, foot) + _angle(foot, b) - arc) < _ON_ARC
        to_line = np.degrees(np.abs(np.arcsin(np.clip(normal @ point, -1.0, 1.0))))
        to_ends = np.minimum(_angle(a, point[None, :]), _angle(b, point[None, :]))
        return float(np.where(on_arc, np.minimum(to_line, to_ends), to_ends).min())


def _segments_cross(p: np.ndarray, q: np.ndarray) -> bool:
    """Whether any edge of planar polygon p properly crosses any edge of q."""
    a, b = p[:, None, :], np.roll(p, -1, axis=0)[:, None, :]
    c, d = q[None, :, :], np.roll(q, -1, axis=0)[None, :, :]

    def side(o: np.ndarray, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        cross: np.ndarray = (s[..., 0] - o[..., 0]) * (t[..., 1] - o[..., 1]) - (
            s[..., 1] - o[..., 1]
        ) * (t[..., 0] - o[..., 0])
        return cross

    d1, d2 = side(c, d, a), side(c, d, b)
    d3, d4 = side(a, b, c), side(a, b, d)
    return bool(np.any((d1 * d2 < 0) & (d3 * d4 < 0)))


def _circle_circle(query: Circle, item: Circle, intersect: Intersect) -> bool:
    d = float(_angle(_unit(query.ra, query.dec), _unit(item.ra, item.dec)))
    if intersect is Intersect.ENCLOSED:
        return d + item.radius <= query.radius
    if intersect is Intersect.COVERS:
        return d + query.radius <= item.radius
    return d <= query.radius + item.radius


def _circle_polygon(circle: Circle, polygon: Polygon) -> tuple[bool, bool, bool]:
    """(overlap, polygon inside circle, circle inside polygon)."""
    shape, centre = _Shape(polygon), _unit(circle.ra, circle.dec)
    centre_in = bool(shape.contains(centre)[0])
    edge = shape.edge_distance(centre)
    polygon_in = bool(np.all(_angle(shape.xyz, centre[None, :]) <= circle.radius))
    return centre_in or edge <= circle.radius, polygon_in, centre_in and edge >= circle.radius


def _polygon_polygon(query: Polygon, item: Polygon) -> tuple[bool, bool, bool] | None:
    """(overlap, item inside query, query inside item); None when too large to project."""
    q, i = _Shape(query), _Shape(item)
    if np.isnan(q.project(i.xyz)).any() or np.isnan(q.project(q.xyz)).any():
        return None
    crossing = _segments_cross(q.project(q.xyz), q.project(i.xyz))
    item_in = bool(q.contains(i.xyz).all())
    query_in = bool(i.contains(q.xyz).all())
    overlap = (
        crossing or item_in or query_in or bool(q.contains(i.xyz).any() or i.contains(q.xyz).any())
    )
    return overlap, item_in and not crossing, query_in and not crossing


def _vertex_distances(circle: Circle, polygon: Polygon) -> list[float]:
    """Great-circle distances (deg) from the cone's centre to each vertex (haversine)."""
    ra0, dec0 = math.radians(circle.ra), math.radians(circle.dec)
    found = []
    for ra, dec in polygon.vertices:
        r, d = math.radians(ra), math.radians(dec)
        h = (
            math.sin((d - dec0) / 2) ** 2
            + math.cos(d) * math.cos(dec0) * math.sin((r - ra0) / 2) ** 2
        )
        found.append(math.degrees(2 * math.asin(min(1.0, math.sqrt(h)))))
    return found


def _cone_polygon_quick(query: Circle, item: Polygon, intersect: Intersect) -> bool | None:
    """The common cases in plain floats, before the numpy test; None when undecided.

    A polygon is inside a cap (r < 180) exactly when its vertices are: caps are convex. A
    vertex inside the cap is enough for an overlap.
    """
    if intersect is Intersect.COVERS:
        return None
    distances = _vertex_distances(query, item)
    if intersect is Intersect.ENCLOSED:
        return max(distances) <= query.radius
    return True if min(distances) <= query.radius else None


def relate(query: Region, item: Region, intersect: Intersect) -> bool | None:
    """Decide ``item`` (a file's footprint) against a query region; None if undecidable here."""
    if isinstance(query, Circle) and isinstance(item, Circle):
        return _circle_circle(query, item, intersect)
    if isinstance(query, Circle) and isinstance(item, Polygon):
        quick = _cone_polygon_quick(query, item, intersect)
        if quick is not None:
            return quick
    if isinstance(query, Circle) and isinstance(item, Polygon):
        overlap, item_in, query_in = _circle_polygon(query, item)
    elif isinstance(query, Polygon) and isinstance(item, Circle):
        overlap, query_in, item_in = _circle_polygon(item, query)
    else:
        assert isinstance(query, Polygon)  # noqa: S101
        assert isinstance(item, Polygon)  # noqa: S101
        result = _polygon_polygon(query, item)
        if result is None:
            return None
        overlap, item_in, query_in = result
    if intersect is Intersect.ENCLOSED:
        return item_in
    if intersect is Intersect.COVERS:
        return query_in
    return overlap
