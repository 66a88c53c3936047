"""What a query produced, as the output formats need it: described columns and rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ResultColumn:
    """One output column with its VOTable FIELD metadata.

    ``datatype`` is ``None`` for a computed expression whose type the writer infers from the
    values. Values of an ``xtype="timestamp"`` column may be ``datetime`` or ISO-like text;
    values of DALI geometry xtypes (``point``, ``circle``, ``polygon``) are sequences of floats.
    """

    name: str
    datatype: str | None
    arraysize: str | None = None
    xtype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    description: str | None = None


@dataclass(slots=True)
class ResultTable:
    """The rows of one query (already cut at MAXREC) and whether that cut happened."""

    columns: Sequence[ResultColumn]
    rows: Sequence[Sequence[Any]]
    overflow: bool = False
    query: str | None = None
    infos: dict[str, str] = field(default_factory=dict)
