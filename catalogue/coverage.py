"""Sky coverage as an IVOA MOC 2.0, kept as normalised HEALPix depth-29 ranges.

This is the catalogue's one coverage representation (docs/decisions/0001-coverage.md): the same
``[lo, hi)`` ranges of NESTED depth-29 cells are stored in SQLite and PostgreSQL, indexed as
aligned multi-order cells, and will feed Elasticsearch ``long_range`` fields. Set operations and
the overlap/containment tests are numpy on sorted ranges; mocpy (the only importer of it) builds
MOCs from shapes and serialises them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import astropy.units as u
import numpy as np
from astropy.coordinates import Latitude, Longitude
from cdshealpix.nested import lonlat_to_healpix
from mocpy import MOC

from catalogue.errors import InvalidInputError
from catalogue.region import Circle, Polygon, Region

MAX_ORDER = 29
_CELLS_29 = 12 * 4**MAX_ORDER


class MocFormat(StrEnum):
    """MOC 2.0 serialisations the catalogue reads and writes."""

    ASCII = "ascii"
    JSON = "json"
    FITS = "fits"


def _normalise(ranges: np.ndarray) -> np.ndarray:
    """Sort and merge overlapping or adjacent ranges."""
    if len(ranges) == 0:
        return np.empty((0, 2), dtype=np.uint64)
    ranges = ranges[np.argsort(ranges[:, 0], kind="stable")]
    reach = np.maximum.accumulate(ranges[:, 1])
    starts = np.flatnonzero(np.r_[True, ranges[1:, 0] > reach[:-1]])
    return np.column_stack((ranges[starts, 0], np.maximum.reduceat(ranges[:, 1], starts)))


def _shift(order: int) -> np.uint64:
    return np.uint64(2 * (MAX_ORDER - order))


@dataclass(frozen=True, slots=True, eq=False)
class Coverage:
    """A spatial MOC: normalised depth-29 ranges and the order they were computed at."""

    ranges: np.ndarray  # (N, 2) uint64, sorted, disjoint, half-open
    order: int

    @classmethod
    def empty(cls, order: int = 0) -> Coverage:
        """The empty MOC."""
        return cls(np.empty((0, 2), dtype=np.uint64), order)

    @classmethod
    def from_moc(cls, moc: MOC) -> Coverage:
        """Wrap a mocpy MOC (whose ranges are already sorted, disjoint and merged)."""
        ranges = np.asarray(moc.to_depth29_ranges, dtype=np.uint64).reshape(-1, 2)
        return cls(ranges, int(moc.max_order))

    @classmethod
    def from_region(cls, region: Region, order: int) -> Coverage:
        """The MOC of a cone or polygon at ``order`` (cells that overlap the shape)."""
        check_order(order)
        if isinstance(region, Circle):
            moc = MOC.from_cone(
                lon=Longitude(region.ra * u.deg),
                lat=Latitude(region.dec * u.deg),
                radius=region.radius * u.deg,
                max_depth=order,
            )
            return cls.from_moc(moc)
        # One polygon: mocpy's single-shape call. Its multithreaded batch call stalls for
        # hundreds of ms when the cores are busy, which a query must not pay for.
        vertices = np.array(region.vertices, dtype=float)
        moc = MOC.from_polygon(
            lon=Longitude(vertices[:, 0] % 360.0, unit=u.deg),
            lat=Latitude(vertices[:, 1], unit=u.deg),
            max_depth=order,
        )
        return cls.from_moc(moc)

    @classmethod
    def from_string(cls, text: str) -> Coverage:
        """Read a MOC 2.0 ASCII (``3/1-3 4/``) or JSON (``{"3": [1, 2]}``) string."""
        stripped = text.strip()
        try:
            if stripped.startswith("{"):
                moc = MOC.from_json(dict(_json_loads(stripped)))
            else:
                moc = MOC.from_string(stripped, format="ascii")
        except (OSError, ValueError, TypeError, KeyError) as exc:  # mocpy: OSError on bad ASCII
            msg = f"not a MOC 2.0 ASCII or JSON string: {exc}"
            raise InvalidInputError(msg) from exc
        return cls.from_moc(moc)

    @classmethod
    def from_fits(cls, data: bytes) -> Coverage:
        """Read a MOC 2.0 FITS file's bytes."""
        try:
            moc = MOC.from_fits(io.BytesIO(data))
        except (OSError, ValueError, KeyError) as exc:
            msg = f"not a MOC FITS file: {exc}"
            raise InvalidInputError(msg) from exc
        return cls.from_moc(moc)

    @classmethod
    def from_bytes(cls, data: bytes, order: int) -> Coverage:
        """Read what :meth:`to_bytes` wrote."""
        return cls(np.frombuffer(data, dtype="<u8").reshape(-1, 2).astype(np.uint64), order)

    def to_bytes(self) -> bytes:
        """Little-endian uint64 pairs: the stored form."""
        return self.ranges.astype("<u8").tobytes()

    def to_moc(self) -> MOC:
        """A mocpy MOC of this coverage."""
        return MOC.from_depth29_ranges(max(self.order, 0), self.ranges)

    def to_string(self, fmt: MocFormat = MocFormat.ASCII, max_order: int | None = None) -> str:
        """Serialise as MOC 2.0 ASCII, JSON, or base64 FITS."""
        cov = self if max_order is None or max_order >= self.order else self.degrade(max_order)
        moc = cov.to_moc()
        if fmt is MocFormat.FITS:
            buffer = io.BytesIO()
            moc.serialize(format="fits").writeto(buffer)
            return base64.b64encode(buffer.getvalue()).decode("ascii")
        return str(moc.to_string(format=fmt.value))

    @property
    def is_empty(self) -> bool:
        """True when no cell is covered."""
        return len(self.ranges) == 0

    @property
    def sky_fraction(self) -> float:
        """Fraction of the sphere covered."""
        return float((self.ranges[:, 1] - self.ranges[:, 0]).sum(dtype=np.float64) / _CELLS_29)

    def degrade(self, order: int) -> Coverage:
        """The smallest MOC at ``order`` that contains this one."""
        if order >= self.order:
            return self
        shift = _shift(order)
        one = np.uint64(1) << shift
        lo = (self.ranges[:, 0] >> shift) << shift
        hi = ((self.ranges[:, 1] + one - np.uint64(1)) >> shift) << shift
        return Coverage(_normalise(np.column_stack((lo, hi))), order)

    def union(self, *others: Coverage) -> Coverage:
        """The union of this and other coverages."""
        return union_all([self, *others])

    def overlaps(self, other: Coverage) -> bool:
        """True when the two MOCs share at least one cell."""
        if self.is_empty or other.is_empty:
            return False
        a, b = self.ranges, other.ranges
        i = np.searchsorted(b[:, 1], a[:, 0], side="right")
        ok = i < len(b)
        return bool(np.any(b[i[ok], 0] < a[ok, 1]))

    def contains(self, other: Coverage) -> bool:
        """True when every cell of ``other`` is in this MOC."""
        if other.is_empty:
            return True
        if self.is_empty:
            return False
        a, b = self.ranges, other.ranges
        i = np.searchsorted(a[:, 1], b[:, 0], side="right")
        if np.any(i >= len(a)):
            return False
        return bool(np.all(a[i, 0] <= b[:, 0]) and np.all(b[:, 1] <= a[i, 1]))

    def index_cells(self, max_cells: int) -> np.ndarray:
        """Aligned multi-order cells (as depth-29 ranges) covering this MOC, at most ``max_cells``.

        The MOC is degraded until its cell decomposition fits, so the cells are a superset:
        the index finds candidates, the stored ranges decide.
        """
        cov = self
        while len(cov.ranges) > max_cells and cov.order > 0:
            cov = cov.degrade(cov.order - 1)
        while True:
            cells = _cells(cov.ranges)
            if len(cells) <= max_cells or cov.order == 0:
                return cells
            cov = cov.degrade(cov.order - 1)


