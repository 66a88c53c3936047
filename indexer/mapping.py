"""The index: settings, analyzer and mapping of the one-document-per-DID index (docs/search.md).

Documents and queries are tokenised by :func:`catalogue.search.tokens` before they reach
Elasticsearch, so the ``text`` field only splits on whitespace and lower-cases: both
backends see the same terms. Metadata keys are free-form, so their values go to typed
sub-objects by dynamic templates (``m_s.<key>`` keyword, ``m_n.<key>`` double, ``m_b.<key>``
boolean, ``m_t.<key>`` microseconds; ``l_*`` for list elements). Timestamps are integer
microseconds since 1970 (UTC), exact like the store's at any year. Each DID's MOC is a list
of ``long_range`` cells (depth-29 ``[lo, hi)``, all below 2^62, exact as ``long_range``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from catalogue.obscore import OBSCORE_FIELDS, FieldKind
from catalogue.search import SearchFacet

ANALYZER = "lakecat_terms"
# Lucene refuses terms over 32,766 bytes; longer keyword values are kept in _source but not
# indexed (a documented deviation: such values do not match filters in Elasticsearch).
_IGNORE_ABOVE = 8191
_KEYWORD = {"type": "keyword", "ignore_above": _IGNORE_ABOVE}
_MICROS = {"type": "long"}

#: Typed sub-objects of metadata: scalar values (``m_*``) and list elements (``l_*``).
SCALAR_FIELDS = {"string": "m_s", "number": "m_n", "boolean": "m_b", "datetime": "m_t"}
ELEMENT_FIELDS = {"string": "l_s", "number": "l_n", "boolean": "l_b", "datetime": "l_t"}
_TYPED = {"string": _KEYWORD, "number": {"type": "double"}, "boolean": {"type": "boolean"}}

_OBSCORE_TYPES: dict[FieldKind, dict[str, Any]] = {
    FieldKind.TEXT: _KEYWORD,
    FieldKind.INTEGER: {"type": "long"},
    FieldKind.FLOAT: {"type": "double"},
    FieldKind.TIMESTAMP: _MICROS,
}


def field_key(key: str) -> str:
    """A metadata key as a field name: ``.`` would make object paths, so it becomes ``~``."""
    return key.replace(".", "~")


def micros(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC, the indexed form of every timestamp."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def index_settings(shards: int, replicas: int) -> dict[str, Any]:
    """Shards, replicas and the whitespace + lowercase analyzer."""
    return {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        # every metadata key adds up to two fields; the default limit (1,000) is low for a lake
        "mapping": {"total_fields": {"limit": 20_000}},
        "analysis": {
            "analyzer": {
                ANALYZER: {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}
            }
        },
    }


def _dynamic_templates() -> list[dict[str, Any]]:
    templates: list[dict[str, Any]] = []
    for kind, prefix in (*SCALAR_FIELDS.items(), *ELEMENT_FIELDS.items()):
        mapping = _MICROS if kind == "datetime" else _TYPED[kind]
        templates.append({prefix: {"path_match": f"{prefix}.*", "mapping": mapping}})
    return templates


def index_mappings() -> dict[str, Any]:
    """The mapping: strict at the top, dynamic (by template) only inside metadata objects."""
    properties: dict[str, Any] = {
        "did_id": {"type": "long"},
        "scope": {"type": "keyword"},
        "name": {"type": "keyword"},
        "did_type": {"type": "keyword"},
        "text": {"type": "text", "analyzer": ANALYZER},
        "bytes": {"type": "long"},  # the store's column, for filters
        "size": {"type": "long"},  # the SIZE sort key: a file's bytes, none for collections
        "length": {"type": "long"},
        "guid": {"type": "keyword"},
        "adler32": {"type": "keyword"},
        "md5": {"type": "keyword"},
        "created_at": _MICROS,
        "updated_at": _MICROS,
        # the DID's embargo (catalogue/embargo.py): hidden until then but to embargo_scope's readers
        "embargo_until": _MICROS,
        "embargo_scope": {"type": "keyword"},
        # t_hi / em_hi: the range's end, or its start when it has none (the store's rule)
        "t_min": {"type": "double"},
        "t_hi": {"type": "double"},
        "em_min": {"type": "double"},
        "em_hi": {"type": "double"},
        "moc": {"type": "long_range"},
        "moc_order": {"type": "byte"},
        "parents": {"type": "keyword"},
        "rses": {"type": "keyword"},
        "f": {"properties": {facet.value: {"type": "keyword"} for facet in SearchFacet}},
        "c": {"properties": {f.name: _OBSCORE_TYPES[f.kind] for f in OBSCORE_FIELDS}},
        # a collection's distinct member values (catalogue.obscore.SUMMARY_FIELDS): nested,
        # so "some value differs" is one nested query, as the store's EXISTS is
        "summary": {
            "type": "nested",
            "properties": {
                "field": {"type": "keyword"},
                "v_text": _KEYWORD,
                "v_num": {"type": "double"},
            },
        },
        "m_keys": {"type": "keyword"},  # every metadata key, empty lists included
        "m_scalar": {"type": "keyword"},  # the keys whose value is not a list
    }
    for prefix in (*SCALAR_FIELDS.values(), *ELEMENT_FIELDS.values()):
        properties[prefix] = {"type": "object", "dynamic": True}
    return {
        "dynamic": "strict",
        "date_detection": False,
        "numeric_detection": False,
        "dynamic_templates": _dynamic_templates(),
        "properties": properties,
    }


def new_index_name(alias: str, now: datetime | None = None) -> str:
    """``<alias>-<UTC timestamp>``: a fresh index behind the alias."""
    moment = now or datetime.now(UTC)
    return f"{alias}-{moment.strftime('%Y%m%d%H%M%S%f')}"


def building_alias(alias: str) -> str:
    """The alias of an index being rebuilt: the worker writes to it too."""
    return f"{alias}-building"
