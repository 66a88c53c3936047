"""The tables the TAP service publishes: their TAP_SCHEMA metadata and the SQL each one reads.

Every published table is a :class:`TapTable`: its columns' metadata (what TAP_SCHEMA, VOSI
tables and the VOTable FIELDs say) and a relation, a SELECT over the store whose labelled
columns carry exactly the published names. The ADQL translator puts the relation in place of
the table name, so ADQL can only ever read what is listed here. ``ivoa.obscore`` is generated
from :data:`catalogue.obscore.OBSCORE_FIELDS`, the same table that defines the store's
columns; TAP_SCHEMA itself is generated from this module's list, so it cannot drift.

Relations may carry hidden columns (names starting with ``_``) that the translator uses for
the sky index; they are not in TAP_SCHEMA and ADQL cannot name them.

The module is longer than the house's 600 lines on purpose: it is the one list of everything
published (ivoa, lake, provenance, TAP_SCHEMA), which TAP_SCHEMA is generated from; moving the
table classes to a module of their own would let the schemas live apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import Label

from catalogue.authorization import PUBLIC, Viewer
from catalogue.harvest import LAKE_SOURCE
from catalogue.obscore import OBSCORE_FIELDS, FieldKind, ObsCoreField
from catalogue.store import tables as t
from catalogue.store.harvest import source_clause
from catalogue.store.visibility import (
    activity_visible,
    agent_visible,
    discoverable,
    entity_visible,
)

OBSCORE_UTYPE = "ivo://ivoa.net/std/ObsCore#core-1.1"
DATALINK_MIME = "application/x-votable+xml;content=datalink"

#: The path of the DataLink ``{links}`` endpoint under the service root.
DATALINK_PATH = "/datalink/links"


@dataclass(frozen=True, slots=True)
class TapColumn:
    """One published column, described as TAP_SCHEMA.columns describes it."""

    name: str
    datatype: str  # a VOTable datatype: char, short, int, long, float, double, ...
    description: str
    arraysize: str | None = None
    xtype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    indexed: bool = False
    principal: bool = False
    std: bool = False


#: Column names of ours that ADQL reserves; metadata writes them delimited, as TAP 1.1 does.
ADQL_RESERVED_NAMES = frozenset({"size"})


def metadata_name(column: TapColumn) -> str:
    """The column's name as TAP_SCHEMA and VOSI write it: ``"size"`` for reserved words."""
    return f'"{column.name}"' if column.name.lower() in ADQL_RESERVED_NAMES else column.name


@dataclass(frozen=True, slots=True)
class SkyIndex:
    """How the translator reaches the store's sky index through a table's hidden columns.

    ``point`` names the (ra, dec) columns whose depth-29 HEALPix cell is ``point_cell``;
    ``region`` is the footprint column whose predicates are decided by the catalogue's
    region search on the DID ``did_id``.
    """

    point: tuple[str, str] = ("s_ra", "s_dec")
    point_cell: str = "_s_hpx"
    region: str = "s_region"
    did_id: str = "_did_id"


@dataclass(frozen=True, slots=True)
class RelationContext:
    """What a relation may depend on besides the store.

    That is the service's public base URL, and whose eyes the rows are for: embargoed records
    the viewer may not see are in no relation, so no ADQL can reach them (docs/security.md).
    """

    base_url: str
    ivoa_authority: str = "lakecat.invalid"
    viewer: Viewer = PUBLIC