def _json_loads(text: str) -> dict[str, list[int]]:
    import json  # noqa: PLC0415 - only MOC JSON input needs it

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(value, dict):
        msg = "a MOC JSON must be an object of order -> cells"
        raise TypeError(msg)
    for order, cells in value.items():  # mocpy drops bad entries silently, or leaves the sphere
        if order not in {str(o) for o in range(MAX_ORDER + 1)}:
            msg = f"{order!r} is not a MOC order (0 to {MAX_ORDER})"
            raise ValueError(msg)
        limit = 12 * 4 ** int(order)
        if not isinstance(cells, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c < limit for c in cells
        ):
            msg = f"order {order}: cells must be a list of integers from 0 to {limit - 1}"
            raise ValueError(msg)
    return value


def _cells(ranges: np.ndarray) -> np.ndarray:
    """Split ranges into aligned HEALPix cells (largest first), as depth-29 ranges."""
    out: list[tuple[int, int]] = []
    for lo_raw, hi_raw in ranges.tolist():
        lo, hi = int(lo_raw), int(hi_raw)
        while lo < hi:
            level = min(MAX_ORDER, ((lo & -lo).bit_length() - 1) // 2) if lo else MAX_ORDER
            while lo + 4**level > hi:
                level -= 1
            out.append((lo, lo + 4**level))
            lo += 4**level
    return np.array(out, dtype=np.uint64).reshape(-1, 2)


def union_all(coverages: Iterable[Coverage]) -> Coverage:
    """The union of many coverages in one merge."""
    items = [c for c in coverages if not c.is_empty]
    order = max((c.order for c in items), default=0)
    if not items:
        return Coverage.empty(order)
    return Coverage(_normalise(np.concatenate([c.ranges for c in items])), order)


def from_polygons(polygons: Sequence[Polygon], order: int) -> list[Coverage]:
    """MOCs of many polygons at once (mocpy's vectorised path, several threads)."""
    check_order(order)
    if not polygons:
        return []
    flat: list[np.ndarray] = []
    for polygon in polygons:
        vertices = np.array(polygon.vertices, dtype=float)
        flat.extend((vertices[:, 0] % 360.0, vertices[:, 1]))
    return [Coverage.from_moc(m) for m in MOC.from_polygons(flat, max_depth=order)]


def check_order(order: int) -> int:
    """A HEALPix order must be in 0..29."""
    if not 0 <= order <= MAX_ORDER:
        msg = f"MOC order {order} must be between 0 and {MAX_ORDER}"
        raise InvalidInputError(msg)
    return order


def point_cells(ra: Sequence[float], dec: Sequence[float]) -> np.ndarray:
    """The depth-29 NESTED HEALPix cell of each (ra, dec) in degrees, as int64.

    A point is inside a MOC exactly when its cell is inside one of the MOC's depth-29
    ranges, so point predicates are range scans on a B-tree of these cells.
    """
    if len(ra) == 0:
        return np.zeros(0, dtype=np.int64)
    cells = lonlat_to_healpix(
        Longitude(np.asarray(ra, dtype=float), u.deg),
        Latitude(np.asarray(dec, dtype=float), u.deg),
        MAX_ORDER,
    )
    return np.asarray(cells, dtype=np.int64)
