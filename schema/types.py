"""GraphQL output types; each wraps a domain object and loads its parts through loaders."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NewType

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from catalogue import models
from catalogue.coverage import Coverage as CoverageValue
from catalogue.coverage import MocFormat as CoreMocFormat
from catalogue.harvest import LAKE_SOURCE
from catalogue.obscore import OBSCORE_FIELDS, FieldKind
from catalogue.provenance import Direction
from catalogue.query import MAX_PAGE, datetime_from_mjd
from schema.context import Context
from schema.enums import DIDType, FacetField, LineageDirection, MocFormat, ReplicaState
from schema.inputs import SortInput

if TYPE_CHECKING:
    from schema.provenance import ActivityNode, Lineage, ProvEntity

_PROV = "schema.provenance"

Long = NewType("Long", int)
"""Sizes in bytes exceed GraphQL's 32-bit Int; mapped to the Long scalar in schema/graphql.py."""
LONG_SCALAR = strawberry.scalar(
    name="Long",
    description="A 64-bit integer (sizes in bytes exceed GraphQL's 32-bit Int).",
    serialize=int,
    parse_value=int,
)


def _iso(mjd: float | None) -> datetime | None:
    return None if mjd is None else datetime_from_mjd(mjd)


@strawberry.type(description="A storage element: where replicas live.")
class RSE:
    name: str
    base_url: str = strawberry.field(description="scheme://host:port/prefix")
    qos_class: str | None = strawberry.field(description="Quality of service, e.g. SAFE.")
    deterministic: bool
    read_only: bool

    @classmethod
    def from_domain(cls, rse: models.RSE) -> RSE:
        return cls(
            name=rse.name,
            base_url=rse.base_url,
            qos_class=rse.qos_class,
            deterministic=rse.deterministic,
            read_only=rse.read_only,
        )


@strawberry.type(description="A copy of a file on an RSE.")
class Replica:
    rse: str = strawberry.field(description="Name of the RSE holding the copy.")
    url: str
    state: ReplicaState  # type: ignore[valid-type]
    updated_at: datetime


@strawberry.type(description="Sky coverage as an IVOA MOC 2.0 (HEALPix NESTED, ICRS).")
class Coverage:
    value: strawberry.Private[CoverageValue]

    @strawberry.field(description="Fraction of the whole sky covered (0..1).")
    def sky_fraction(self) -> float:
        return self.value.sky_fraction

    @strawberry.field(description="HEALPix order of the finest cells (0..29).")
    def order(self) -> int:
        return self.value.order

    @strawberry.field(description="The MOC serialised; maxOrder degrades it (coarser, larger).")
    def moc(self, format: MocFormat = MocFormat.ASCII, max_order: int | None = None) -> str:
        return self.value.to_string(CoreMocFormat(format.value), max_order)


@strawberry.type(description="A time interval; MJD (days, UTC) and ISO 8601.")
class TimeRange:
    start_mjd: float | None = strawberry.field(description="Start, MJD (d).")
    end_mjd: float | None = strawberry.field(description="End, MJD (d).")

    @strawberry.field(description="Start, ISO 8601 UTC.")
    def start(self) -> datetime | None:
        return _iso(self.start_mjd)

    @strawberry.field(description="End, ISO 8601 UTC.")
    def end(self) -> datetime | None:
        return _iso(self.end_mjd)


@strawberry.type(description="A vacuum wavelength interval in metres.")
class SpectralRange:
    min: float | None = strawberry.field(description="Shortest wavelength (m).")
    max: float | None = strawberry.field(description="Longest wavelength (m).")


@strawberry.type(description="One metadata key and its typed value.")
class MetadataEntry:
    key: str
    value: JSON = strawberry.field(description="Datetimes are ISO 8601 strings.")
    type: str = strawberry.field(description="string, integer, float, boolean, datetime or list")


def _json(value: models.MetaValue) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


_KIND_TYPES: dict[FieldKind, Any] = {
    FieldKind.TEXT: str | None,
    FieldKind.INTEGER: int | None,
    FieldKind.FLOAT: float | None,
    FieldKind.TIMESTAMP: datetime | None,
}


def _obscore_description(f: Any) -> str:
    unit = f" Unit: {f.unit}." if f.unit else ""
    return f"{f.description}.{unit} UCD: {f.ucd}. Utype: {f.utype}."


