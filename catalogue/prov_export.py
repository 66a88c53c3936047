"""A lineage as a W3C PROV document: PROV-JSON (W3C Member Submission 2013) and PROV-N (W3C REC).

Pure functions over :class:`~catalogue.provenance.Lineage`. Both serialisations are built from
one list of statements, so they always say the same thing. Identifiers are qualified names:

- a lake DID is ``lake:SCOPE%3ANAME`` in the namespace ``ivo://AUTHORITY/lake?`` (so its IRI is
  the default ``obs_publisher_did`` of an ObsCore row, percent-encoded);
- activities and agents are ``lakeprov:activity/N`` and ``lakeprov:agent/N``
  (``ivo://AUTHORITY/prov#``);
- an external entity's URI is split into a namespace (``ext1``, ``ext2``, ...) and a local name.

Local names are percent-encoded outside PROV-N's unescaped characters (PROV-N §3.7.3
``PN_LOCAL``), so no backslash escapes are needed and the ``prov`` package reads both back.
Activity parameters (ProvDM ActivityConfiguration) are written as entities of type
``voprov:Parameter`` that the activity used with the parameter's name as role, the ProvDM
"Setup" usage (ProvDM 1.0 §2.7), which keeps the document plain W3C PROV.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from catalogue.provenance import AgentType, Lineage, StoredParameter

VOPROV = "http://www.ivoa.net/documents/ProvenanceDM/ns/voprov/"
_AGENT_TYPES = {
    AgentType.PERSON: "prov:Person",
    AgentType.ORGANIZATION: "prov:Organization",
    AgentType.SOFTWARE: "prov:SoftwareAgent",
}
_SAFE_LOCAL = re.compile(r"[A-Za-z0-9_]")
_NODES = frozenset({"entity", "activity", "agent"})


@dataclass(frozen=True, slots=True)
class QName:
    """A qualified-name value (written ``'p:x'`` in PROV-N, typed ``xsd:QName`` in JSON)."""

    text: str


@dataclass(frozen=True, slots=True)
class ProvNames:
    """Where identifiers live: the IVOA authority; the DataLink URL a DID's ID is appended to."""

    authority: str = "lakecat.invalid"
    links_url: str | None = None  # e.g. https://host/datalink/links?ID=


@dataclass(slots=True)
class _Statement:
    kind: str  # entity, activity, agent, used, wasGeneratedBy, ...
    id: str | None
    args: list[tuple[str, Any]]  # positional PROV-N arguments, named as in PROV-JSON
    attributes: list[tuple[str, Any]] = field(default_factory=list)


def local_name(text: str) -> str:
    """A PROV-N local name: letters, digits and ``_ . - /`` kept (not first or last), rest %XX."""
    out = []
    for i, char in enumerate(text):
        inner = 0 < i < len(text) - 1
        if _SAFE_LOCAL.match(char) or (inner and char in ".-/"):
            out.append(char)
        else:
            out.append("".join(f"%{byte:02X}" for byte in char.encode()))
    return "".join(out) or "_"


class _Document:
    """Statements under construction, and the namespaces they use."""

    def __init__(self, names: ProvNames) -> None:
        self.names = names
        self.prefixes = {
            "lake": f"ivo://{names.authority}/lake?",
            "lakeprov": f"ivo://{names.authority}/prov#",
            "voprov": VOPROV,
        }
        self._external: dict[str, str] = {}
        self.statements: list[_Statement] = []
        self._blank = 0

    def external(self, uri: str) -> str:
        """The qualified name of an external URI, declaring its namespace."""
        cut = max(uri.rfind(c) for c in "/#?:")
        space, local = uri[: cut + 1], uri[cut + 1 :]
        if not local:
            space, local = uri[:cut], uri[cut:]
        prefix = self._external.get(space)
        if prefix is None:
            prefix = self._external[space] = f"ext{len(self._external) + 1}"
            self.prefixes[prefix] = space
        return f"{prefix}:{local_name(local)}"

    def blank(self) -> str:
        self._blank += 1
        return f"_:r{self._blank}"

    def add(self, kind: str, ident: str | None, args: list[tuple[str, Any]], **attrs: Any) -> None:
        attributes = [(k.replace("__", ":"), v) for k, v in attrs.items() if v is not None]
        self.statements.append(_Statement(kind, ident, args, attributes))


def _entity_id(doc: _Document, lineage: Lineage, entity_id: int) -> str:
    entity = lineage.entities[entity_id]
    if entity.did_key is not None:
        return f"lake:{local_name(str(entity.did_key))}"
    return doc.external(str(entity.uri))


def _activity_id(activity_id: int) -> str:
    return f"lakeprov:activity/{activity_id}"


def _agent_id(agent_id: int) -> str:
    return f"lakeprov:agent/{agent_id}"


def _nodes(doc: _Document, lineage: Lineage) -> None:
    for entity_id in sorted(lineage.entities, key=lambda i: (lineage.entity_levels[i], i)):
        entity = lineage.entities[entity_id]
        location = entity.uri
        if entity.did_key is not None and doc.names.links_url:
            location = doc.names.links_url + quote(str(entity.did_key), safe="")
        doc.add(
            "entity",
            _entity_id(doc, lineage, entity_id),
            [],
            prov__label=entity.key,
            prov__location=location,
            lakeprov__didType=entity.did_type.value if entity.did_type else None,
        )
    for activity_id in sorted(lineage.activities):
        a = lineage.activities[activity_id]
        doc.add(
            "activity",
            _activity_id(activity_id),
            [("prov:startTime", a.start_time), ("prov:endTime", a.end_time)],
            prov__label=a.name,
            prov__type=a.activity_type,
            lakeprov__status=a.status.value,
            voprov__comment=a.comment,
        )
    for agent_id in sorted(lineage.agents):
        g = lineage.agents[agent_id]
        doc.add(
            "agent",
            _agent_id(agent_id),
            [],
            prov__type=QName(_AGENT_TYPES[g.type]),
            prov__label=g.name,
            voprov__version=g.version,
            voprov__affiliation=g.affiliation,
            voprov__url=g.url,
            voprov__comment=g.comment,
        )


