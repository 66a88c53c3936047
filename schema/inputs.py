"""GraphQL input types and their translation into a catalogue query.

Every refusal names the input field it concerns (``filter.region.cone.radius: ...``), both in
the message and in the error's ``extensions.field``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from catalogue.authorization import Viewer
from catalogue.bands import Band as CoreBand
from catalogue.bands import band_range
from catalogue.coverage import Coverage
from catalogue.errors import InvalidInputError
from catalogue.filters import AllOf, AnyOf, Condition, Filter, Op, parse_rucio_filter
from catalogue.models import DIDKey, DIDType
from catalogue.models import Intersect as CoreIntersect
from catalogue.obscore import parse_timestamp
from catalogue.query import MAX_PAGE, DIDQuery, RegionFilter, SortKey, decode_cursor, mjd
from catalogue.region import Circle, Polygon, Region
from schema.enums import Band, MetaOp, SortDirection, SortField
from schema.enums import DIDType as DIDTypeEnum
from schema.enums import Intersect as IntersectEnum


def input_error(field: str, message: str) -> GraphQLError:
    """A client error that names the input field."""
    return GraphQLError(
        f"{field}: {message}", extensions={"code": "BAD_USER_INPUT", "field": field}
    )


@contextmanager
def at(field: str) -> Iterator[None]:
    """Turn catalogue input errors raised inside into errors naming ``field``."""
    try:
        yield
    except InvalidInputError as exc:
        raise input_error(field, str(exc)) from exc


@strawberry.input(description="Sort order; ties are broken by creation order.")
class SortInput:
    field: SortField = SortField.NAME
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="A cone: centre and radius in degrees (ICRS).")
class ConeInput:
    ra: float = strawberry.field(description="Right ascension (deg).")
    dec: float = strawberry.field(description="Declination (deg).")
    radius: float = strawberry.field(description="Radius (deg).")


@strawberry.input(description="A polygon: vertices as [ra1, dec1, ra2, dec2, ...] in degrees.")
class PolygonInput:
    vertices: list[float]


@strawberry.input(description="Exactly one of cone, polygon or moc, and how DIDs must relate.")
class RegionInput:
    cone: ConeInput | None = None
    polygon: PolygonInput | None = None
    moc: str | None = strawberry.field(
        default=None, description="A MOC 2.0 ASCII ('3/1-3 4/') or JSON string."
    )
    intersect: IntersectEnum = CoreIntersect.OVERLAPS  # type: ignore[valid-type]


@strawberry.input(description="A time interval; each bound is ISO 8601 (UTC) or an MJD.")
class TimeRangeInput:
    start: str | None = strawberry.field(default=None, description="ISO 8601 (UTC) or MJD.")
    end: str | None = strawberry.field(default=None, description="ISO 8601 (UTC) or MJD.")
    start_mjd: float | None = strawberry.field(default=None, description="Start, MJD (d).")
    end_mjd: float | None = strawberry.field(default=None, description="End, MJD (d).")


@strawberry.input(description="Wavelengths in metres, or a band name.")
class SpectralRangeInput:
    min: float | None = strawberry.field(default=None, description="Shortest wavelength (m).")
    max: float | None = strawberry.field(default=None, description="Longest wavelength (m).")
    band: Band | None = None  # type: ignore[valid-type]


@strawberry.input(description="key op value; 'in' takes values, 'exists' takes none.")
class MetadataConditionInput:
    key: str
    op: MetaOp = Op.EQ  # type: ignore[valid-type]
    value: JSON | None = None
    values: list[JSON] | None = None


@strawberry.input(description="A condition, or AND (all) / OR (any) groups of filters.")
class MetadataFilterInput:
    condition: MetadataConditionInput | None = None
    all: list[MetadataFilterInput] | None = None
    any: list[MetadataFilterInput] | None = None


@strawberry.input(description="ObsCore fields; a list means any of its values.")
class ObsCoreFilterInput:
    collection: list[str] | None = None
    dataproduct_type: list[str] | None = None
    calib_level: list[int] | None = None
    calib_level_min: int | None = None
    facility: list[str] | None = None
    instrument: list[str] | None = None
    target: list[str] | None = None


@strawberry.input(description="What DIDs to select; every criterion given must hold.")
class DIDFilterInput:
    types: list[DIDTypeEnum] | None = None  # type: ignore[valid-type]
    scopes: list[str] | None = None
    sources: list[str] | None = strawberry.field(
        default=None,
        description="'lake' for the lake's own records, or harvest source names.",
    )
    name: str | None = strawberry.field(default=None, description="Name pattern, '*' wildcard.")
    metadata: MetadataFilterInput | None = None
    rucio_filter: str | None = strawberry.field(
        default=None, description="Rucio's filter language, e.g. 'datatype=RAW,run>5;run<2'."
    )
    region: RegionInput | None = None
    time: TimeRangeInput | None = None
    spectral: SpectralRangeInput | None = None
    obscore: ObsCoreFilterInput | None = None


def _scalar(value: object, field: str) -> str | int | float | bool | datetime:
    if isinstance(value, str):
        try:
            return parse_timestamp(field, value) if "T" in value and value[:4].isdigit() else value
        except InvalidInputError:
            return value
    if isinstance(value, bool | int | float):
        return value
    raise input_error(field, f"{value!r} is not a string, number or boolean")


def _condition(c: MetadataConditionInput, field: str) -> Condition:
    op = Op(c.op)
    with at(field):
        if op in (Op.EXISTS, Op.NOT_EXISTS):
            return Condition(c.key, op)
        if op is Op.IN:
            values = tuple(_scalar(v, f"{field}.values") for v in (c.values or []))
            return Condition(c.key, op, values)
        if c.value is None:
            raise input_error(f"{field}.value", f"'{op.value}' needs a value")
        return Condition(c.key, op, _scalar(c.value, f"{field}.value"))


def metadata_filter(f: MetadataFilterInput, field: str) -> Filter:
    """The filter tree of a metadata input."""
    given = [x for x in (f.condition, f.all, f.any) if x is not None]
    if len(given) != 1:
        raise input_error(field, "give exactly one of condition, all, any")
    if f.condition is not None:
        return _condition(f.condition, f"{field}.condition")
    items = f.all if f.all is not None else f.any
    name = "all" if f.all is not None else "any"
    if not items:
        raise input_error(f"{field}.{name}", "must not be empty")
    children = tuple(metadata_filter(x, f"{field}.{name}[{i}]") for i, x in enumerate(items))
    return AllOf(children) if f.all is not None else AnyOf(children)


def _obscore(o: ObsCoreFilterInput) -> list[Filter]:
    pairs = (
        ("obs_collection", o.collection),
        ("dataproduct_type", o.dataproduct_type),
        ("calib_level", o.calib_level),
        ("facility_name", o.facility),
        ("instrument_name", o.instrument),
        ("target_name", o.target),
    )
    found: list[Filter] = [Condition(k, Op.IN, tuple(v)) for k, v in pairs if v]
    if o.calib_level_min is not None:
        found.append(Condition("calib_level", Op.GTE, o.calib_level_min))
    return found


def _region(r: RegionInput, order: int) -> RegionFilter:
    given = [x for x in (r.cone, r.polygon, r.moc) if x is not None]
    if len(given) != 1:
        raise input_error("filter.region", "give exactly one of cone, polygon, moc")
    intersect = CoreIntersect(r.intersect)
    if r.moc is not None:
        with at("filter.region.moc"):
            return RegionFilter(Coverage.from_string(r.moc), intersect)
    shape: Region
    if r.cone is not None:
        with at("filter.region.cone"):
            shape = Circle(r.cone.ra, r.cone.dec, r.cone.radius)
    else:
        vertices = r.polygon.vertices if r.polygon else []
        if len(vertices) % 2:
            raise input_error("filter.region.polygon.vertices", "needs ra, dec pairs")
        with at("filter.region.polygon"):
            shape = Polygon(tuple(zip(vertices[0::2], vertices[1::2], strict=True)))
    with at("filter.region"):
        return RegionFilter.from_shape(shape, order, intersect)


def _time_bound(text: str | None, number: float | None, field: str) -> float | None:
    if number is not None:
        if text is not None:
            raise input_error(field, "give it as a string or as MJD, not both")
        return number
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    with at(field):
        return mjd(parse_timestamp("the bound", text))


def _spectral(s: SpectralRangeInput) -> tuple[float | None, float | None]:
    if s.band is not None:
        if s.min is not None or s.max is not None:
            raise input_error("filter.spectral", "give a band or min/max, not both")
        with at("filter.spectral.band"):
            return band_range(CoreBand(s.band).value)
    return s.min, s.max


def _filters(f: DIDFilterInput) -> list[Filter]:
    filters: list[Filter] = []
    if f.metadata is not None:
        filters.append(metadata_filter(f.metadata, "filter.metadata"))
    if f.rucio_filter:
        with at("filter.rucioFilter"):
            filters.append(parse_rucio_filter(f.rucio_filter))
    if f.obscore is not None:
        filters.extend(_obscore(f.obscore))
    return filters


def to_query(
    f: DIDFilterInput | None,
    sort: SortInput | None,
    first: int,
    after: str | None,
    order: int,
    viewer: Viewer,
    parent: DIDKey | None = None,
) -> DIDQuery:
    """The catalogue query for a filter, a sort order and a page, for ``viewer``'s eyes."""
    f = f or DIDFilterInput()
    sort = sort or SortInput()
    if not 0 <= first <= MAX_PAGE:
        raise input_error("first", f"must be between 0 and {MAX_PAGE}")
    filters = _filters(f)
    with at("filter"):
        query = DIDQuery(
            scopes=tuple(f.scopes or ()),
            sources=tuple(f.sources or ()),
            types=tuple(DIDType(t) for t in (f.types or ())),
            name=f.name,
            parent=parent,
            filter=filters[0]
            if len(filters) == 1
            else (AllOf(tuple(filters)) if filters else None),
            region=_region(f.region, order) if f.region else None,
            time=(
                _time_bound(f.time.start, f.time.start_mjd, "filter.time.start"),
                _time_bound(f.time.end, f.time.end_mjd, "filter.time.end"),
            )
            if f.time
            else None,
            spectral=_spectral(f.spectral) if f.spectral else None,
            sort=SortKey(sort.field.value),
            descending=sort.direction is SortDirection.DESC,
            limit=first,
            cursor=after,
            viewer=viewer,
        )
    with at("after"):
        decode_cursor(query)
    return query