def _obscore_type() -> type:
    """The ObsCore type, one field per row of the mapping table, named as the standard."""
    namespace: dict[str, Any] = {
        "__annotations__": {f.name: _KIND_TYPES[f.kind] for f in OBSCORE_FIELDS}
    }
    for f in OBSCORE_FIELDS:
        namespace[f.name] = strawberry.field(
            name=f.name, description=_obscore_description(f), default=None
        )
    return strawberry.type(
        type("ObsCore", (), namespace),
        description="ObsCore 1.1 characterisation; field names, units and UCDs as the "
        "standard writes them.",
    )


ObsCore = _obscore_type()


@strawberry.type(description="Where a harvested record came from (catalogue/harvest.py).")
class HarvestOrigin:
    source: str = strawberry.field(description="The harvest source; also the record's scope.")
    kind: str = strawberry.field(description="tap, registry or hips.")
    url: str = strawberry.field(description="The service or list harvested.")
    remote_id: str = strawberry.field(
        description="The record's identifier there: obs_publisher_did, ivoid or creator_did."
    )
    first_harvested: datetime
    last_harvested: datetime = strawberry.field(description="When a run last saw it there.")
    withdrawn_at: datetime | None = strawberry.field(
        description="When a complete run no longer found it: kept, left out of searches."
    )


@strawberry.interface(description="A data identifier, scope:name, unique for all time.")
class DID:
    record: strawberry.Private[models.DID]

    @strawberry.field(description="scope:name")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.record.key))

    @strawberry.field
    def scope(self) -> str:
        return self.record.key.scope

    @strawberry.field
    def name(self) -> str:
        return self.record.key.name

    @strawberry.field
    def type(self) -> DIDType:  # type: ignore[valid-type]
        return self.record.type

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.record.updated_at

    @strawberry.field(description="Free typed metadata.")
    async def metadata(self, info: Info[Context, None]) -> list[MetadataEntry]:
        values = await info.context.loaders.metadata.load(self.record.id)
        from catalogue.filters import value_type  # noqa: PLC0415

        return [MetadataEntry(key=k, value=_json(v), type=value_type(v)) for k, v in values.items()]

    @strawberry.field(description="ObsCore characterisation, if the DID has one.")
    async def obscore(self, info: Info[Context, None]) -> ObsCore | None:  # type: ignore[valid-type]
        values = await info.context.loaders.characterisation.load(self.record.id)
        return ObsCore(**values) if values else None

    @strawberry.field(description="Sky coverage (a collection's is its members' union).")
    async def coverage(self, info: Info[Context, None]) -> Coverage | None:
        extent = await info.context.loaders.extent.load(self.record.id)
        if extent is None or extent[1] is None:
            return None
        return Coverage(value=extent[1])

    @strawberry.field(description="Time covered (a collection's spans its members').")
    async def time_range(self, info: Info[Context, None]) -> TimeRange | None:
        extent = await info.context.loaders.extent.load(self.record.id)
        if extent is None or extent[0].t_min is None:
            return None
        return TimeRange(start_mjd=extent[0].t_min, end_mjd=extent[0].t_max)

    @strawberry.field(description="Wavelengths covered, in metres.")
    async def spectral_range(self, info: Info[Context, None]) -> SpectralRange | None:
        extent = await info.context.loaders.extent.load(self.record.id)
        if extent is None or extent[0].em_min is None:
            return None
        return SpectralRange(min=extent[0].em_min, max=extent[0].em_max)

    @strawberry.field(description="'lake' for the lake's own DIDs, else the harvest source.")
    async def source(self, info: Info[Context, None]) -> str:
        origin = await info.context.loaders.harvest.load(self.record.id)
        return origin.source if origin is not None else LAKE_SOURCE

    @strawberry.field(description="Where a harvested DID came from; null for the lake's own.")
    async def harvest(self, info: Info[Context, None]) -> HarvestOrigin | None:
        origin = await info.context.loaders.harvest.load(self.record.id)
        if origin is None:
            return None
        return HarvestOrigin(
            source=origin.source,
            kind=origin.kind.value,
            url=origin.url,
            remote_id=origin.remote_id,
            first_harvested=origin.first_harvested,
            last_harvested=origin.last_harvested,
            withdrawn_at=origin.withdrawn_at,
        )

    @strawberry.field(description="Collections this DID is attached to.")
    async def parents(self, info: Info[Context, None]) -> list[DID]:
        found = await info.context.loaders.parents.load(self.record.id)
        return [from_domain(d) for d in found]

    # Provenance (docs/provenance.md); resolved in schema/provenance.py.
    @strawberry.field(description="The activity that generated it.")
    async def generated_by(
        self, info: Info[Context, None]
    ) -> Annotated[ActivityNode, strawberry.lazy(_PROV)] | None:
        from schema import provenance  # noqa: PLC0415 - provenance imports this module

        return await provenance.generated_by(self, info)

    @strawberry.field(description="The activities that used it.")
    async def used_by(
        self, info: Info[Context, None]
    ) -> list[Annotated[ActivityNode, strawberry.lazy(_PROV)]]:
        from schema import provenance  # noqa: PLC0415

        return await provenance.used_by(self, info)

    @strawberry.field(description="What it was made from: its activity's inputs, asserted sources.")
    async def derived_from(
        self, info: Info[Context, None]
    ) -> list[Annotated[ProvEntity, strawberry.lazy(_PROV)]]:
        from schema import provenance  # noqa: PLC0415

        return await provenance.neighbours(self, info, upstream=True)

    @strawberry.field(description="What was made from it: outputs of the activities that used it.")
    async def derivatives(
        self, info: Info[Context, None]
    ) -> list[Annotated[ProvEntity, strawberry.lazy(_PROV)]]:
        from schema import provenance  # noqa: PLC0415

        return await provenance.neighbours(self, info, upstream=False)

    @strawberry.field(
        description="Its provenance subgraph: UPSTREAM (what made it) or DOWNSTREAM (what was "
        "made from it), depth steps (an activity with its inputs or outputs is one step), at "
        "most limit entities and activities."
    )
    async def lineage(
        self,
        info: Info[Context, None],
        direction: LineageDirection = Direction.UPSTREAM,  # type: ignore[valid-type]
        depth: int = 5,
        limit: int = 1000,
    ) -> Annotated[Lineage, strawberry.lazy(_PROV)]:
        from schema import provenance  # noqa: PLC0415

        return await provenance.lineage(self, info, direction, depth, limit)


