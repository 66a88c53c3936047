"""DataLink 1.1 ``{links}`` responses: a lake file's replicas and its provenance.

One ``#this`` row per available replica, told apart by ``local_semantics`` (the RSE name), as
docs/vo.md describes for "one file, many replicas". DataLink 1.1 has no checksum column and
``content_qualifier`` is a term of the product-type vocabulary (``#image``, ``#cube``...), so
the checksums go in ``description`` and ``content_qualifier`` carries the file's
``dataproduct_type`` when its characterisation has one.

Provenance (docs/provenance.md) adds, with the terms of the DataLink core vocabulary
(http://www.ivoa.net/rdf/datalink/core): ``#progenitor`` for each input of the activity that
generated the file ("data resources that were used to create this dataset"; VEP-006 settled
that "has been used" is #progenitor's sense, and VEP-009's narrowing to science data only was
withdrawn, so applied calibration files are progenitors too), ``#derivation`` for each
product made from it, and ``#documentation`` (local_semantics ``provenance``) for the W3C PROV
export of its lineage: the core vocabulary has no term for a provenance record.
A lake progenitor or derivation links to its own ``{links}`` document, as DataLink 1.1 §3.2.4
suggests for related datasets; an external one to its URI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass
from urllib.parse import quote

from bridges.tap.formats import write_votable
from bridges.tap.results import ResultColumn, ResultTable
from catalogue.errors import InvalidInputError
from catalogue.models import DIDDetail, DIDKey, DIDType, ReplicaState
from catalogue.provenance import Entity

LINKS_STANDARD_ID = "ivo://ivoa.net/std/DataLink#links-1.1"
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_DATALINK_MIME = "application/x-votable+xml;content=datalink"


@dataclass(frozen=True, slots=True)
class LinkRow:
    """One link; exactly one of ``access_url``, ``service_def``, ``error_message`` is set."""

    id: str
    access_url: str | None = None
    service_def: str | None = None
    error_message: str | None = None
    semantics: str = "#this"
    description: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    content_qualifier: str | None = None
    local_semantics: str | None = None
    link_auth: str | None = None  # "false", "optional" or "true"
    link_authorized: bool | None = None


def _char(name: str, ucd: str, description: str) -> ResultColumn:
    return ResultColumn(name, "char", "*", ucd=ucd, description=description)


#: DataLink 1.1 §3.2, Table 1, in the order of :class:`LinkRow`.
LINK_COLUMNS = (
    _char("ID", "meta.id;meta.main", "Input identifier"),
    _char("access_url", "meta.ref.url", "Link to data or service"),
    _char("service_def", "meta.ref", "Reference to a service descriptor resource"),
    _char("error_message", "meta.code.error", "Error if an access_url cannot be created"),
    _char("semantics", "meta.code", "Term from a controlled vocabulary describing the link"),
    _char("description", "meta.note", "Human-readable text describing this link"),
    _char("content_type", "meta.code.mime", "Media type of the content the link returns"),
    ResultColumn(
        "content_length",
        "long",
        unit="byte",
        ucd="phys.size;meta.file",
        description="Size of the download the link returns",
    ),
    _char("content_qualifier", "meta.code.class", "Product type of the linked content"),
    _char("local_semantics", "meta.code", "Which of several links of the same semantics"),
    _char("link_auth", "meta.code", "Authentication for access_url: false, optional or true"),
    ResultColumn(
        "link_authorized",
        "boolean",
        ucd="meta.code",
        description="Whether the caller is authorized to use access_url",
    ),
)


def links_document(rows: Sequence[LinkRow], *, overflow: bool = False) -> bytes:
    """The ``{links}`` VOTable (TABLEDATA, as DataLink 1.1 §3.1 requires clients to read)."""
    table = ResultTable(
        columns=LINK_COLUMNS,
        rows=[astuple(row) for row in rows],
        overflow=overflow,
        infos={"standardID": LINKS_STANDARD_ID},
    )
    return write_votable(table, binary2=False)


def did_key(identifier: str) -> DIDKey | None:
    """The DID an ID names: ``scope:name``, or an ``obs_publisher_did`` ending ``?scope:name``."""
    text = identifier.partition("?")[2] if identifier.startswith("ivo://") else identifier
    try:
        return DIDKey.parse(text)
    except InvalidInputError:
        return None


def not_found(identifier: str, reason: str = "is not a file in this data lake") -> LinkRow:
    """The single row DataLink 1.1 §3.4 asks for when an ID is unknown."""
    return LinkRow(identifier, error_message=f"NotFoundFault: {identifier} {reason}")


def replica_links(identifier: str, detail: DIDDetail | None) -> list[LinkRow]:
    """The links of the file ``detail`` (``None``: unknown) under the requested ``identifier``.

    Available replicas become ``#this`` rows; replicas still being copied or temporarily
    unavailable become ``TransientFault`` rows naming their RSE; bad ones are left out.
    """
    if detail is None:
        return [not_found(identifier)]
    did = detail.did
    if did.type is not DIDType.FILE:
        return [not_found(identifier, f"is a {did.type.lower()}; only files have replicas")]
    checksums = ", ".join(
        f"{name} {value}" for name, value in (("adler32", did.adler32), ("md5", did.md5)) if value
    )
    content_type = detail.characterisation.get("access_format") or _DEFAULT_CONTENT_TYPE
    product = detail.characterisation.get("dataproduct_type")
    rows = []
    for replica in sorted(detail.replicas, key=lambda r: r.rse):
        if replica.state is ReplicaState.AVAILABLE:
            rows.append(
                LinkRow(
                    identifier,
                    access_url=replica.url,
                    description=f"{did.key} on {replica.rse}"
                    + (f" ({checksums})" if checksums else ""),
                    content_type=str(content_type),
                    content_length=did.bytes,
                    content_qualifier=f"#{product}" if product else None,
                    local_semantics=replica.rse,
                )
            )
        elif replica.state in {ReplicaState.COPYING, ReplicaState.UNAVAILABLE}:
            message = f"TransientFault: the replica on {replica.rse} is {replica.state.lower()}"
            rows.append(LinkRow(identifier, error_message=message, local_semantics=replica.rse))
    return rows or [not_found(identifier, "has no available replica")]


def _related(identifier: str, entity: Entity, semantics: str, links_url: str, what: str) -> LinkRow:
    if entity.did_key is None:
        return LinkRow(identifier, access_url=entity.uri, semantics=semantics, description=what)
    return LinkRow(
        identifier,
        access_url=links_url + quote(str(entity.did_key), safe=""),
        semantics=semantics,
        description=f"{entity.did_key}: {what}",
        content_type=_DATALINK_MIME,
    )


def provenance_links(
    identifier: str,
    key: DIDKey,
    progenitors: Sequence[Entity],
    derivations: Sequence[Entity],
    service_url: str,
) -> list[LinkRow]:
    """``#progenitor``, ``#derivation`` and PROV-export links of the file ``key``."""
    links_url = f"{service_url}/datalink/links?ID="
    rows = [
        _related(identifier, e, "#progenitor", links_url, "input of the activity that made it")
        for e in progenitors
    ]
    rows += [_related(identifier, e, "#derivation", links_url, "made from it") for e in derivations]
    if rows:
        export = f"{service_url}/prov?ID={quote(str(key), safe='')}&RESPONSEFORMAT=PROV-JSON"
        rows.append(
            LinkRow(
                identifier,
                access_url=export,
                semantics="#documentation",
                description=f"W3C PROV-JSON of the lineage of {key}",
                content_type="application/json",
                local_semantics="provenance",
            )
        )
    return rows
