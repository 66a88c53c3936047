"""VOSI 1.1 documents: capabilities (with TAPRegExt 1.0), availability, and the tableset.

All are ``text/xml``. Namespaces follow what the schemas define, not the document versions:
VOSI 1.1 keeps ``VOSICapabilities/v1.0`` and ``VOSITables/v1.0``, VODataService 1.2 keeps
``VODataService/v1.1``. Unprefixed child elements are unqualified, as those schemas say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from bridges.tap.formats import BINARY2, CSV, FORMATS, TABLEDATA, TSV
from bridges.tap.tables import (
    DATALINK_MIME,
    KEYS,
    OBSCORE_UTYPE,
    SCHEMAS,
    ForeignKey,
    SchemaInfo,
    TapColumn,
    TapTable,
    metadata_name,
)

VOSI_MIME = "text/xml"

_CAP = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
_AVL = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
_TAB = "http://www.ivoa.net/xml/VOSITables/v1.0"
_VR = "http://www.ivoa.net/xml/VOResource/v1.0"
_VS = "http://www.ivoa.net/xml/VODataService/v1.1"
_TR = "http://www.ivoa.net/xml/TAPRegExt/v1.0"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_TYPE = f"{{{_XSI}}}type"
_TAPREGEXT = "ivo://ivoa.net/std/TAPRegExt"

#: Output formats: the TAPRegExt 1.0 §2.4 identifier of each canonical MIME type, if any.
_FORMAT_IDS = {
    BINARY2: f"{_TAPREGEXT}#output-votable-binary2",
    TABLEDATA: f"{_TAPREGEXT}#output-votable-td",
    CSV: None,
    TSV: None,
}


@dataclass(frozen=True, slots=True)
class Feature:
    """One ADQL language feature: its form as TAPRegExt writes it, and an optional note."""

    form: str
    description: str | None = None


_GEOMETRY_FUNCTIONS = (
    *("POINT", "CIRCLE", "POLYGON", "BOX", "CONTAINS", "INTERSECTS"),
    *("DISTANCE", "AREA", "COORD1", "COORD2", "COORDSYS"),
)

#: ADQL features beyond ADQL 2.0's core, by TAPRegExt/ADQL 2.1 feature type.
ADQL_FEATURES: Mapping[str, tuple[Feature, ...]] = {
    f"{_TAPREGEXT}#features-adqlgeo": tuple(map(Feature, _GEOMETRY_FUNCTIONS)),
    f"{_TAPREGEXT}#features-adql-string": (
        Feature("LOWER"),
        Feature("UPPER"),
        Feature("ILIKE"),
    ),
    f"{_TAPREGEXT}#features-adql-sets": (
        Feature("UNION"),
        Feature("EXCEPT"),
        Feature("INTERSECT"),
    ),
    f"{_TAPREGEXT}#features-adql-common-table": (Feature("WITH"),),
    f"{_TAPREGEXT}#features-adql-type": (Feature("CAST"),),
    f"{_TAPREGEXT}#features-adql-offset": (Feature("OFFSET"),),
    f"{_TAPREGEXT}#features-udf": (
        Feature(
            "MOC(moc VARCHAR) -> REGION",
            "A MOC from its ASCII serialisation (MOC 2.0), e.g. MOC('2/16-20 3/100').",
        ),
        Feature(
            "MOC(order INTEGER, shape REGION) -> REGION",
            "The MOC of a CIRCLE, POLYGON or BOX at the given HEALPix order.",
        ),
    ),
}


#: IVOA SSO: a bearer token in ``Authorization`` (RFC 6750).
TOKEN_METHOD = "ivo://ivoa.net/sso#token"  # noqa: S105 - a standard identifier, no secret


def capabilities(
    base_url: str,
    *,
    datalink_url: str,
    sync_limit: int,
    async_limit: int,
    max_rec: int,
    default_rec: int | None = None,
    upload_limit_bytes: int,
    retention_period: int = 7 * 24 * 3600,
    features: Mapping[str, Sequence[Feature]] = ADQL_FEATURES,
    security_methods: Sequence[str] = (),
) -> bytes:
    """The VOSI capabilities of the TAP service at ``base_url`` (limits in seconds and rows).

    ``datalink_url`` is the full URL of the DataLink ``{links}`` endpoint, which lives at the
    service root rather than under the TAP base. Each of ``security_methods`` (IVOA SSO
    identifiers, e.g. ``ivo://ivoa.net/sso#token``) adds an interface of the TAP and DataLink
    capabilities at the same URL declaring it, beside the anonymous one (TAP 1.1 §2,
    VODataService: an interface without ``securityMethod`` is anonymous).
    """
    root = ET.Element(f"{{{_CAP}}}capabilities", {"xmlns:tr": _TR, "xmlns:vs": _VS})
    root.set("xmlns:vr", _VR)
    tap = _capability(
        root, "ivo://ivoa.net/std/TAP", base_url, version="1.1", secured=security_methods
    )
    tap.set(_XSI_TYPE, "tr:TableAccess")
    description = ET.Element("description")
    description.text = (
        f"ADQL queries on the data lake's ObsCore view and file tables. Synchronous queries "
        f"stop after {sync_limit} s, asynchronous jobs after {async_limit} s."
    )
    tap.insert(0, description)
    _text(tap, "dataModel", "ObsCore-1.1", {"ivo-id": OBSCORE_UTYPE})
    _language(tap, features)
    for mime, aliases in _output_formats():
        element = _text(tap, "outputFormat", None, _optional({"ivo-id": _FORMAT_IDS[mime]}))
        _text(element, "mime", mime)
        for alias in aliases:
            _text(element, "alias", alias)
    for method in ("upload-inline", "upload-http"):
        ET.SubElement(tap, "uploadMethod", {"ivo-id": f"{_TAPREGEXT}#{method}"})
    _limits(tap, "retentionPeriod", retention_period, retention_period)
    _limits(tap, "executionDuration", async_limit, async_limit)
    _limits(tap, "outputLimit", default_rec or max_rec, max_rec, unit="row")
    limit = ET.SubElement(tap, "uploadLimit")
    _text(limit, "hard", str(upload_limit_bytes), {"unit": "byte"})
    _capability(root, "ivo://ivoa.net/std/VOSI#capabilities", f"{base_url}/capabilities")
    _capability(root, "ivo://ivoa.net/std/VOSI#availability", f"{base_url}/availability")
    _capability(root, "ivo://ivoa.net/std/VOSI#tables-1.1", f"{base_url}/tables", version="1.1")
    examples = ET.SubElement(root, "capability", {"standardID": "ivo://ivoa.net/std/DALI#examples"})
    interface = ET.SubElement(examples, "interface", {_XSI_TYPE: "vr:WebBrowser"})
    _text(interface, "accessURL", f"{base_url}/examples", {"use": "full"})
    _datalink(root, datalink_url, security_methods)
    return _document(root)


def _capability(
    root: ET.Element,
    standard_id: str,
    url: str,
    *,
    version: str | None = None,
    secured: Sequence[str] = (),
) -> ET.Element:
    capability = ET.SubElement(root, "capability", {"standardID": standard_id})
    attrs = {_XSI_TYPE: "vs:ParamHTTP", "role": "std", **_optional({"version": version})}
    for method in ("", *secured):
        interface = ET.SubElement(capability, "interface", attrs)
        _text(interface, "accessURL", url, {"use": "base" if version else "full"})
        if method:
            ET.SubElement(interface, "securityMethod", {"standardID": method})
    return capability


def _language(tap: ET.Element, features: Mapping[str, Sequence[Feature]]) -> None:
    language = ET.SubElement(tap, "language")
    _text(language, "name", "ADQL")
    _text(language, "version", "2.0", {"ivo-id": "ivo://ivoa.net/std/ADQL#v2.0"})
    _text(language, "version", "2.1", {"ivo-id": "ivo://ivoa.net/std/ADQL#v2.1"})
    _text(language, "description", "The Astronomical Data Query Language (ADQL 2.1)")
    for feature_type, items in features.items():
        group = ET.SubElement(language, "languageFeatures", {"type": feature_type})
        for item in items:
            feature = ET.SubElement(group, "feature")
            _text(feature, "form", item.form)
            if item.description:
                _text(feature, "description", item.description)


def _output_formats() -> list[tuple[str, list[str]]]:
    """Each canonical MIME type with its aliases, in FORMATS order."""
    grouped: dict[str, list[str]] = {}
    for alias, mime in FORMATS.items():
        names = grouped.setdefault(mime, [])
        if alias != mime.lower():
            names.append(alias)
    return list(grouped.items())


def _limits(parent: ET.Element, name: str, default: int, hard: int, unit: str = "") -> None:
    element = ET.SubElement(parent, name)
    attrs = {"unit": unit} if unit else {}
    _text(element, "default", str(default), attrs)
    _text(element, "hard", str(hard), attrs)


def _datalink(root: ET.Element, url: str, secured: Sequence[str]) -> None:
    """DataLink 1.1 §3.3: the ``{links}`` endpoint declared with a ParamHTTP interface.

    The ``param`` and ``queryType`` elements of the standard's example are left out: pyvo
    warns about each of them every time it reads the capabilities, and DALI-sync endpoints
    take GET and POST with the standard ID and RESPONSEFORMAT anyway.
    """
    capability = _capability(
        root, "ivo://ivoa.net/std/DataLink#links-1.1", url, version="1.1", secured=secured
    )
    for interface in capability:
        _text(interface, "resultType", DATALINK_MIME)


def availability(up_since: datetime, note: str, *, available: bool = True) -> bytes:
    """The VOSI availability document."""
    root = ET.Element(f"{{{_AVL}}}availability")
    _text(root, f"{{{_AVL}}}available", "true" if available else "false")
    _text(root, f"{{{_AVL}}}upSince", _datetime(up_since))
    _text(root, f"{{{_AVL}}}note", note)
    return _document(root)


def tableset(
    tables: Sequence[TapTable],
    *,
    detail: bool = True,
    schemas: Sequence[SchemaInfo] = SCHEMAS,
    keys: Sequence[ForeignKey] = KEYS,
) -> bytes:
    """The VOSI tableset; ``detail=False`` (``?detail=min``) leaves out columns and keys."""
    root = ET.Element(f"{{{_TAB}}}tableset", {"xmlns:vs": _VS})
    known = {s.name: s for s in schemas}
    names = [s.name for s in schemas] + sorted({t.schema for t in tables} - set(known))
    for name in names:
        members = [t for t in tables if t.schema == name]
        if not members:
            continue
        schema = ET.SubElement(root, "schema")
        _text(schema, "name", name)
        info = known.get(name)
        if info is not None:
            _text(schema, "description", info.description)
            if info.utype:
                _text(schema, "utype", info.utype)
        for table in members:
            schema.append(_table(ET.Element("table"), table, keys, detail=detail))
    return _document(root)


def table_detail(table: TapTable, *, keys: Sequence[ForeignKey] = KEYS) -> bytes:
    """One table with its columns and foreign keys (VOSI 1.1 ``/tables/{name}``)."""
    root = ET.Element(f"{{{_TAB}}}table", {"xmlns:vs": _VS})
    return _document(_table(root, table, keys, detail=True))


def _table(
    element: ET.Element, table: TapTable, keys: Iterable[ForeignKey], *, detail: bool
) -> ET.Element:
    element.set("type", "view" if table.table_type == "view" else "base_table")
    _text(element, "name", table.qualified_name)
    _text(element, "description", table.description)
    if table.utype:
        _text(element, "utype", table.utype)
    if not detail:
        return element
    for column in table.columns:
        _column(element, column)
    for key in keys:
        if key.from_table.lower() == table.qualified_name.lower():
            foreign = ET.SubElement(element, "foreignKey")
            _text(foreign, "targetTable", key.target_table)
            for from_column, target_column in key.columns:
                pair = ET.SubElement(foreign, "fkColumn")
                _text(pair, "fromColumn", from_column)
                _text(pair, "targetColumn", target_column)
            _text(foreign, "description", key.description)
    return element


def _column(table: ET.Element, column: TapColumn) -> None:
    """A column; ``nullable`` unless it is the table's main identifier (TapColumn has no flag)."""
    element = ET.SubElement(table, "column", {"std": "true"} if column.std else {})
    _text(element, "name", metadata_name(column))
    _text(element, "description", column.description)
    for tag in ("unit", "ucd", "utype"):
        value = getattr(column, tag)
        if value:
            _text(element, tag, value)
    attrs = {_XSI_TYPE: "vs:VOTableType"}
    attrs |= _optional({"arraysize": column.arraysize, "extendedType": column.xtype})
    _text(element, "dataType", column.datatype, attrs)
    flags = [("indexed", column.indexed), ("principal", column.principal)]
    flags.append(("nullable", "meta.main" not in (column.ucd or "")))
    for flag, present in flags:
        if present:
            _text(element, "flag", flag)


def _text(
    parent: ET.Element, tag: str, text: str | None, attrs: Mapping[str, str] | None = None
) -> ET.Element:
    element = ET.SubElement(parent, tag, dict(attrs or {}))
    element.text = text
    return element


def _optional(attrs: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in attrs.items() if v is not None}


def _datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


ET.register_namespace("vosi", _CAP)
ET.register_namespace("avl", _AVL)
ET.register_namespace("vtm", _TAB)
ET.register_namespace("xsi", _XSI)


def _document(root: ET.Element) -> bytes:
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document