@strawberry.type(description="A file: bytes with checksums, replicated on RSEs.")
class File(DID):
    @strawberry.field(description="Size in bytes.")
    def bytes(self) -> Long | None:
        return None if self.record.bytes is None else Long(self.record.bytes)

    @strawberry.field(description="8 hex digits.")
    def adler32(self) -> str | None:
        return self.record.adler32

    @strawberry.field(description="32 hex digits.")
    def md5(self) -> str | None:
        return self.record.md5

    @strawberry.field
    def guid(self) -> str | None:
        return self.record.guid

    @strawberry.field(description="Where copies of the file are.")
    async def replicas(self, info: Info[Context, None]) -> list[Replica]:
        found = await info.context.loaders.replicas.load(self.record.id)
        return [
            Replica(rse=r.rse, url=r.url, state=r.state, updated_at=r.updated_at) for r in found
        ]


async def _members(
    root: DID,
    info: Info[Context, None],
    first: int = 50,
    after: str | None = None,
    sort: SortInput | None = None,
) -> DIDConnection:
    """A page of a collection's direct members (Dataset.files, Container.children)."""
    from schema.connection import member_page  # noqa: PLC0415 - connection imports types

    return await member_page(info, root.record.key, first, after, sort)


@strawberry.interface(description="A DID that holds other DIDs.")
class Collection(DID):
    @strawberry.field(description="Number of direct members.")
    def length(self) -> int | None:
        return self.record.length

    @strawberry.field(description="Whether it still accepts new members.")
    def is_open(self) -> bool:
        return bool(self.record.is_open)


@strawberry.type(description="A dataset: a set of files.")
class Dataset(Collection):
    @strawberry.field(description="Total size of its files in bytes.")
    def bytes(self) -> Long | None:
        return None if self.record.bytes is None else Long(self.record.bytes)

    files: DIDConnection = strawberry.field(
        resolver=_members, description=f"Its files, a page at a time (first <= {MAX_PAGE})."
    )


@strawberry.type(description="A container: a set of datasets and containers.")
class Container(Collection):
    children: DIDConnection = strawberry.field(
        resolver=_members, description=f"Its members, a page at a time (first <= {MAX_PAGE})."
    )


def from_domain(record: models.DID) -> DID:
    """The GraphQL object for a DID, by its type."""
    if record.type is models.DIDType.FILE:
        return File(record=record)
    if record.type is models.DIDType.DATASET:
        return Dataset(record=record)
    return Container(record=record)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class DIDEdge:
    cursor: str
    node: DID


@strawberry.type(description="A Relay connection with the exact total.")
class DIDConnection:
    edges: list[DIDEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="How many DIDs match, exactly.")


@strawberry.type
class FacetValue:
    value: str
    count: int


@strawberry.type(description="Counts of the matching DIDs by one field's values.")
class Facet:
    field: FacetField  # type: ignore[valid-type]
    values: list[FacetValue]
