"""SQL tables of the catalogue; the characterisation's columns come from the ObsCore mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from catalogue.obscore import OBSCORE_FIELDS, FieldKind

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite's rowid alias must be INTEGER


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware, on both engines."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """SQLite keeps naive UTC text; PostgreSQL keeps timestamptz."""
        if value is None:
            return None
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        """Attach UTC to what SQLite returns naive."""
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


Timestamp = UTCDateTime()

scope = Table(
    "scope",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("created_at", Timestamp, nullable=False),
)

rse = Table(
    "rse",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("base_url", Text, nullable=False),
    Column("qos_class", String(64)),
    Column("deterministic", Boolean, nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

did = Table(
    "did",
    metadata,
    Column("id", Id, primary_key=True),
    Column("scope", String(64), ForeignKey("scope.name"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("did_type", String(9), nullable=False),
    Column("bytes", BigInteger),
    Column("adler32", String(8)),
    Column("md5", String(32)),
    Column("guid", String(36)),
    Column("is_open", Boolean),
    Column("length", BigInteger),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("deleted_at", Timestamp),  # a tombstone: the name is never reused
    # A harvested record its source no longer has: kept and shown by name, left out of
    # searches (catalogue/harvest.py).
    Column("withdrawn_at", Timestamp),
    # Hidden until this moment from readers without rights on ``embargo_scope``
    # (catalogue/embargo.py); NULL for a public record.
    Column("embargo_until", Timestamp),
    Column("embargo_scope", String(64)),
    UniqueConstraint("scope", "name"),
    Index(None, "created_at"),
    Index(None, "did_type", "name"),
)

attachment = Table(
    "attachment",
    metadata,
    Column("parent_id", Id, ForeignKey("did.id"), nullable=False),
    Column("child_id", Id, ForeignKey("did.id"), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    PrimaryKeyConstraint("parent_id", "child_id"),
    Index(None, "child_id"),
)

replica = Table(
    "replica",
    metadata,
    Column("did_id", Id, ForeignKey("did.id"), nullable=False),
    Column("rse_id", Integer, ForeignKey("rse.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("state", String(11), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    PrimaryKeyConstraint("did_id", "rse_id"),
    Index(None, "rse_id"),
)

# One row per scalar value; a list value has one row per element (position 0..n-1), so
# ``contains`` and ``in`` are index lookups. ``value`` keeps the exact value as JSON.
did_meta = Table(
    "did_meta",
    metadata,
    Column("did_id", Id, ForeignKey("did.id"), nullable=False),
    Column("key", String(128), nullable=False),
    Column("position", Integer, nullable=False),
    Column("value_type", String(16), nullable=False),  # list elements: "list:integer"
    Column("v_text", Text),
    Column("v_num", Float),
    Column("v_time", Timestamp),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("did_id", "key", "position"),
    Index(None, "key", "v_text"),
    Index(None, "key", "v_num"),
    Index(None, "key", "v_time"),
)

_SQL_TYPES: dict[FieldKind, TypeEngine[Any]] = {
    FieldKind.TEXT: Text(),
    FieldKind.INTEGER: BigInteger(),
    FieldKind.FLOAT: Float(),
    FieldKind.TIMESTAMP: Timestamp,
}
_INDEXED = (
    "obs_collection",
    "obs_publisher_did",
    "dataproduct_type",
    "calib_level",
    "facility_name",
    "instrument_name",
    "target_name",
)

characterisation = Table(
    "characterisation",
    metadata,
    Column("did_id", Id, ForeignKey("did.id"), primary_key=True),
    *(Column(f.name, _SQL_TYPES[f.kind]) for f in OBSCORE_FIELDS),
    # The HEALPix depth-29 NESTED cell of (s_ra, s_dec): point predicates (ADQL
    # ``CONTAINS(POINT(s_ra, s_dec), ...)``) become B-tree range scans on it.
    Column("s_hpx", BigInteger),
    *(Index(None, name) for name in _INDEXED),
    Index(None, "s_hpx"),
    Index(None, "s_dec"),
)

#: Columns of ``characterisation`` that are the store's own, not ObsCore fields.
CHARACTERISATION_INTERNAL = frozenset({"did_id", "s_hpx"})

# A DID's extent: its MOC (normalised depth-29 ranges, docs/decisions/0001-coverage.md) and its
# time and wavelength ranges; for a collection, the aggregate of its members'.
coverage = Table(
    "coverage",
    metadata,
    Column("did_id", Id, ForeignKey("did.id"), primary_key=True),
    Column("moc", LargeBinary),
    Column("moc_order", SmallInteger),
    Column("sky_fraction", Float),
    Column("t_min", Float),
    Column("t_max", Float),
    Column("em_min", Float),
    Column("em_max", Float),
    Index(None, "t_min"),
    Index(None, "em_min"),
)


# The spatial index: each DID's MOC as at most a few dozen aligned HEALPix cells, written as
# depth-29 ranges [lo, hi). A B-tree on lo answers "which cells start inside the query ranges"
# and "which cells contain a query range's start" (coverage_query.py).
coverage_cell = Table(
    "coverage_cell",
    metadata,
    Column("lo", BigInteger, nullable=False),
    Column("hi", BigInteger, nullable=False),
    Column("did_id", Id, ForeignKey("did.id"), nullable=False),
    Index(None, "lo", "hi", "did_id"),
    Index(None, "did_id"),
)

# The distinct categorical ObsCore values (obscore.SUMMARY_FIELDS) among a collection's members,
# kept up to date with its extent; ``v_num`` repeats numeric ones for comparisons.
collection_value = Table(
    "collection_value",
    metadata,
    Column("did_id", Id, ForeignKey("did.id"), nullable=False),
    Column("field", String(32), nullable=False),
    Column("v_text", Text, nullable=False),
    Column("v_num", Float),
    PrimaryKeyConstraint("did_id", "field", "v_text"),
    Index(None, "field", "v_text"),
    Index(None, "field", "v_num"),
)


# UWS 1.1 jobs of the TAP service (bridges/tap/uws.py), kept here so that they survive a
# restart and every service process sees the same job list.
uws_job = Table(
    "uws_job",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("run_id", Text),
    Column("owner", Text),
    Column("phase", String(12), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("started_at", Timestamp),
    Column("ended_at", Timestamp),
    Column("destruction_at", Timestamp, nullable=False),
    Column("execution_duration", Integer, nullable=False),  # seconds; 0 means unlimited
    Column("quote", Timestamp),
    Column("parameters", Text, nullable=False),  # a JSON object of the job's parameters
    Column("service_url", Text, nullable=False),  # the base URL the job was created under
    Column("viewer", Text),  # JSON: what its owner may see; the job runs with that view
    Column("error_type", String(9)),  # "transient" or "fatal"
    Column("error_message", Text),
    Index(None, "phase"),
    Index(None, "created_at"),
    Index(None, "destruction_at"),
)

# A job's results (TAP has one, ``result``), stored whole so that any process can serve it.
uws_result = Table(
    "uws_result",
    metadata,
    Column("job_id", String(36), ForeignKey("uws_job.job_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("mime_type", String(128), nullable=False),
    Column("content", LargeBinary, nullable=False),
    PrimaryKeyConstraint("job_id", "name"),
)

# Inline (``param:``) uploads sent with an async job, kept until the job runs.
uws_upload = Table(
    "uws_upload",
    metadata,
    Column("job_id", String(36), ForeignKey("uws_job.job_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    PrimaryKeyConstraint("job_id", "name"),
)


# Harvesting the VO (catalogue/harvest.py, docs/harvest.md). A source's name is also the
# scope its records live in; ``parameters`` (JSON) fix what the name means.
harvest_source = Table(
    "harvest_source",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), ForeignKey("scope.name"), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("parameters", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

harvest_run = Table(
    "harvest_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", Integer, ForeignKey("harvest_source.id"), nullable=False),
    Column("caller", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("ended_at", Timestamp),
    Column("added", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("withdrawn", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("problems", Text, nullable=False),  # JSON [[where, reason], ...], the first 1,000
    Column("error", Text),
    Column("resume_after", Text),
    Index(None, "source_id", "started_at"),
)

# One row per harvested DID: its remote identity, the digest re-harvests compare, and the
# last run that saw it (a complete run withdraws the source's records it did not see).
harvest_record = Table(
    "harvest_record",
    metadata,
    Column("did_id", Id, ForeignKey("did.id"), primary_key=True),
    Column("source_id", Integer, ForeignKey("harvest_source.id"), nullable=False),
    Column("remote_id", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("first_run_id", Integer, ForeignKey("harvest_run.id"), nullable=False),
    Column("last_run_id", Integer, ForeignKey("harvest_run.id"), nullable=False),
    Column("first_harvested", Timestamp, nullable=False),
    Column("last_harvested", Timestamp, nullable=False),
    UniqueConstraint("source_id", "remote_id"),
    Index(None, "source_id", "last_run_id"),
)


# Provenance (IVOA ProvDM 1.0, docs/provenance.md). An entity is a lake DID or an external
# resource named by URI; relations name entities and activities by these ids. Every relation
# is indexed from both ends, so lineage walks up and down with index lookups.
prov_entity = Table(
    "prov_entity",
    metadata,
    Column("id", Id, primary_key=True),
    Column("did_id", Id, ForeignKey("did.id"), unique=True),
    Column("uri", Text, unique=True),
    Column("created_at", Timestamp, nullable=False),
    CheckConstraint("(did_id IS NULL) <> (uri IS NULL)", name="did_or_uri"),
)

prov_activity = Table(
    "prov_activity",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("activity_type", String(64)),  # ProvDM ActivityDescription.type: Reduction, ...
    Column("status", String(16), nullable=False),
    Column("start_time", Timestamp),
    Column("end_time", Timestamp),
    Column("comment", Text),
    Column("recorded_at", Timestamp, nullable=False),
    Column("recorded_by", Text, nullable=False),  # the caller's subject
    Index(None, "name", "start_time"),
    Index(None, "start_time"),
)

# People, organisations and software (with its version); one row per (type, name, version).
prov_agent = Table(
    "prov_agent",
    metadata,
    Column("id", Id, primary_key=True),
    Column("agent_type", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("version", String(64), nullable=False),  # "" when not versioned
    Column("affiliation", Text),
    Column("url", Text),
    Column("comment", Text),
    UniqueConstraint("agent_type", "name", "version"),
)

# Configuration (ProvDM ActivityConfiguration): typed as did_meta, with ParameterDescription's
# unit and UCD; ``value`` is ProvDM's string form, the typed columns are what queries compare.
prov_parameter = Table(
    "prov_parameter",
    metadata,
    Column("activity_id", Id, ForeignKey("prov_activity.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("value", Text, nullable=False),
    Column("value_type", String(16), nullable=False),
    Column("v_text", Text),
    Column("v_num", Float),
    Column("v_time", Timestamp),
    Column("unit", String(64)),
    Column("ucd", String(128)),
    PrimaryKeyConstraint("activity_id", "name"),
    Index(None, "name", "v_num"),
    Index(None, "name", "v_text"),
)

prov_usage = Table(  # used
    "prov_usage",
    metadata,
    Column("activity_id", Id, ForeignKey("prov_activity.id"), nullable=False),
    Column("entity_id", Id, ForeignKey("prov_entity.id"), nullable=False),
    Column("role", String(128)),
    Column("time", Timestamp),
    PrimaryKeyConstraint("activity_id", "entity_id"),
    Index(None, "entity_id", "activity_id"),
)

prov_generation = Table(  # wasGeneratedBy: an entity has at most one generating activity
    "prov_generation",
    metadata,
    Column("entity_id", Id, ForeignKey("prov_entity.id"), primary_key=True),
    Column("activity_id", Id, ForeignKey("prov_activity.id"), nullable=False),
    Column("role", String(128)),
    Column("time", Timestamp),
    Index(None, "activity_id", "entity_id"),
)

prov_derivation = Table(  # wasDerivedFrom, as asserted (the activity path is usage+generation)
    "prov_derivation",
    metadata,
    Column("generated_id", Id, ForeignKey("prov_entity.id"), nullable=False),
    Column("used_id", Id, ForeignKey("prov_entity.id"), nullable=False),
    Column("activity_id", Id, ForeignKey("prov_activity.id")),
    PrimaryKeyConstraint("generated_id", "used_id"),
    Index(None, "used_id", "generated_id"),
)

prov_association = Table(  # wasAssociatedWith
    "prov_association",
    metadata,
    Column("activity_id", Id, ForeignKey("prov_activity.id"), nullable=False),
    Column("agent_id", Id, ForeignKey("prov_agent.id"), nullable=False),
    Column("role", String(128)),
    PrimaryKeyConstraint("activity_id", "agent_id"),
    Index(None, "agent_id"),
)

prov_attribution = Table(  # wasAttributedTo
    "prov_attribution",
    metadata,
    Column("entity_id", Id, ForeignKey("prov_entity.id"), nullable=False),
    Column("agent_id", Id, ForeignKey("prov_agent.id"), nullable=False),
    Column("role", String(128)),
    PrimaryKeyConstraint("entity_id", "agent_id"),
    Index(None, "agent_id"),
)

prov_communication = Table(  # wasInformedBy
    "prov_communication",
    metadata,
    Column("informed_id", Id, ForeignKey("prov_activity.id"), nullable=False),
    Column("informant_id", Id, ForeignKey("prov_activity.id"), nullable=False),
    PrimaryKeyConstraint("informed_id", "informant_id"),
    Index(None, "informant_id"),
)

# Search (docs/search.md). Every write that changes how a DID looks in search adds one outbox
# row per DID in its own transaction; the Elasticsearch worker (indexer/) drains them in order.
search_outbox = Table(
    "search_outbox",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("did_id", Id, nullable=False),  # no foreign key: a row outlives nothing it names
    Column("created_at", Timestamp, nullable=False),
    Index(None, "did_id"),
)

# The searchable text of each live DID: the space-joined catalogue.search.tokens() of its
# names, titles, targets, collections, facilities, string metadata and ancestors' names
# (catalogue/store/search_docs.py). A tombstone has none.
search_document = Table(
    "search_document",
    metadata,
    Column("did_id", Id, ForeignKey("did.id"), primary_key=True),
    Column("text", Text, nullable=False),
)

#: The full-text index over ``search_document.text``, created by migration 0003 only and
#: absent from ``metadata``: SQLite's FTS5 table (with its shadow tables and the triggers that
#: keep it in step); PostgreSQL's generated column ``text_tsv`` (``to_tsvector('simple',
#: text)``, stored so that ranking reads it instead of parsing every hit's text) and its GIN
#: index.
SEARCH_FTS = "search_fts"
SEARCH_TSV = "text_tsv"
SEARCH_TSV_INDEX = "ix_search_document_text_tsv"
ENGINE_SPECIFIC_OBJECTS = frozenset(
    {
        SEARCH_FTS,
        *(f"{SEARCH_FTS}_{shadow}" for shadow in ("data", "idx", "docsize", "config")),
        *(f"search_document_{event}" for event in ("ai", "ad", "au")),
        SEARCH_TSV,
        SEARCH_TSV_INDEX,
    }
)


# The audit log (catalogue/store/audit.py): one row per write, in the write's transaction.
audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Timestamp, nullable=False),
    Column("subject", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    Index(None, "at"),
    Index(None, "subject", "at"),
)


# Following a Rucio server (catalogue/rucio.py, docs/rucio.md). A run pulls the server's scopes,
# RSEs and DIDs; ``checkpoint`` (JSON) is where a failed run resumes. ``rucio_rse`` keeps what
# lakecat's RSE row has no column for; ``rucio_did`` marks the DIDs Rucio owns, with the digest
# a sync compares and the metadata keys it wrote (a key Rucio drops is dropped, lakecat's own
# keys stay).
rucio_sync_run = Table(
    "rucio_sync_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False),
    Column("account", String(64), nullable=False),
    Column("scopes", Text, nullable=False),  # JSON list; [] means every scope
    Column("mode", String(16), nullable=False),
    Column("caller", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("ended_at", Timestamp),
    Column("since", Timestamp),  # an incremental run's lower bound on Rucio's timestamps
    Column("server_time", Timestamp),  # Rucio's clock (its Date header) when the run started
    Column("added", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("deleted", Integer, nullable=False),
    Column("attached", Integer, nullable=False),
    Column("detached", Integer, nullable=False),
    Column("conflicts", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("problems", Text, nullable=False),  # JSON [[where, reason, conflict], ...]
    Column("error", Text),
    Column("checkpoint", Text, nullable=False),  # JSON {"scope": {"phase": ..., "after": ...}}
    Index(None, "url", "started_at"),
)

rucio_rse = Table(
    "rucio_rse",
    metadata,
    Column("rse_id", Integer, ForeignKey("rse.id"), primary_key=True),
    Column("rucio_id", String(32), nullable=False),
    Column("rse_type", String(16)),
    Column("protocols", Text, nullable=False),  # JSON list, as Rucio answers GET /rses/{rse}
    Column("attributes", Text, nullable=False),  # JSON object
    Column("synced_at", Timestamp, nullable=False),
)

rucio_did = Table(
    "rucio_did",
    metadata,
    Column("did_id", Id, ForeignKey("did.id"), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("meta_keys", Text, nullable=False),  # JSON list of the keys the last sync wrote
    Column("first_run_id", Integer, nullable=False),
    Column("last_run_id", Integer, nullable=False),
    Column("synced_at", Timestamp, nullable=False),
)
