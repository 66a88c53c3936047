"""DALI request parameters: read from GET query strings and POST forms alike.

DALI 1.1 §3: parameter names are case-insensitive, values are not. UPLOAD may repeat and
each value may hold several ``name,URI`` pairs separated by ``;``; a ``param:NAME`` URI
refers to a part of the same multipart POST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.requests import Request

from bridges.tap.errors import UsageError

#: Largest inline upload accepted (bytes); also advertised in the capabilities.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@dataclass(slots=True)
class TapRequest:
    """The parameters of one request: single-valued ones by upper-case name, plus uploads."""

    params: dict[str, str] = field(default_factory=dict)
    uploads: list[tuple[str, str]] = field(default_factory=list)  # (table name, URI)
    files: dict[str, bytes] = field(default_factory=dict)  # multipart parts for param: URIs

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of ``name`` (any case)."""
        return self.params.get(name.upper(), default)


def parse_uploads(value: str) -> list[tuple[str, str]]:
    """``name,URI[;name,URI...]`` as pairs, each table name checked."""
    pairs = []
    for item in value.split(";"):
        if not item.strip():
            continue
        name, sep, uri = item.partition(",")
        name, uri = name.strip(), uri.strip()
        if not sep or not uri:
            msg = f"UPLOAD must be 'table_name,URI', got {item!r}"
            raise UsageError(msg)
        if not _TABLE_NAME.match(name):
            msg = f"UPLOAD table name {name!r} must be a letter then letters, digits or '_'"
            raise UsageError(msg)
        pairs.append((name, uri))
    return pairs


async def read_request(request: Request) -> TapRequest:
    """Collect the parameters of a GET or POST (urlencoded or multipart)."""
    items: list[tuple[str, str | UploadFile]] = list(request.query_params.multi_items())
    if request.method == "POST":
        form = await request.form(max_part_size=MAX_UPLOAD_BYTES)
        items += list(form.multi_items())
    result = TapRequest()
    for name, value in items:
        if isinstance(value, UploadFile):
            content = await value.read()
            if len(content) > MAX_UPLOAD_BYTES:
                msg = f"upload {name!r} is larger than {MAX_UPLOAD_BYTES} bytes"
                raise UsageError(msg)
            result.files[name] = content
            continue
        key = name.upper()
        if key == "UPLOAD":
            result.uploads += parse_uploads(value)
        else:
            result.params[key] = value
    return result
