"""Coverage (MOC ranges) and region parsing on their own, checked against mocpy; no database."""

import base64
import math
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Latitude, Longitude
from mocpy import MOC

from catalogue.coverage import MAX_ORDER, Coverage, MocFormat, union_all
from catalogue.errors import InvalidInputError
from catalogue.region import Circle, Polygon, parse_stcs

MOCS = Path(__file__).parent.parent / "data" / "moc"
GALEX = MOCS / "P-GALEXGR6-AIS-FUV.fits"
SMOC = MOCS / "MOC2.0_smoc.ascii.txt"
SPHERE = 12 * 4**MAX_ORDER


def cells_of(ranges) -> set[int]:
    return {c for lo, hi in np.asarray(ranges).tolist() for c in range(lo, hi)}


def is_normalised(ranges: np.ndarray) -> bool:
    """Sorted, each non-empty, and neither overlapping nor touching the next."""
    lo, hi = ranges[:, 0], ranges[:, 1]
    return bool(np.all(lo < hi) and np.all(lo[1:] > hi[:-1]))


def mocpy_cone(ra, dec, radius, order=10) -> MOC:
    return MOC.from_cone(
        lon=Longitude(ra * u.deg), lat=Latitude(dec * u.deg), radius=radius * u.deg, max_depth=order
    )


