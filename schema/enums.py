"""GraphQL enums, each defined once (types and inputs share them)."""

from __future__ import annotations

from enum import Enum

import strawberry

from catalogue import models, provenance
from catalogue.bands import Band as CoreBand
from catalogue.filters import Op
from catalogue.query import FacetField as CoreFacetField
from catalogue.search import SearchFacet as CoreSearchFacet
from catalogue.search import SearchSort as CoreSearchSort

DIDType = strawberry.enum(models.DIDType, description="What a DID names.")
ReplicaState = strawberry.enum(models.ReplicaState, description="Rucio's replica states.")
Intersect = strawberry.enum(
    models.Intersect,
    description="OVERLAPS: shares sky with the region; ENCLOSED: lies inside it; "
    "COVERS: contains it.",
)
Band = strawberry.enum(CoreBand, description="IVOA waveband names.")
MetaOp = strawberry.enum(Op, name="MetaOp", description="Operators of metadata conditions.")
FacetField = strawberry.enum(CoreFacetField, description="Fields the results can be counted by.")
SearchFacet = strawberry.enum(CoreSearchFacet, description="Fields search hits are counted by.")
SearchSort = strawberry.enum(
    CoreSearchSort, description="Orders of search hits; RELEVANCE is always best first."
)


@strawberry.enum(description="MOC 2.0 serialisations.")
class MocFormat(Enum):
    ASCII = "ascii"
    JSON = "json"
    FITS_BASE64 = "fits"


@strawberry.enum(description="Orders of a DID listing.")
class SortField(Enum):
    NAME = "name"
    CREATED = "created_at"
    SIZE = "bytes"
    TIME = "t_min"


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


LineageDirection = strawberry.enum(
    provenance.Direction,
    name="LineageDirection",
    description="UPSTREAM: what a DID was made from; DOWNSTREAM: what was made from it.",
)
