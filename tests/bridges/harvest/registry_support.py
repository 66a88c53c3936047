"""A RegTAP registry on 127.0.0.1 for the harvest tests: recorded answers over real HTTP.

It answers ``/capabilities`` with GAVO's recorded capabilities, ``/tables`` with a small
tableset naming the ``rr`` tables, and ``/sync`` by what the query asks: the coverage query
(``rr.stc_spatial``) gets a VOTable built here from real MOCs, the TAP_SCHEMA probe a list
of tables, anything else the recorded ``rr.resource`` answer (tests/data/README.md).
A test changes :class:`Registry` between runs to make the registry change, fail or stall.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from astropy.io.votable import parse
from astropy.io.votable.tree import Field, Info, Resource, TableElement, VOTableFile

DATA = Path(__file__).resolve().parents[2] / "data"
REGTAP = DATA / "registry" / "registry_regtap.xml"
CAPABILITIES = DATA / "registry" / "registry_capabilities.xml"
TABLES = DATA / "registry" / "tables.xml"
SDSS_MOC = DATA / "moc" / "V_147_sdss12.order6.moc.txt"
I125A_MOC = DATA / "moc" / "CDS-I-125A.order6.moc.txt"
COVERAGE_QUERY = "SELECT ivoid, coverage FROM rr.stc_spatial WHERE ivoid IN ("
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
_MALFORMED = (
    b'<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
    b'<RESOURCE type="results"><TABLE><FIELD name="ivoid" datatype="char" arraysize="*"/>'
    b"<DATA><TABLEDATA><TR><TD>ivo://cds.vizier/j/a"
)


@dataclass
class Registry:
    """What the served registry answers; tests change it between harvests.

    ``failure`` (``"500"``, ``"malformed"``, ``"silent"``, ``"error"``) strikes the
    ``fail_on`` queries (``"resources"`` or ``"coverage"``) after ``fail_after`` of them
    were answered.
    """

    url: str = ""
    resources: bytes = field(default_factory=REGTAP.read_bytes)
    coverages: dict[str, str] = field(default_factory=dict)
    has_stc_spatial: bool = True
    failure: str | None = None
    fail_on: str = "coverage"
    fail_after: int = 0
    overflow_on: set[str] = field(default_factory=set)  # kinds answered with an overflow
    queries: list[tuple[str, str]] = field(default_factory=list)  # (kind, ADQL)
    maxrecs: list[str | None] = field(default_factory=list)  # MAXREC of each query
    release: threading.Event = field(default_factory=threading.Event)

    def of_kind(self, kind: str) -> list[str]:
        """The ADQL of the queries of one kind, in the order received."""
        return [q for k, q in self.queries if k == kind]


def ivoids_in(query: str) -> list[str]:
    """The ivoids an ``ivoid IN (...)`` query names, unescaped as ADQL reads them."""
    return [m.replace("''", "'") for m in _LITERAL.findall(query.partition(" IN (")[2])]


def votable_bytes(
    columns: Mapping[str, list[str]], xtypes: Mapping[str, str] | None = None
) -> bytes:
    """A TAP result document (``QUERY_STATUS=OK``) of text columns, as DaCHS writes one."""
    votable = VOTableFile()
    resource = Resource(type="results")
    votable.resources.append(resource)
    resource.infos.append(Info(name="QUERY_STATUS", value="OK"))
    table = TableElement(votable)
    resource.tables.append(table)
    for name in columns:
        table.fields.append(
            Field(
                votable, name=name, datatype="char", arraysize="*", xtype=(xtypes or {}).get(name)
            )
        )
    rows = len(next(iter(columns.values()), []))
    table.create_arrays(rows)
    for name, values in columns.items():
        for i, value in enumerate(values):
            table.array[name][i] = value
    buffer = io.BytesIO()
    votable.to_xml(buffer)
    return buffer.getvalue()


def edited(
    raw: bytes, *, drop: Collection[str] = (), rename: Mapping[str, str] | None = None
) -> bytes:
    """The recorded answer without some resources, or with some ivoids replaced."""
    votable = parse(io.BytesIO(raw))
    table = votable.get_first_table()
    table.array = table.array[[str(i) not in drop for i in table.array["ivoid"]]]
    for old, new in (rename or {}).items():
        for i, ivoid in enumerate(table.array["ivoid"]):
            if ivoid == old:
                table.array["ivoid"][i] = new
    buffer = io.BytesIO()
    votable.to_xml(buffer)
    return buffer.getvalue()


def with_overflow(raw: bytes) -> bytes:
    """The answer with DALI's overflow marker after its table, where DaCHS puts it."""
    marked, count = re.subn(
        rb"</TABLE>(\s*)</RESOURCE>",
        rb'</TABLE>\1<INFO name="QUERY_STATUS" value="OVERFLOW"/></RESOURCE>',
        raw,
        count=1,
    )
    assert count == 1
    return marked