@dataclass(frozen=True, slots=True)
class TapTable:
    """One published table: metadata, and the SELECT the translator substitutes for it."""

    schema: str
    name: str
    description: str
    columns: tuple[TapColumn, ...]
    relation: Callable[[RelationContext], Select[Any]] = field(compare=False)
    utype: str | None = None
    table_type: str = "view"
    sky: SkyIndex | None = None
    cacheable: bool = True  # False for uploads: same name, other columns next time

    @property
    def qualified_name(self) -> str:
        """``schema.name`` as ADQL and TAP_SCHEMA.tables write it."""
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> TapColumn | None:
        """The column of that name (case-insensitive, as ADQL regular identifiers are)."""
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    def relation_sql(self, dialect: Dialect, context: RelationContext) -> str:
        """The relation as SQL text of ``dialect``, every value a literal (no user input)."""
        return _compiled(self, dialect.name, context, dialect)


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A TAP_SCHEMA.keys entry: ``from_table(from_columns)`` references ``target_table``."""

    key_id: str
    from_table: str
    target_table: str
    columns: tuple[tuple[str, str], ...]
    description: str


@dataclass(frozen=True, slots=True)
class SchemaInfo:
    """A TAP_SCHEMA.schemas entry."""

    name: str
    description: str
    utype: str | None = None


_SQL_CACHE: dict[tuple[str, str, str, RelationContext], str] = {}
_SQL_CACHE_SIZE = 4096


def _compiled(
    table: TapTable, dialect_name: str, context: RelationContext, dialect: Dialect
) -> str:
    key = (table.schema, table.name, dialect_name, context)
    sql = _SQL_CACHE.get(key) if table.cacheable else None
    if sql is None:
        statement = table.relation(context)
        sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        if table.cacheable:
            if len(_SQL_CACHE) >= _SQL_CACHE_SIZE:  # one set per viewer: keep it bounded
                _SQL_CACHE.clear()
            _SQL_CACHE[key] = sql
    return sql


# --- ivoa.obscore -----------------------------------------------------------------------

_VOTABLE_TYPES: dict[FieldKind, tuple[str, str | None, str | None]] = {
    FieldKind.TEXT: ("char", "*", None),
    FieldKind.INTEGER: ("long", None, None),
    FieldKind.FLOAT: ("double", None, None),
    FieldKind.TIMESTAMP: ("char", "*", "timestamp"),
}
_SHORT_INTEGERS = frozenset({"calib_level"})
_OBSCORE_INDEXED = frozenset(
    {
        "obs_collection",
        "obs_publisher_did",
        "dataproduct_type",
        "calib_level",
        "facility_name",
        "instrument_name",
        "target_name",
        "s_ra",
        "s_dec",
        "s_region",
        "t_min",
        "em_min",
    }
)
_OBSCORE_PRINCIPAL = frozenset(
    {
        "dataproduct_type",
        "calib_level",
        "obs_collection",
        "obs_id",
        "obs_publisher_did",
        "access_url",
        "access_format",
        "access_estsize",
        "target_name",
        "s_ra",
        "s_dec",
        "s_fov",
        "t_min",
        "t_max",
        "em_min",
        "em_max",
        "facility_name",
        "instrument_name",
    }
)


def _obscore_column(f: ObsCoreField) -> TapColumn:
    datatype, arraysize, xtype = _VOTABLE_TYPES[f.kind]
    if f.name in _SHORT_INTEGERS:
        datatype = "short"
    if f.name == "s_region":
        xtype = "adql:REGION"  # ObsCore 1.1: STC-S text (docs/vo.md, "s_region")
    return TapColumn(
        name=f.name,
        datatype=datatype,
        arraysize=arraysize,
        xtype=xtype,
        unit=f.unit,
        ucd=f.ucd,
        utype=f.utype,
        description=f.description,
        indexed=f.name in _OBSCORE_INDEXED,
        principal=f.name in _OBSCORE_PRINCIPAL,
        std=True,
    )


_LAKE_OBSCORE_COLUMNS = (
    TapColumn("lake_scope", "char", "Scope of the file in the data lake", "*", principal=True),
    TapColumn("lake_name", "char", "Name of the file in its scope", "*", principal=True),
    TapColumn("lake_bytes", "long", "Size of the file", unit="byte", ucd="phys.size;meta.file"),
    TapColumn("lake_adler32", "char", "Adler-32 checksum of the file (hex)", "8"),
    TapColumn("lake_md5", "char", "MD5 checksum of the file (hex)", "32"),
    TapColumn(
        "lake_replicas",
        "long",
        "Number of replicas of the file on storage elements",
        ucd="meta.number",
    ),
)


def _url_component(column: Any) -> ColumnElement[str]:
    """Percent-encode the characters that would end or split a query-string value."""
    value = column
    for char, code in (("%", "%25"), ("&", "%26"), ("#", "%23"), ("+", "%2B"), ("?", "%3F")):
        value = func.replace(value, char, code)
    return value  # type: ignore[no-any-return]


def _published(viewer: Viewer, did: Any = None) -> tuple[ColumnElement[bool], ...]:
    """The lake's own DIDs ``viewer`` may see.

    Harvested records are others' to publish (docs/harvest.md).
    """
    return (discoverable(viewer, did), source_clause((LAKE_SOURCE,), did))


def _obscore_relation(context: RelationContext) -> Select[Any]:
    c, d = t.characterisation.c, t.did.c
    replicas = (
        select(func.count())
        .select_from(t.replica)
        .where(t.replica.c.did_id == d.id)
        .scalar_subquery()
    )
    overridden: dict[str, ColumnElement[Any]] = {
        "obs_id": func.coalesce(c.obs_id, d.name),
        "obs_collection": func.coalesce(c.obs_collection, d.scope),
        "obs_publisher_did": func.coalesce(
            c.obs_publisher_did,
            literal(f"ivo://{context.ivoa_authority}/lake?", String) + d.scope + ":" + d.name,
        ),
        "access_url": literal(f"{context.base_url}{DATALINK_PATH}?ID=", String)
        + _url_component(d.scope)
        + literal("%3A", String)
        + _url_component(d.name),
        "access_format": literal(DATALINK_MIME, String),
        # Integer division on both engines (``/`` would make the column NUMERIC on PostgreSQL).
        "access_estsize": func.coalesce(c.access_estsize, (d.bytes + 999) // 1000),
    }
    columns: list[Label[Any]] = [
        overridden.get(f.name, c[f.name]).label(f.name) for f in OBSCORE_FIELDS
    ]
    columns += [
        d.scope.label("lake_scope"),
        d.name.label("lake_name"),
        d.bytes.label("lake_bytes"),
        d.adler32.label("lake_adler32"),
        d.md5.label("lake_md5"),
        replicas.label("lake_replicas"),
        d.id.label("_did_id"),
        c.s_hpx.label("_s_hpx"),
    ]
    return (
        select(*columns)
        .select_from(t.characterisation.join(t.did, d.id == c.did_id))
        .where(*_published(context.viewer))
    )


OBSCORE = TapTable(
    schema="ivoa",
    name="obscore",
    description=(
        "ObsCore 1.1 view of the data lake: one row per file that carries an ObsCore "
        "characterisation. access_url leads to the DataLink list of the file's replicas."
    ),
    columns=tuple(_obscore_column(f) for f in OBSCORE_FIELDS) + _LAKE_OBSCORE_COLUMNS,
    relation=_obscore_relation,
    utype=OBSCORE_UTYPE,
    sky=SkyIndex(),
)


# --- lake.* -----------------------------------------------------------------------------

_ID = TapColumn(
    "did_id", "long", "Identifier of the DID in this catalogue", ucd="meta.id;meta.main"
)


def _did_columns(kind: str) -> tuple[TapColumn, ...]:
    return (
        TapColumn(
            "did_id",
            "long",
            f"Identifier of the {kind} in this catalogue",
            ucd="meta.id;meta.main",
            indexed=True,
            principal=True,
        ),
        TapColumn("scope", "char", "Scope (namespace)", "*", indexed=True, principal=True),
        TapColumn("name", "char", "Name within the scope", "*", indexed=True, principal=True),
        TapColumn("created", "char", "When it was registered (UTC)", "*", xtype="timestamp"),
    )


_FILE_COLUMNS = (
    *_did_columns("file"),
    TapColumn("bytes", "long", "Size of the file", unit="byte", ucd="phys.size;meta.file"),
    TapColumn("adler32", "char", "Adler-32 checksum (hex)", "8"),
    TapColumn("md5", "char", "MD5 checksum (hex)", "32"),
    TapColumn("guid", "char", "GUID of the file, if any", "36"),
)
_COLLECTION_COLUMNS = (
    *_did_columns("collection"),
    TapColumn("is_open", "short", "1 while members may still be attached, else 0"),
    TapColumn("length", "long", "Number of direct members", ucd="meta.number"),
)


def _did_relation(did_type: str, extra: Sequence[str]) -> Callable[[RelationContext], Select[Any]]:
    def relation(context: RelationContext) -> Select[Any]:
        d = t.did.c
        columns: list[Any] = [
            d.id.label("did_id"),
            d.scope.label("scope"),
            d.name.label("name"),
            d.created_at.label("created"),
        ]
        for name in extra:
            if name == "is_open":
                columns.append(case((d.is_open, 1), else_=0).label("is_open"))
            else:
                columns.append(d[name].label(name))
        return select(*columns).where(d.did_type == did_type, *_published(context.viewer))

    return relation


def _attachments(context: RelationContext) -> Select[Any]:
    a = t.attachment.c
    parent, child = t.did.alias("parent"), t.did.alias("child")
    return (
        select(
            a.parent_id.label("parent_id"),
            a.child_id.label("child_id"),
            a.created_at.label("created"),
        )
        .select_from(
            t.attachment.join(parent, parent.c.id == a.parent_id).join(
                child, child.c.id == a.child_id
            )
        )
        .where(*_published(context.viewer, parent), *_published(context.viewer, child))
    )


def _replicas(context: RelationContext) -> Select[Any]:
    r, s = t.replica.c, t.rse.c
    return (
        select(
            r.did_id.label("did_id"),
            s.name.label("rse"),
            r.url.label("url"),
            r.state.label("state"),
            r.updated_at.label("updated"),
        )
        .select_from(t.replica.join(t.rse, s.id == r.rse_id).join(t.did, t.did.c.id == r.did_id))
        .where(*_published(context.viewer))
    )


def _rses(context: RelationContext) -> Select[Any]:
    del context
    s = t.rse.c
    return select(
        s.name.label("rse"),
        s.base_url.label("base_url"),
        s.qos_class.label("qos_class"),
        case((s.deterministic, 1), else_=0).label("deterministic"),
        case((s.read_only, 1), else_=0).label("read_only"),
    )


LAKE_TABLES = (
    TapTable(
        "lake",
        "files",
        "Files registered in the data lake, with size and checksums",
        _FILE_COLUMNS,
        _did_relation("FILE", ("bytes", "adler32", "md5", "guid")),
    ),
    TapTable(
        "lake",
        "datasets",
        "Datasets: named collections of files",
        _COLLECTION_COLUMNS,
        _did_relation("DATASET", ("is_open", "length")),
    ),
    TapTable(
        "lake",
        "containers",
        "Containers: named collections of datasets and containers",
        _COLLECTION_COLUMNS,
        _did_relation("CONTAINER", ("is_open", "length")),
    ),
    TapTable(
        "lake",
        "attachments",
        "Membership: child_id is attached to the collection parent_id",
        (
            TapColumn("parent_id", "long", "did_id of the collection", ucd="meta.id", indexed=True),
            TapColumn("child_id", "long", "did_id of the member", ucd="meta.id", indexed=True),
            TapColumn("created", "char", "When it was attached (UTC)", "*", xtype="timestamp"),
        ),
        _attachments,
    ),
    TapTable(
        "lake",
        "replicas",
        "Replicas of files on storage elements (RSEs)",
        (
            TapColumn("did_id", "long", "did_id of the file", ucd="meta.id", indexed=True),
            TapColumn("rse", "char", "Name of the storage element", "*", ucd="meta.id"),
            TapColumn("url", "char", "Where the replica can be read", "*", ucd="meta.ref.url"),
            TapColumn("state", "char", "Replica state (AVAILABLE, COPYING, ...)", "*"),
            TapColumn("updated", "char", "Last state change (UTC)", "*", xtype="timestamp"),
        ),
        _replicas,
    ),
    TapTable(
        "lake",
        "rses",
        "Storage elements (RSEs) of the data lake",
        (
            TapColumn("rse", "char", "Name of the storage element", "*", ucd="meta.id;meta.main"),
            TapColumn("base_url", "char", "Base URL", "*", ucd="meta.ref.url"),
            TapColumn("qos_class", "char", "Quality-of-service class", "*"),
            TapColumn("deterministic", "short", "1 if replica paths follow from the DID"),
            TapColumn("read_only", "short", "1 if no new replicas may be written"),
        ),
        _rses,
    ),
)

# --- provenance.* (ProvTAP-shaped, docs/provenance.md) ----------------------------------
# The relations show what the query's viewer may see (the one rule of
# catalogue/store/visibility.py); a relation row naming an entity it may not see is left out.


def _visible_entities(viewer: Viewer) -> Select[Any]:
    e = t.prov_entity
    return (
        select(e.c.id)
        .select_from(e.outerjoin(t.did, t.did.c.id == e.c.did_id))
        .where(entity_visible(viewer))
    )


def _visible_activities(viewer: Viewer) -> Select[Any]:
    a = t.prov_activity
    return select(a.c.id).where(activity_visible(viewer))


def _prov_relation(
    table: Any,
    columns: Sequence[tuple[str, str]],
    entities: Sequence[str] = (),
    activities: Sequence[str] = (),
) -> Callable[[RelationContext], Select[Any]]:
    """``SELECT column AS name ...`` from a provenance table: visible entities, activities."""

    def relation(context: RelationContext) -> Select[Any]:
        statement = select(*(table.c[column].label(name) for column, name in columns))
        for column in entities:
            statement = statement.where(table.c[column].in_(_visible_entities(context.viewer)))
        for column in activities:
            statement = statement.where(table.c[column].in_(_visible_activities(context.viewer)))
        return statement

    return relation


def _prov_agents(context: RelationContext) -> Select[Any]:
    g = t.prov_agent.c
    columns = ("id", "name", "agent_type", "version", "affiliation", "url")
    return select(*(g[c].label(c) for c in columns)).where(agent_visible(context.viewer))


def _prov_entities(context: RelationContext) -> Select[Any]:
    e, d = t.prov_entity.c, t.did.c
    return (
        select(
            e.id.label("id"),
            func.coalesce(e.uri, d.scope + ":" + d.name).label("name"),
            d.scope.label("lake_scope"),
            d.name.label("lake_name"),
            e.did_id.label("did_id"),
            e.uri.label("uri"),
        )
        .select_from(t.prov_entity.outerjoin(t.did, d.id == e.did_id))
        .where(entity_visible(context.viewer))
    )


def _id(name: str, what: str, *, main: bool = False) -> TapColumn:
    ucd = "meta.id;meta.main" if main else "meta.id"
    return TapColumn(name, "long", f"Identifier of {what}", ucd=ucd, indexed=True, principal=True)


def _char(name: str, description: str, ucd: str | None = None, **extra: Any) -> TapColumn:
    return TapColumn(name, "char", description, "*", ucd=ucd, **extra)


def _time(name: str, description: str, ucd: str) -> TapColumn:
    return TapColumn(name, "char", description, "*", xtype="timestamp", ucd=ucd)


_ROLE = _char("role", "Function of the entity or agent in the relation (free text)", "meta.code")
_PROV_UTYPE = "ivo://ivoa.net/std/ProvenanceDM"

PROVENANCE_TABLES = (
    TapTable(
        "provenance",
        "entity",
        "Entities: lake DIDs (joinable with ivoa.obscore on lake_scope, lake_name and with "
        "lake.files on did_id) and external resources named by URI",
        (
            _id("id", "the entity", main=True),
            _char("name", "scope:name of the DID, or the URI", "meta.id", principal=True),
            _char("lake_scope", "Scope of the DID (null for an external entity)", indexed=True),
            _char("lake_name", "Name of the DID in its scope", indexed=True),
            TapColumn("did_id", "long", "did_id of the DID in lake.*", ucd="meta.id", indexed=True),
            _char("uri", "URI of an external entity", "meta.ref.uri"),
        ),
        _prov_entities,
        utype=f"{_PROV_UTYPE}#Entity",
    ),
    TapTable(
        "provenance",
        "activity",
        "Activities: processing steps that used and generated entities",
        (
            _id("id", "the activity", main=True),
            _char("name", "Name of the activity", "meta.title", principal=True),
            _char(
                "activity_type", "ProvDM activity type: Reduction, Calibration, ...", "meta.code"
            ),
            _char("status", "COMPLETED, FAILED or ABORTED", "meta.code.status"),
            _time("start_time", "When it started (UTC)", "time.start"),
            _time("end_time", "When it ended (UTC)", "time.end"),
            _char("comment", "Comment on the activity", "meta.note"),
            _time("recorded_at", "When it was recorded in the catalogue (UTC)", "time.epoch"),
        ),
        _prov_relation(
            t.prov_activity,
            [
                (c, c)
                for c in (
                    "id",
                    "name",
                    "activity_type",
                    "status",
                    "start_time",
                    "end_time",
                    "comment",
                    "recorded_at",
                )
            ],
            activities=["id"],
        ),
        utype=f"{_PROV_UTYPE}#Activity",
    ),
    TapTable(
        "provenance",
        "agent",
        "Agents: people, organisations and software (with its version)",
        (
            _id("id", "the agent", main=True),
            _char("name", "Name of the agent", "meta.id", principal=True),
            _char("agent_type", "Person, Organization or SoftwareAgent", "meta.code"),
            _char("version", "Version of the software (empty otherwise)", "meta.version"),
            _char("affiliation", "Affiliation of the agent"),
            _char("url", "Reference URL of the agent", "meta.ref.url"),
        ),
        _prov_agents,
        utype=f"{_PROV_UTYPE}#Agent",
    ),
    TapTable(
        "provenance",
        "used",
        "used: the activity used the entity, in a role",
        (
            _id("activity_id", "the activity"),
            _id("entity_id", "the entity"),
            _ROLE,
            _time("usage_time", "When the use started (UTC)", "time.start"),
        ),
        _prov_relation(
            t.prov_usage,
            [
                ("activity_id", "activity_id"),
                ("entity_id", "entity_id"),
                ("role", "role"),
                ("time", "usage_time"),
            ],
            ["entity_id"],
        ),
        utype=f"{_PROV_UTYPE}#Used",
    ),
    TapTable(
        "provenance",
        "wasgeneratedby",
        "wasGeneratedBy: the entity was generated by the activity, in a role",
        (
            _id("entity_id", "the entity"),
            _id("activity_id", "the activity"),
            _ROLE,
            _time("generation_time", "When it was generated (UTC)", "time.end"),
        ),
        _prov_relation(
            t.prov_generation,
            [
                ("entity_id", "entity_id"),
                ("activity_id", "activity_id"),
                ("role", "role"),
                ("time", "generation_time"),
            ],
            ["entity_id"],
        ),
        utype=f"{_PROV_UTYPE}#WasGeneratedBy",
    ),
    TapTable(
        "provenance",
        "wasderivedfrom",
        "wasDerivedFrom as asserted by the recorder (the activity path is wasgeneratedby and used)",
        (
            _id("generated_entity_id", "the derived entity"),
            _id("used_entity_id", "the entity it was derived from"),
            TapColumn(
                "activity_id", "long", "Identifier of the activity that recorded it", ucd="meta.id"
            ),
        ),
        _prov_relation(
            t.prov_derivation,
            [
                ("generated_id", "generated_entity_id"),
                ("used_id", "used_entity_id"),
                ("activity_id", "activity_id"),
            ],
            ["generated_id", "used_id"],
        ),
        utype=f"{_PROV_UTYPE}#WasDerivedFrom",
    ),
    TapTable(
        "provenance",
        "wasassociatedwith",
        "wasAssociatedWith: the agent had a role in the activity",
        (_id("activity_id", "the activity"), _id("agent_id", "the agent"), _ROLE),
        _prov_relation(
            t.prov_association,
            [(c, c) for c in ("activity_id", "agent_id", "role")],
            activities=["activity_id"],
        ),
        utype=f"{_PROV_UTYPE}#WasAssociatedWith",
    ),
    TapTable(
        "provenance",
        "wasattributedto",
        "wasAttributedTo: the entity is ascribed to the agent",
        (_id("entity_id", "the entity"), _id("agent_id", "the agent"), _ROLE),
        _prov_relation(
            t.prov_attribution, [(c, c) for c in ("entity_id", "agent_id", "role")], ["entity_id"]
        ),
        utype=f"{_PROV_UTYPE}#WasAttributedTo",
    ),
    TapTable(
        "provenance",
        "wasinformedby",
        "wasInformedBy: the informed activity used something the informant generated",
        (
            _id("informed_activity_id", "the informed activity"),
            _id("informant_activity_id", "the informant"),
        ),
        _prov_relation(
            t.prov_communication,
            [("informed_id", "informed_activity_id"), ("informant_id", "informant_activity_id")],
            activities=["informed_id", "informant_id"],
        ),
        utype=f"{_PROV_UTYPE}#WasInformedBy",
    ),
    TapTable(
        "provenance",
        "parameter",
        "Configuration parameters of activities (ProvDM Parameter), typed",
        (
            _id("activity_id", "the activity"),
            _char("name", "Name of the parameter", "meta.id", principal=True),
            _char("value_text", "The value as a string (ProvDM Parameter.value)", principal=True),
            _char("value_type", "string, integer, float, boolean or datetime", "meta.code"),
            TapColumn("value_num", "double", "Numeric value (numbers and booleans)", indexed=True),
            _time("value_time", "Time value (UTC)", "time.epoch"),
            _char("unit", "VO unit of the value", "meta.unit"),
            _char("ucd", "UCD of the value", "meta.ucd"),
        ),
        _prov_relation(
            t.prov_parameter,
            [
                ("activity_id", "activity_id"),
                ("name", "name"),
                ("value", "value_text"),
                ("value_type", "value_type"),
                ("v_num", "value_num"),
                ("v_time", "value_time"),
                ("unit", "unit"),
                ("ucd", "ucd"),
            ],
            activities=["activity_id"],
        ),
        utype=f"{_PROV_UTYPE}#Parameter",
    ),
)


def _prov_key(name: str, from_table: str, target: str, column: str) -> ForeignKey:
    return ForeignKey(
        f"provenance_{name}",
        f"provenance.{from_table}",
        f"provenance.{target}",
        ((column, "id"),),
        f"The {target} {from_table}.{column} names",
    )


PROVENANCE_KEYS = (
    _prov_key("used_activity", "used", "activity", "activity_id"),
    _prov_key("used_entity", "used", "entity", "entity_id"),
    _prov_key("generated_entity", "wasgeneratedby", "entity", "entity_id"),
    _prov_key("generated_activity", "wasgeneratedby", "activity", "activity_id"),
    _prov_key("derived_generated", "wasderivedfrom", "entity", "generated_entity_id"),
    _prov_key("derived_used", "wasderivedfrom", "entity", "used_entity_id"),
    _prov_key("associated_activity", "wasassociatedwith", "activity", "activity_id"),
    _prov_key("associated_agent", "wasassociatedwith", "agent", "agent_id"),
    _prov_key("attributed_entity", "wasattributedto", "entity", "entity_id"),
    _prov_key("attributed_agent", "wasattributedto", "agent", "agent_id"),
    _prov_key("informed", "wasinformedby", "activity", "informed_activity_id"),
    _prov_key("informant", "wasinformedby", "activity", "informant_activity_id"),
    _prov_key("parameter_activity", "parameter", "activity", "activity_id"),
)

# --- TAP_SCHEMA ---------------------------------------------------------------------------


def _c(name: str, datatype: str, description: str, *, nullable: bool = True) -> TapColumn:
    arraysize = "*" if datatype == "char" else None
    return TapColumn(name, datatype, description, arraysize, std=True, principal=not nullable)


_TAP_SCHEMA_COLUMNS: dict[str, tuple[TapColumn, ...]] = {
    "schemas": (
        _c("schema_name", "char", "Fully qualified schema name", nullable=False),
        _c("utype", "char", "utype if the schema corresponds to a data model"),
        _c("description", "char", "Brief description of the schema"),
        _c("schema_index", "int", "Recommended sort order when listing schemas"),
    ),
    "tables": (
        _c("schema_name", "char", "Fully qualified schema name", nullable=False),
        _c("table_name", "char", "Fully qualified table name", nullable=False),
        _c("table_type", "char", "One of: table, view", nullable=False),
        _c("utype", "char", "utype if the table corresponds to a data model"),
        _c("description", "char", "Brief description of the table"),
        _c("table_index", "int", "Recommended sort order when listing tables"),
    ),
    "columns": (
        _c("table_name", "char", "Fully qualified table name", nullable=False),
        _c("column_name", "char", "Column name", nullable=False),
        _c("datatype", "char", "VOTable datatype of the column", nullable=False),
        _c("arraysize", "char", "VOTable arraysize of the column"),
        _c("xtype", "char", "VOTable xtype of the column"),
        _c("size", "int", "Deprecated: arraysize as an integer"),
        _c("description", "char", "Brief description of the column"),
        _c("utype", "char", "utype of the column, if any"),
        _c("unit", "char", "Unit in VO standard format"),
        _c("ucd", "char", "UCD of the column, if any"),
        _c("indexed", "int", "1 if the column is indexed, else 0", nullable=False),
        _c("principal", "int", "1 if the column is principal, else 0", nullable=False),
        _c("std", "int", "1 if the column is defined by a standard, else 0", nullable=False),
        _c("column_index", "int", "Recommended sort order when listing columns"),
    ),
    "keys": (
        _c("key_id", "char", "Unique key identifier", nullable=False),
        _c("from_table", "char", "Fully qualified table name", nullable=False),
        _c("target_table", "char", "Fully qualified table name", nullable=False),
        _c("description", "char", "Description of this key"),
        _c("utype", "char", "utype of this key"),
    ),
    "key_columns": (
        _c("key_id", "char", "Key identifier from TAP_SCHEMA.keys", nullable=False),
        _c("from_column", "char", "Key column name in the from_table", nullable=False),
        _c("target_column", "char", "Key column name in the target_table", nullable=False),
    ),
}

SCHEMAS = (
    SchemaInfo("ivoa", "IVOA-defined tables: the ObsCore view of the data lake"),
    SchemaInfo("lake", "The data lake's namespace: files, collections, replicas and RSEs"),
    SchemaInfo(
        "provenance",
        "IVOA Provenance DM 1.0 (shaped like the ProvTAP draft): who made what from what",
        "ivo://ivoa.net/std/ProvenanceDM",
    ),
    SchemaInfo("TAP_SCHEMA", "Metadata of the tables this service publishes"),
)

KEYS = (
    *PROVENANCE_KEYS,
    ForeignKey(
        "lake_replicas_file",
        "lake.replicas",
        "lake.files",
        (("did_id", "did_id"),),
        "The file a replica holds",
    ),
    ForeignKey(
        "lake_replicas_rse",
        "lake.replicas",
        "lake.rses",
        (("rse", "rse"),),
        "The storage element a replica is on",
    ),
    ForeignKey(
        "tap_schema_tables_schema",
        "TAP_SCHEMA.tables",
        "TAP_SCHEMA.schemas",
        (("schema_name", "schema_name"),),
        "The schema a table is in",
    ),
    ForeignKey(
        "tap_schema_columns_table",
        "TAP_SCHEMA.columns",
        "TAP_SCHEMA.tables",
        (("table_name", "table_name"),),
        "The table a column is in",
    ),
    ForeignKey(
        "tap_schema_keys_from",
        "TAP_SCHEMA.keys",
        "TAP_SCHEMA.tables",
        (("from_table", "table_name"),),
        "The table a key starts from",
    ),
    ForeignKey(
        "tap_schema_keys_target",
        "TAP_SCHEMA.keys",
        "TAP_SCHEMA.tables",
        (("target_table", "table_name"),),
        "The table a key points to",
    ),
    ForeignKey(
        "tap_schema_key_columns_key",
        "TAP_SCHEMA.key_columns",
        "TAP_SCHEMA.keys",
        (("key_id", "key_id"),),
        "The key a column pair belongs to",
    ),
)


def _literal_rows(columns: Sequence[TapColumn], rows: Iterable[Sequence[Any]]) -> Select[Any]:
    """A constant relation: ``SELECT v1 AS c1, ... UNION ALL ...`` (portable, no VALUES)."""
    selects: list[Select[Any]] = []
    for row in rows:
        values: list[Any] = []
        for column, value in zip(columns, row, strict=True):
            sql_type = String() if column.datatype == "char" else Integer()
            expr = cast(null(), sql_type) if value is None else literal(value, sql_type)
            values.append(expr.label(column.name))
        selects.append(select(*values))
    if not selects:
        empty: list[Any] = [cast(null(), String).label(c.name) for c in columns]
        return select(*empty).where(and_(literal(1) == 0))
    if len(selects) == 1:
        return selects[0]
    return union_all(*selects).subquery().select()


def _size(column: TapColumn) -> int | None:
    if column.arraysize and column.arraysize.rstrip("*").isdigit():
        return int(column.arraysize.rstrip("*"))
    return None


def _tap_schema_rows(name: str, tables: Sequence[TapTable]) -> list[tuple[Any, ...]]:
    if name == "schemas":
        return [(s.name, s.utype, s.description, i) for i, s in enumerate(SCHEMAS)]
    if name == "tables":
        return [
            (tb.schema, tb.qualified_name, tb.table_type, tb.utype, tb.description, i)
            for i, tb in enumerate(tables)
        ]
    if name == "columns":
        return [
            (
                tb.qualified_name,
                metadata_name(col),
                col.datatype,
                col.arraysize,
                col.xtype,
                _size(col),
                col.description,
                col.utype,
                col.unit,
                col.ucd,
                int(col.indexed),
                int(col.principal),
                int(col.std),
                i,
            )
            for tb in tables
            for i, col in enumerate(tb.columns)
        ]
    if name == "keys":
        return [(k.key_id, k.from_table, k.target_table, k.description, None) for k in KEYS]
    return [(k.key_id, a, b) for k in KEYS for a, b in k.columns]


def _tap_schema_table(name: str, description: str) -> TapTable:
    columns = _TAP_SCHEMA_COLUMNS[name]

    def relation(context: RelationContext) -> Select[Any]:
        del context
        return _literal_rows(columns, _tap_schema_rows(name, ALL_TABLES))

    return TapTable("TAP_SCHEMA", name, description, columns, relation, table_type="table")


TAP_SCHEMA_TABLES = (
    _tap_schema_table("schemas", "The schemas published by this service"),
    _tap_schema_table("tables", "The tables published by this service"),
    _tap_schema_table("columns", "The columns of the published tables"),
    _tap_schema_table("keys", "Foreign keys between published tables"),
    _tap_schema_table("key_columns", "The columns of the foreign keys"),
)

ALL_TABLES: tuple[TapTable, ...] = (
    OBSCORE,
    *LAKE_TABLES,
    *PROVENANCE_TABLES,
    *TAP_SCHEMA_TABLES,
)


class TableSet:
    """The tables a query may name: the published ones plus the request's uploads."""

    def __init__(self, tables: Iterable[TapTable] = ALL_TABLES) -> None:
        self._tables = {tb.qualified_name.lower(): tb for tb in tables}

    def __iter__(self) -> Any:
        return iter(self._tables.values())

    def find(self, schema: str | None, name: str) -> TapTable | None:
        """The table ``schema.name`` (case-insensitive); without a schema, a unique match."""
        if schema is not None:
            return self._tables.get(f"{schema}.{name}".lower())
        matches = [tb for tb in self._tables.values() if tb.name.lower() == name.lower()]
        return matches[0] if len(matches) == 1 else None

    def with_tables(self, extra: Iterable[TapTable]) -> TableSet:
        """A new set with ``extra`` (the uploads) added."""
        return TableSet([*self._tables.values(), *extra])