def _parameters(doc: _Document, activity_id: int, parameters: list[StoredParameter]) -> None:
    for p in parameters:
        ident = f"{_activity_id(activity_id)}/parameter/{local_name(p.name)}"
        doc.add(
            "entity",
            ident,
            [],
            prov__type=QName("voprov:Parameter"),
            prov__label=p.name,
            prov__value=p.value,
            voprov__unit=p.unit,
            voprov__ucd=p.ucd,
        )
        doc.add(
            "used",
            doc.blank(),
            [
                ("prov:activity", _activity_id(activity_id)),
                ("prov:entity", ident),
                ("prov:time", None),
            ],
            prov__role=p.name,
            voprov__type="Setup",
        )


def _relations(doc: _Document, lineage: Lineage) -> None:
    def entity(entity_id: int) -> str:
        return _entity_id(doc, lineage, entity_id)

    for e in lineage.used:
        args = [("prov:activity", _activity_id(e.source)), ("prov:entity", entity(e.target))]
        doc.add("used", doc.blank(), [*args, ("prov:time", e.time)], prov__role=e.role)
    for e in lineage.generated:
        args = [("prov:entity", entity(e.source)), ("prov:activity", _activity_id(e.target))]
        doc.add("wasGeneratedBy", doc.blank(), [*args, ("prov:time", e.time)], prov__role=e.role)
    for e in lineage.derived:
        args = [("prov:generatedEntity", entity(e.source)), ("prov:usedEntity", entity(e.target))]
        doc.add("wasDerivedFrom", doc.blank(), args)
    for e in lineage.associated:
        args = [("prov:activity", _activity_id(e.source)), ("prov:agent", _agent_id(e.target))]
        doc.add("wasAssociatedWith", doc.blank(), [*args, ("prov:plan", None)], prov__role=e.role)
    for e in lineage.attributed:
        if e.source in lineage.entities:
            args = [("prov:entity", entity(e.source)), ("prov:agent", _agent_id(e.target))]
            doc.add("wasAttributedTo", doc.blank(), args, prov__role=e.role)
    for e in lineage.informed:
        args = [
            ("prov:informed", _activity_id(e.source)),
            ("prov:informant", _activity_id(e.target)),
        ]
        doc.add("wasInformedBy", doc.blank(), args)


def _build(lineage: Lineage, names: ProvNames) -> _Document:
    doc = _Document(names)
    _nodes(doc, lineage)
    for activity_id in sorted(lineage.parameters):
        if activity_id in lineage.activities:
            _parameters(doc, activity_id, lineage.parameters[activity_id])
    _relations(doc, lineage)
    return doc


# -- PROV-JSON -----------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, QName):
        return {"$": value.text, "type": "xsd:QName"}
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {"$": str(value), "type": "xsd:long"}
    if isinstance(value, float):
        return {"$": repr(value), "type": "xsd:double"}
    if isinstance(value, datetime):
        return {"$": value.isoformat(), "type": "xsd:dateTime"}
    return str(value)


def prov_json(lineage: Lineage, names: ProvNames) -> dict[str, Any]:
    """The lineage as a PROV-JSON document (a JSON object)."""
    doc = _build(lineage, names)
    out: dict[str, Any] = {"prefix": dict(doc.prefixes)}
    for s in doc.statements:
        record: dict[str, Any] = {}
        for key, value in s.args:
            if value is not None:
                record[key] = value.isoformat() if isinstance(value, datetime) else value
        for key, value in s.attributes:
            record[key] = _json_value(value)
        out.setdefault(s.kind, {})[s.id] = record
    return out


# -- PROV-N --------------------------------------------------------------------------------


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _n_value(value: Any) -> str:
    if isinstance(value, QName):
        return f"'{value.text}'"
    if isinstance(value, bool):
        return f'"{str(value).lower()}" %% xsd:boolean'
    if isinstance(value, int):
        return f'"{value}" %% xsd:long'
    if isinstance(value, float):
        return f'"{value!r}" %% xsd:double'
    if isinstance(value, datetime):
        return f'"{value.isoformat()}" %% xsd:dateTime'
    return _string(str(value))


def _n_argument(value: Any) -> str:
    if value is None:
        return "-"
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _n_statement(s: _Statement) -> str:
    # Relations go without their (blank) identifiers: PROV-N makes them optional.
    args = [str(s.id)] if s.kind in _NODES else []
    args += [_n_argument(value) for _, value in s.args]
    attributes = ", ".join(f"{k}={_n_value(v)}" for k, v in s.attributes)
    if attributes:
        args.append(f"[{attributes}]")
    return f"  {s.kind}({', '.join(args)})"


def _lines(doc: _Document) -> Iterator[str]:
    yield "document"
    for prefix, space in doc.prefixes.items():
        yield f"  prefix {prefix} <{space}>"
    yield ""
    yield from (_n_statement(s) for s in doc.statements)
    yield "endDocument"


def prov_n(lineage: Lineage, names: ProvNames) -> str:
    """The lineage as a PROV-N document."""
    return "\n".join(_lines(_build(lineage, names))) + "\n"