def error_votable(message: str) -> bytes:
    """A TAP error document as DaCHS sends it: HTTP 200, ``QUERY_STATUS=ERROR``."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        f'<RESOURCE type="results"><INFO name="QUERY_STATUS" value="ERROR">{message}</INFO>'
        "</RESOURCE></VOTABLE>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    registry: Registry
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        del format, args

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        if split.path.endswith("/capabilities"):
            self._send(200, CAPABILITIES.read_bytes())
        elif split.path.endswith("/tables"):
            self._send(200, TABLES.read_bytes())
        elif split.path.endswith("/sync"):
            self._answer(parse_qs(split.query))
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(parse_qs(body.decode()))

    def _answer(self, parameters: dict[str, list[str]]) -> None:
        registry = self.registry
        query = parameters.get("QUERY", [""])[0]
        registry.maxrecs.append(parameters.get("MAXREC", [None])[0])
        if query.startswith(COVERAGE_QUERY):
            kind = "coverage"
        elif "TAP_SCHEMA.tables" in query:
            kind = "tap_schema"
        else:
            kind = "resources"
        registry.queries.append((kind, query))
        seen = len(registry.of_kind(kind))
        if registry.failure and kind == registry.fail_on and seen > registry.fail_after:
            self._fail(registry.failure)
        else:
            body = self._result(kind, query)
            self._send(200, with_overflow(body) if kind in registry.overflow_on else body)

    def _result(self, kind: str, query: str) -> bytes:
        if kind == "coverage":
            return self._coverages(ivoids_in(query))
        if kind == "tap_schema":
            names = ["rr.stc_spatial"] if self.registry.has_stc_spatial else []
            return votable_bytes({"table_name": names})
        return self.registry.resources

    def _coverages(self, ivoids: list[str]) -> bytes:
        pairs = [(i, self.registry.coverages[i]) for i in ivoids if i in self.registry.coverages]
        columns = {"ivoid": [p[0] for p in pairs], "coverage": [p[1] for p in pairs]}
        return votable_bytes(columns, {"coverage": "moc"})

    def _fail(self, failure: str) -> None:
        if failure == "500":
            self._send(500, b"Internal Server Error: the registry database is down", "text/plain")
        elif failure == "malformed":
            self._send(200, _MALFORMED)
        elif failure == "error":
            self._send(200, error_votable("Could not parse your query: syntax error at IN"))
        elif failure == "silent":
            self.registry.release.wait(30)
        else:
            raise AssertionError(failure)

    def _send(self, status: int, body: bytes, content_type: str = "text/xml") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve(registry: Registry) -> Iterator[Registry]:
    """The registry served on a free port of 127.0.0.1 at ``registry.url`` (``.../tap``)."""
    handler: Callable[..., _Handler] = type("Handler", (_Handler,), {"registry": registry})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    registry.url = f"http://127.0.0.1:{server.server_address[1]}/tap"
    try:
        yield registry
    finally:
        registry.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
