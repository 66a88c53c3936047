"""Sky regions as users and ObsCore ``s_region`` write them: cones, polygons, boxes (STC-S)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from catalogue.errors import InvalidInputError

_FRAMES = {"ICRS", "FK5", "J2000", "UNKNOWNFRAME"}
_REFPOS = {"GEOCENTER", "BARYCENTER", "TOPOCENTER", "HELIOCENTER", "UNKNOWNREFPOS"}
_FLAVOURS = {"SPHERICAL2"}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True, slots=True)
class Circle:
    """A cone: centre and radius in degrees, ICRS."""

    ra: float
    dec: float
    radius: float

    def __post_init__(self) -> None:
        _check_position(self.ra, self.dec)
        if not 0 < self.radius <= 180:  # noqa: PLR2004 - half the sphere
            msg = f"cone radius {self.radius} must be in (0, 180] degrees"
            raise InvalidInputError(msg)

    def to_stcs(self) -> str:
        """STC-S form, as ObsCore 1.1 ``s_region`` writes it."""
        return f"Circle ICRS {_fmt(self.ra)} {_fmt(self.dec)} {_fmt(self.radius)}"

    def centre_and_fov(self) -> tuple[float, float, float]:
        """Centre (deg) and diameter (deg)."""
        return self.ra % 360.0, self.dec, 2 * self.radius


@dataclass(frozen=True, slots=True)
class Polygon:
    """A spherical polygon: vertices in degrees, ICRS, edges along great circles."""

    vertices: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.vertices) < 3:  # noqa: PLR2004 - a polygon needs three
            msg = f"a polygon needs at least 3 vertices, got {len(self.vertices)}"
            raise InvalidInputError(msg)
        for ra, dec in self.vertices:
            _check_position(ra, dec)

    def to_stcs(self) -> str:
        """STC-S form, as ObsCore 1.1 ``s_region`` writes it."""
        coords = " ".join(f"{_fmt(ra % 360.0)} {_fmt(dec)}" for ra, dec in self.vertices)
        return f"Polygon ICRS {coords}"

    def centre_and_fov(self) -> tuple[float, float, float]:
        """Centre (mean of the vertex unit vectors) and the diameter of the enclosing cone.

        Plain floats, not numpy: footprints have a handful of vertices and ingest calls this
        once per file, where numpy's per-call overhead dominated.
        """
        points = [_unit(ra, dec) for ra, dec in self.vertices]
        sx, sy, sz = (sum(p[i] for p in points) for i in range(3))
        norm = math.sqrt(sx * sx + sy * sy + sz * sz)
        if norm == 0:
            msg = "polygon vertices are balanced around the sphere; no centre"
            raise InvalidInputError(msg)
        cx, cy, cz = sx / norm, sy / norm, sz / norm
        ra = math.degrees(math.atan2(cy, cx)) % 360.0
        dec = math.degrees(math.asin(max(-1.0, min(1.0, cz))))
        nearest = min(px * cx + py * cy + pz * cz for px, py, pz in points)
        radius = math.degrees(math.acos(max(-1.0, min(1.0, nearest))))
        return ra, dec, 2 * radius


Region = Circle | Polygon


def _unit(ra: float, dec: float) -> tuple[float, float, float]:
    r, d = math.radians(ra), math.radians(dec)
    return math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)


def unit_vectors(radec: np.ndarray) -> np.ndarray:
    """Unit vectors of an (N, 2) array of (ra, dec) in degrees."""
    ra, dec = np.radians(radec[:, 0]), np.radians(radec[:, 1])
    return np.column_stack((np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)))


def _fmt(value: float) -> str:
    return f"{value:.10g}"


def _check_position(ra: float, dec: float) -> None:
    if not (math.isfinite(ra) and math.isfinite(dec)) or not -90 <= dec <= 90:  # noqa: PLR2004
        msg = f"position ({ra}, {dec}) is not a valid ICRS position in degrees"
        raise InvalidInputError(msg)


def _numbers(tokens: list[str], text: str) -> list[float]:
    if not all(_NUMBER.match(t) for t in tokens):
        msg = f"region {text!r} has a non-numeric coordinate"
        raise InvalidInputError(msg)
    return [float(t) for t in tokens]


def _box(values: list[float]) -> Polygon:
    """STC-S Box: centre, full width and height in degrees, edges of constant ra/dec offsets."""
    ra, dec, width, height = values
    half_w, half_h = width / 2, height / 2
    scale = 1 / max(math.cos(math.radians(dec)), 1e-6)
    return Polygon(
        (
            (ra - half_w * scale, dec - half_h),
            (ra + half_w * scale, dec - half_h),
            (ra + half_w * scale, dec + half_h),
            (ra - half_w * scale, dec + half_h),
        )
    )


def parse_stcs(text: str) -> Region:
    """Read an STC-S ``Circle``, ``Polygon`` or ``Box`` (frame ICRS, FK5 or J2000).

    This is the subset ObsCore ``s_region`` values use in practice (TAP 1.1 §6 notes STC-S
    is still allowed); a DALI polygon (bare numbers) is accepted too.
    """
    tokens = text.replace("(", " ").replace(")", " ").split()
    if not tokens:
        msg = "region is empty"
        raise InvalidInputError(msg)
    if _NUMBER.match(tokens[0]):
        values = _numbers(tokens, text)
        if len(values) % 2:
            msg = f"DALI polygon {text!r} needs an even number of values"
            raise InvalidInputError(msg)
        return Polygon(tuple(zip(values[0::2], values[1::2], strict=True)))
    shape, rest = tokens[0].upper(), tokens[1:]
    while rest and rest[0].upper() in _FRAMES | _REFPOS | _FLAVOURS:
        rest = rest[1:]
    if rest and not _NUMBER.match(rest[0]):
        msg = f"region {text!r}: unsupported frame or keyword {rest[0]!r} (use ICRS)"
        raise InvalidInputError(msg)
    values = _numbers(rest, text)
    if shape == "CIRCLE" and len(values) == 3:  # noqa: PLR2004
        return Circle(*values)
    if shape == "BOX" and len(values) == 4:  # noqa: PLR2004
        return _box(values)
    if shape == "POLYGON" and len(values) >= 6 and len(values) % 2 == 0:  # noqa: PLR2004
        return Polygon(tuple(zip(values[0::2], values[1::2], strict=True)))
    msg = f"region {text!r} is not a Circle, Box or Polygon in STC-S"
    raise InvalidInputError(msg)