def random_cones(seed: int, count: int):
    """Pairs of cones near each other, so that overlaps and containment both happen."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        ra = float(rng.uniform(0, 360))
        dec = float(np.degrees(np.arcsin(rng.uniform(-0.98, 0.98))))
        first = (ra, dec, float(rng.uniform(0.05, 2.0)))
        step = float(rng.uniform(0, 2.5))
        second = (ra, float(np.clip(dec + step, -89.9, 89.9)), float(rng.uniform(0.05, 2.0)))
        yield first, second


CONE_PAIRS = list(random_cones(seed=1121, count=50))


def within(inner: MOC, outer: MOC) -> bool:
    """mocpy's answer to "is inner inside outer": their intersection is inner.

    (Not ``inner.difference(outer).empty()``: mocpy 0.21.0 answers an empty difference for a
    one-range MOC minus a disjoint one, e.g. ``5/10`` minus ``5/20``.)
    """
    common = np.asarray(inner.intersection(outer).to_depth29_ranges)
    return np.array_equal(common, np.asarray(inner.to_depth29_ranges))


# --- normalising, union, degrade -------------------------------------------------------------


def raw_coverage(rng, count=40, top=2000) -> Coverage:
    lo = rng.integers(0, top, count)
    hi = lo + rng.integers(1, 60, count)
    return Coverage(np.column_stack((lo, hi)).astype(np.uint64), MAX_ORDER)


@pytest.mark.parametrize("seed", range(5))
def test_union_is_normalised_and_holds_exactly_the_cells_of_its_parts(seed):
    rng = np.random.default_rng(seed)
    a, b = raw_coverage(rng), raw_coverage(rng)
    union = a.union(b)
    assert is_normalised(union.ranges)
    assert cells_of(union.ranges) == cells_of(a.ranges) | cells_of(b.ranges)
    assert union.ranges.dtype == np.uint64


def test_adjacent_ranges_merge():
    a = Coverage(np.array([[10, 20]], dtype=np.uint64), MAX_ORDER)
    b = Coverage(np.array([[20, 30], [0, 5]], dtype=np.uint64), MAX_ORDER)
    assert a.union(b).ranges.tolist() == [[0, 5], [10, 30]]


def test_union_with_empty_is_itself_and_takes_the_highest_order():
    a = Coverage.from_region(Circle(10, 20, 1), 6)
    b = Coverage.from_region(Circle(100, 20, 1), 9)
    assert np.array_equal(a.union(Coverage.empty()).ranges, a.ranges)
    assert a.union(b).order == 9
    assert union_all([]).is_empty


@pytest.mark.parametrize(("first", "second"), CONE_PAIRS[:10])
def test_union_equals_mocpys_union(first, second):
    a, b = mocpy_cone(*first), mocpy_cone(*second)
    union = Coverage.from_moc(a).union(Coverage.from_moc(b))
    assert np.array_equal(union.ranges, np.asarray(a.union(b).to_depth29_ranges, dtype=np.uint64))


@pytest.mark.parametrize("order", [0, 3, 7, 9])
def test_degrade_is_the_smallest_moc_at_that_order_containing_the_original(order):
    moc = mocpy_cone(33.3, -44.4, 1.5, order=11)
    cov = Coverage.from_moc(moc)
    degraded = cov.degrade(order)
    size = 4 ** (MAX_ORDER - order)
    assert degraded.order == order
    assert is_normalised(degraded.ranges)
    assert np.all(degraded.ranges % np.uint64(size) == 0)
    assert degraded.contains(cov)
    expected = np.asarray(moc.degrade_to_order(order).to_depth29_ranges, dtype=np.uint64)
    assert np.array_equal(degraded.ranges, expected)


def test_degrade_to_a_finer_order_changes_nothing():
    cov = Coverage.from_region(Circle(1, 2, 0.5), 8)
    assert cov.degrade(8) is cov
    assert cov.degrade(12) is cov


def test_sky_fraction_of_the_whole_sky_is_one_and_of_a_cone_about_its_area():
    assert Coverage.from_region(Circle(0, 0, 180), 3).sky_fraction == 1.0
    cone = Coverage.from_region(Circle(80, 10, 5), 12)
    area = 2 * math.pi * (1 - math.cos(math.radians(5))) / (4 * math.pi)
    assert cone.sky_fraction == pytest.approx(area, rel=0.01)
    assert cone.sky_fraction >= area


def test_the_moc_of_a_region_is_at_the_order_asked():
    assert Coverage.from_region(Circle(1, 2, 0.5), 8).order == 8
    with pytest.raises(InvalidInputError, match="MOC order 30 must be between 0 and 29"):
        Coverage.from_region(Circle(1, 2, 0.5), 30)


# --- overlaps and contains against mocpy -----------------------------------------------------


@pytest.mark.parametrize(("first", "second"), CONE_PAIRS)
def test_overlaps_and_contains_agree_with_mocpy(first, second):
    a_moc, b_moc = mocpy_cone(*first), mocpy_cone(*second)
    a, b = Coverage.from_moc(a_moc), Coverage.from_moc(b_moc)
    assert a.overlaps(b) == (not a_moc.intersection(b_moc).empty())
    assert b.overlaps(a) == a.overlaps(b)
    assert a.contains(b) == within(b_moc, a_moc)
    assert b.contains(a) == within(a_moc, b_moc)


def test_the_random_cone_pairs_cover_every_outcome():
    outcomes = set()
    for first, second in CONE_PAIRS:
        a, b = Coverage.from_moc(mocpy_cone(*first)), Coverage.from_moc(mocpy_cone(*second))
        outcomes.add((a.overlaps(b), a.contains(b) or b.contains(a)))
    assert outcomes == {(False, False), (True, False), (True, True)}


def test_ranges_that_only_touch_do_not_overlap():
    a = Coverage(np.array([[0, 10]], dtype=np.uint64), MAX_ORDER)
    b = Coverage(np.array([[10, 20]], dtype=np.uint64), MAX_ORDER)
    assert not a.overlaps(b)
    assert not b.overlaps(a)


def test_a_moc_contains_itself_and_the_empty_moc_and_nothing_contains_more():
    cov = Coverage.from_region(Circle(10, 10, 1), 8)
    assert cov.contains(cov)
    assert cov.contains(Coverage.empty())
    assert not Coverage.empty().contains(cov)
    assert not cov.overlaps(Coverage.empty())
    assert not cov.contains(cov.union(Coverage.from_region(Circle(10, 12.5, 1), 8)))


def test_containment_needs_every_range_inside_one_range():
    a = Coverage(np.array([[0, 10], [20, 30]], dtype=np.uint64), MAX_ORDER)
    assert a.contains(Coverage(np.array([[2, 5], [21, 30]], dtype=np.uint64), MAX_ORDER))
    assert not a.contains(Coverage(np.array([[5, 25]], dtype=np.uint64), MAX_ORDER))
    assert not a.contains(Coverage(np.array([[25, 31]], dtype=np.uint64), MAX_ORDER))


# --- index cells -----------------------------------------------------------------------------


def index_sources():
    galex = Coverage.from_fits(GALEX.read_bytes())
    return {
        "cone": Coverage.from_region(Circle(150, 2, 1), 10),
        "big cone": Coverage.from_region(Circle(10, -30, 40), 10),
        "polar cone": Coverage.from_region(Circle(0, 90, 2), 12),
        "polygon across ra 0": Coverage.from_region(
            Polygon(((-1, -1), (1, -1), (1, 1), (-1, 1))), 10
        ),
        "two cones": Coverage.from_region(Circle(10, 10, 1), 10).union(
            Coverage.from_region(Circle(200, -50, 0.3), 10)
        ),
        "single cell": Coverage(np.array([[5, 6]], dtype=np.uint64), MAX_ORDER),
        "whole sky": Coverage(np.array([[0, SPHERE]], dtype=np.uint64), 0),
        "galex": galex,
    }


INDEX_SOURCES = index_sources()


@pytest.mark.parametrize("max_cells", [12, 24, 64])
@pytest.mark.parametrize("name", INDEX_SOURCES)
def test_index_cells_are_aligned_cells_that_cover_the_moc(name, max_cells):
    cov = INDEX_SOURCES[name]
    cells = cov.index_cells(max_cells)
    lo, hi = cells[:, 0].astype(object), cells[:, 1].astype(object)
    sizes = [h - low for low, h in zip(lo, hi, strict=True)]
    assert 0 < len(cells) <= max_cells
    assert all(
        size > 0 and (size & (size - 1)) == 0 and size.bit_length() % 2 == 1 for size in sizes
    )
    assert all(low % size == 0 for low, size in zip(lo, sizes, strict=True))
    assert all(int(h) <= SPHERE for h in hi)
    assert union_all([Coverage(cells, MAX_ORDER)]).contains(cov)


def test_index_cells_of_a_small_moc_are_its_own_cells():
    cov = Coverage.from_string("5/100 6/500-503")  # 6/500-503 is 5/125
    assert cov.index_cells(24).tolist() == [
        [100 * 4**24, 101 * 4**24],
        [125 * 4**24, 126 * 4**24],
    ]


def test_index_cells_of_a_moc_with_too_many_cells_are_coarser():
    cov = Coverage.from_string("8/" + " ".join(str(c) for c in range(0, 400, 2)))
    cells = cov.index_cells(24)
    assert len(cells) <= 24
    assert Coverage(cells, MAX_ORDER).contains(cov)
    assert Coverage(cells, MAX_ORDER).sky_fraction > cov.sky_fraction


def test_index_cells_of_the_empty_moc_are_none():
    assert Coverage.empty().index_cells(24).shape == (0, 2)


# --- serialisations --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> Coverage:
    return Coverage.from_region(Circle(123.4, -56.7, 0.8), 9).union(
        Coverage.from_region(Polygon(((10, 10), (12, 10), (11, 12))), 9)
    )


@pytest.mark.parametrize("fmt", [MocFormat.ASCII, MocFormat.JSON])
def test_a_moc_string_round_trips(sample, fmt):
    text = sample.to_string(fmt)
    back = Coverage.from_string(text)
    assert np.array_equal(back.ranges, sample.ranges)
    assert back.order == 9


def test_a_moc_fits_round_trips(sample):
    data = base64.b64decode(sample.to_string(MocFormat.FITS))
    assert data[:6] == b"SIMPLE"
    back = Coverage.from_fits(data)
    assert np.array_equal(back.ranges, sample.ranges)


def test_a_moc_serialised_at_a_lower_order_is_degraded(sample):
    back = Coverage.from_string(sample.to_string(MocFormat.ASCII, max_order=5))
    assert np.array_equal(back.ranges, sample.degrade(5).ranges)
    assert back.order == 5


def test_stored_bytes_round_trip(sample):
    back = Coverage.from_bytes(sample.to_bytes(), sample.order)
    assert np.array_equal(back.ranges, sample.ranges)
    assert back.ranges.dtype == np.uint64
    assert len(sample.to_bytes()) == 16 * len(sample.ranges)


def test_the_moc_standards_ascii_example_reads_as_mocpy_reads_it():
    text = SMOC.read_text()
    cov = Coverage.from_string(text)
    expected = MOC.from_string(text.strip(), format="ascii")
    assert np.array_equal(cov.ranges, np.asarray(expected.to_depth29_ranges, dtype=np.uint64))
    assert cov.order == 29
    # 3/3 10 4/16-18 22 5/19-20 17/222 28/123456789, merged where adjacent (3/3 with 4/16-18)
    assert cov.ranges.tolist() == [
        [123456789 * 4, 123456790 * 4],
        [222 * 4**12, 223 * 4**12],
        [19 * 4**24, 21 * 4**24],
        [3 * 4**26, 19 * 4**25],
        [22 * 4**25, 23 * 4**25],
        [10 * 4**26, 11 * 4**26],
    ]


def test_moc_ascii_and_json_of_the_same_cells_are_the_same_coverage():
    ascii_cov = Coverage.from_string("3/3 10 4/16-18 22")
    json_cov = Coverage.from_string('{"3": [3, 10], "4": [16, 17, 18, 22]}')
    assert np.array_equal(ascii_cov.ranges, json_cov.ranges)


def test_the_galex_moc_reads_as_mocpy_reads_it():
    cov = Coverage.from_fits(GALEX.read_bytes())
    expected = MOC.from_fits(GALEX)
    assert np.array_equal(cov.ranges, np.asarray(expected.to_depth29_ranges, dtype=np.uint64))
    assert cov.order == 13
    assert cov.sky_fraction == pytest.approx(expected.sky_fraction, rel=1e-12)


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "",
        "3/9999",
        "[1, 2]",
        '{"3": [1]',
        '{"3": "x"}',
        '{"3": [-1]}',
        '{"3": [768]}',
        '{"3": [1.5]}',
        '{"31": [1]}',
        '{"a": [1]}',
    ],
)
def test_a_malformed_moc_string_is_invalid_input(text):
    with pytest.raises(InvalidInputError, match=r"not a MOC 2\.0 ASCII or JSON string"):
        Coverage.from_string(text)


def test_a_malformed_moc_fits_is_invalid_input():
    with pytest.raises(InvalidInputError, match="not a MOC FITS file"):
        Coverage.from_fits(b"SIMPLE  = T")


# --- STC-S regions ---------------------------------------------------------------------------

TRIANGLE = Polygon(((10.0, 20.0), (11.0, 20.0), (11.0, 21.0)))

PARSED_REGIONS = {
    "Polygon ICRS 10 20 11 20 11 21": TRIANGLE,
    "POLYGON ICRS TOPOCENTER 10 20 11 20 11 21": TRIANGLE,
    "polygon icrs geocenter spherical2 10 20 11 20 11 21": TRIANGLE,
    "Polygon J2000 10 20 11 20 11 21": TRIANGLE,
    "Polygon FK5 10.0 20.0 11.0 2.0e1 11 21": TRIANGLE,
    "Polygon 10 20 11 20 11 21": TRIANGLE,
    "Polygon UNKNOWNFRAME 10 20 11 20 11 21": TRIANGLE,
    "10 20 11 20 11 21": TRIANGLE,
    "(10, 20), (11, 20), (11, 21)".replace(",", " "): TRIANGLE,
    "Circle ICRS 10 20 0.5": Circle(10, 20, 0.5),
    "CIRCLE ICRS BARYCENTER 10 20 .5": Circle(10, 20, 0.5),
    "Circle ICRS -10 -20 0.5": Circle(-10, -20, 0.5),
}


@pytest.mark.parametrize(("text", "expected"), PARSED_REGIONS.items(), ids=PARSED_REGIONS.keys())
def test_an_stcs_region_parses(text, expected):
    assert parse_stcs(text) == expected


def test_an_stcs_box_is_a_polygon_of_constant_offsets():
    box = parse_stcs("Box ICRS 10 60 2 1")
    half_width = 1 / math.cos(math.radians(60))
    assert isinstance(box, Polygon)
    assert [c for vertex in box.vertices for c in vertex] == pytest.approx(
        [10 - half_width, 59.5, 10 + half_width, 59.5, 10 + half_width, 60.5, 10 - half_width, 60.5]
    )


REJECTED_REGIONS = {
    "Polygon GALACTIC 10 20 11 20 11 21": "unsupported frame or keyword 'GALACTIC'",
    "Circle ECLIPTIC 10 20 1": "unsupported frame or keyword 'ECLIPTIC'",
    "Polygon ICRS 10 20 11 20 11": "is not a Circle, Box or Polygon",
    "Polygon ICRS 10 20 11 20": "is not a Circle, Box or Polygon",
    "Circle ICRS 10 20": "is not a Circle, Box or Polygon",
    "Box ICRS 10 20 1": "is not a Circle, Box or Polygon",
    "Ellipse ICRS 10 20 1 2 30": "is not a Circle, Box or Polygon",
    "10 20 11 20 11": "needs an even number of values",
    "10 20 11 20": "a polygon needs at least 3 vertices, got 2",
    "Circle ICRS 10 91 1": "is not a valid ICRS position",
    "Polygon ICRS 10 20 11 -90.5 11 21": "is not a valid ICRS position",
    "Circle ICRS 10 abc 1": "has a non-numeric coordinate",
    "Circle ICRS 10 20 nan": "has a non-numeric coordinate",
    "Circle ICRS 10 20 0": "cone radius 0.0 must be in (0, 180] degrees",
    "Circle ICRS 10 20 181": "cone radius 181.0 must be in (0, 180] degrees",
    "": "region is empty",
}


@pytest.mark.parametrize(("text", "message"), REJECTED_REGIONS.items(), ids=REJECTED_REGIONS.keys())
def test_an_unsupported_stcs_region_is_invalid_input(text, message):
    with pytest.raises(InvalidInputError) as caught:
        parse_stcs(text)
    assert message in str(caught.value)


def test_a_polygon_writes_stcs_that_reads_back():
    polygon = Polygon(((-1.5, -1), (1, -1), (1, 1.25)))
    text = polygon.to_stcs()
    assert text == "Polygon ICRS 358.5 -1 1 -1 1 1.25"
    assert parse_stcs(text) == Polygon(((358.5, -1), (1, -1), (1, 1.25)))


def test_a_circle_writes_stcs_that_reads_back():
    circle = Circle(370.25, -5, 0.125)
    assert circle.to_stcs() == "Circle ICRS 370.25 -5 0.125"
    assert circle.centre_and_fov() == (10.25, -5, 0.25)


def test_a_polygon_centre_is_the_mean_direction_of_its_vertices():
    ra, dec, fov = Polygon(((359, -1), (1, -1), (1, 1), (359, 1))).centre_and_fov()
    assert min(ra, 360 - ra) == pytest.approx(0, abs=1e-9)
    assert dec == pytest.approx(0, abs=1e-9)
    corner = math.degrees(math.acos(math.cos(math.radians(1)) ** 2))
    assert fov == pytest.approx(2 * corner, rel=1e-9)


def test_the_moc_of_a_polygon_across_ra_zero_covers_both_sides():
    cov = Coverage.from_region(Polygon(((-1, -1), (1, -1), (1, 1), (-1, 1))), 8)
    for ra in (359.5, 0.5):
        assert cov.contains(Coverage.from_region(Circle(ra, 0, 0.1), 8))
    assert not cov.overlaps(Coverage.from_region(Circle(180, 0, 0.1), 8))
