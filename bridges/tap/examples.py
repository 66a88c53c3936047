"""The DALI 1.1 §2.3 examples document: example ADQL queries as XHTML with RDFa attributes.

Each example is a ``div`` with ``typeof="example"`` and an ``id``, its title marked
``property="name"``, the ADQL in a ``pre`` with ``property="query"`` and the tables it reads in
``property="table"`` spans. The document is well-formed XHTML (no entities, the query as the
only text of its element), because TOPCAT and pyvo read it with an XML parser and take the
query element's text; it is served as ``text/html`` so browsers show it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

EXAMPLES_MIME = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Example:
    """One example query: its id (an XML name), title, explanation, ADQL and tables."""

    id: str
    name: str
    description: str
    query: str
    tables: tuple[str, ...]


EXAMPLES = (
    Example(
        "cone-search",
        "Cone search",
        "Files whose centre lies within 0.5° of the Crab Nebula.",
        "SELECT obs_publisher_did, s_ra, s_dec, access_url\nFROM ivoa.obscore\n"
        "WHERE 1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 83.63, 22.01, 0.5))",
        ("ivoa.obscore",),
    ),
    Example(
        "region-and-time",
        "Footprint and time window",
        "Files whose footprint meets a polygon, observed during 2024 (t_min and t_max are MJD).",
        "SELECT obs_publisher_did, t_min, t_max, s_region\nFROM ivoa.obscore\n"
        "WHERE 1 = INTERSECTS(s_region,\n"
        "                     POLYGON('ICRS', 82.0, 21.0, 85.0, 21.0, 85.0, 23.0, 82.0, 23.0))\n"
        "  AND t_min < 60676.0 AND t_max > 60310.0",
        ("ivoa.obscore",),
    ),
    Example(
        "upload-crossmatch",
        "Cross-match with your own source list",
        "Upload a table 'mysources' with columns ra and dec (degrees, ICRS) as "
        "UPLOAD=mysources,param:mysources, and find the files covering each source.",
        "SELECT u.ra, u.dec, o.obs_publisher_did, o.access_url\n"
        "FROM TAP_UPLOAD.mysources AS u\n"
        "JOIN ivoa.obscore AS o\n"
        "  ON 1 = CONTAINS(POINT('ICRS', o.s_ra, o.s_dec), CIRCLE('ICRS', u.ra, u.dec, 0.01))",
        ("ivoa.obscore",),
    ),
    Example(
        "moc",
        "Files inside a MOC",
        "Files whose centre lies in a MOC given in its ASCII serialisation (MOC 2.0): "
        "HEALPix cells 16 to 20 at order 2.",
        "SELECT obs_publisher_did, s_ra, s_dec\nFROM ivoa.obscore\n"
        "WHERE 1 = CONTAINS(POINT('ICRS', s_ra, s_dec), MOC('2/16-20'))",
        ("ivoa.obscore",),
    ),
    Example(
        "count-by-collection",
        "Files and volume per collection",
        "How many files each collection holds, and their total size in bytes.",
        "SELECT obs_collection, COUNT(*) AS n_files, SUM(lake_bytes) AS total_bytes\n"
        "FROM ivoa.obscore\nGROUP BY obs_collection\nORDER BY n_files DESC",
        ("ivoa.obscore",),
    ),
    Example(
        "replicas-of-files",
        "Where the files of a collection are stored",
        "Each file of a collection with every replica and its storage element (RSE), "
        "joining ObsCore to the lake's own tables on scope and name.",
        "SELECT o.obs_publisher_did, r.rse, r.url, r.state\n"
        "FROM ivoa.obscore AS o\n"
        "JOIN lake.files AS f ON f.scope = o.lake_scope AND f.name = o.lake_name\n"
        "JOIN lake.replicas AS r ON r.did_id = f.did_id\n"
        "WHERE o.obs_collection = 'LOFAR'",
        ("ivoa.obscore", "lake.files", "lake.replicas"),
    ),
    Example(
        "replicas-per-rse",
        "Files and bytes per storage element",
        "How much of the lake each RSE holds, counting available replicas only.",
        "SELECT r.rse, COUNT(*) AS n_replicas, SUM(f.bytes) AS total_bytes\n"
        "FROM lake.replicas AS r\n"
        "JOIN lake.files AS f ON f.did_id = r.did_id\n"
        "WHERE r.state = 'AVAILABLE'\nGROUP BY r.rse",
        ("lake.replicas", "lake.files"),
    ),
)


def examples_document(examples: tuple[Example, ...] = EXAMPLES) -> bytes:
    """The examples as one XHTML+RDFa document (UTF-8)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<html xmlns="http://www.w3.org/1999/xhtml" version="XHTML+RDFa 1.1">\n',
        "<head><title>Example queries of the lakecat TAP service</title></head>\n",
        '<body vocab="http://www.ivoa.net/rdf/examples#">\n',
        "<h1>Example queries</h1>\n",
    ]
    parts += [_example(e) for e in examples]
    parts.append("</body>\n</html>\n")
    return "".join(parts).encode()


def _example(example: Example) -> str:
    anchor = quoteattr(example.id)
    resource = quoteattr(f"#{example.id}")
    tables = ", ".join(f'<span property="table">{escape(t)}</span>' for t in example.tables)
    return (
        f'<div typeof="example" id={anchor} resource={resource}>\n'
        f'<h2 property="name">{escape(example.name)}</h2>\n'
        f"<p>{escape(example.description)}</p>\n"
        f'<pre property="query">{escape(example.query)}</pre>\n'
        f"<p>Tables: {tables}</p>\n"
        "</div>\n"
    )
