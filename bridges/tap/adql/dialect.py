"""Reading ADQL 2.1 text: a sqlglot dialect, and syntax errors a person can act on.

sqlglot parses far more than ADQL (docs/adql.md says why we use it anyway): this module only
gets the text into a tree. :mod:`bridges.tap.adql.check` decides what of it is allowed.
"""

from __future__ import annotations

import difflib
from typing import ClassVar

from sqlglot import exp, parser, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from bridges.tap.errors import TapError

#: ADQL 2.1 §4.2 geometry functions: parsed as anonymous calls, translated by ``geometry``.
GEOMETRY_FUNCTIONS = frozenset(
    {
        "AREA",
        "BOX",
        "CENTROID",
        "CIRCLE",
        "CONTAINS",
        "COORD1",
        "COORD2",
        "COORDSYS",
        "DISTANCE",
        "INTERSECTS",
        "MOC",
        "POINT",
        "POLYGON",
        "REGION",
    }
)

_KEYWORDS = (
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "ORDER",
    "BY",
    "HAVING",
    "JOIN",
    "INNER",
    "OUTER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "NATURAL",
    "USING",
    "ON",
    "AS",
    "AND",
    "OR",
    "NOT",
    "DISTINCT",
    "TOP",
    "OFFSET",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "IS",
    "NULL",
    "IN",
    "EXISTS",
    "WITH",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "ASC",
    "DESC",
)


class AdqlError(TapError):
    """An ADQL query the service cannot run: a syntax error, or something not allowed.

    ``line`` and ``column`` (1-based) locate the problem in the query text when known; the
    message already says where, so it can be shown as it is.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        say_where: bool = True,
    ) -> None:
        known = line is not None and column is not None
        where = f" (at line {line}, column {column})" if known and say_where else ""
        super().__init__(message + where)
        self.line = line
        self.column = column

    @classmethod
    def at(cls, message: str, node: exp.Expr | None) -> AdqlError:
        """An error located at the first token of ``node``, when the parser recorded it."""
        line, column = position(node)
        return cls(message, line=line, column=column)


def position(node: exp.Expr | None) -> tuple[int | None, int | None]:
    """Line and 1-based column where ``node`` starts in the query text, if known."""
    if node is None:
        return None, None
    for child in node.walk():
        meta = child.meta
        if "line" in meta and "col" in meta:
            width = int(meta.get("end", 0)) - int(meta.get("start", 0))
            return int(meta["line"]), int(meta["col"]) - width
    return None, None


class Adql(Dialect):
    """ADQL 2.1 as sqlglot reads it: ``TOP``, natural ``LOG``, geometry calls left anonymous."""

    # NULLs sort as in PostgreSQL on both engines, so a query orders alike everywhere.
    NULL_ORDERING = "nulls_are_large"
    # 7/2 is 3 in ADQL on PostgreSQL and SQLite alike: no float division is inserted.
    TYPED_DIVISION = True

    class Tokenizer(tokens.Tokenizer):
        """SQL-92 tokens plus ``TOP``."""

        KEYWORDS: ClassVar = {**tokens.Tokenizer.KEYWORDS, "TOP": TokenType.TOP}

    class Parser(parser.Parser):
        """sqlglot's parser without its own meanings for the ADQL geometry functions."""

        LOG_DEFAULTS_TO_LN = True
        FUNCTIONS: ClassVar = {
            name: build
            for name, build in parser.Parser.FUNCTIONS.items()
            if name not in GEOMETRY_FUNCTIONS
        }


def parse(text: str) -> exp.Expr:
    """The one SELECT statement of ``text``, as a sqlglot tree (not yet checked)."""
    tokens_ = _tokens(text)
    limit = next((tk for tk in tokens_ if tk.token_type is TokenType.LIMIT), None)
    if limit is not None:
        raise AdqlError(
            "LIMIT is not ADQL: use SELECT TOP n to cap the number of rows",
            line=limit.line,
            column=limit.col - len(limit.text) + 1,
        )
    try:
        trees = Adql().parser().parse(tokens_, text)
    except ParseError as exc:
        raise _syntax_error(exc, text) from None
    statements = [tree for tree in trees if tree is not None]
    if not statements:
        raise AdqlError("the query is empty: expected SELECT ...")
    if len(statements) > 1:
        second = _second_statement(tokens_)
        raise AdqlError(
            "exactly one statement is allowed: remove the ';' and what follows it",
            line=second.line if second else None,
            column=second.col if second else None,
        )
    return statements[0]


def _tokens(text: str) -> list[Token]:
    try:
        return Adql().tokenize(text)
    except TokenError as exc:
        line, column = _token_error_position(str(exc), text)
        raise AdqlError(
            "ADQL syntax error: unterminated string or identifier, or a character ADQL "
            "does not use",
            line=line,
            column=column,
        ) from None


def _token_error_position(message: str, text: str) -> tuple[int | None, int | None]:
    """The TokenError of sqlglot quotes the text it read; locate where the bad token starts."""
    start = message.find("'")
    if start < 0:
        return None, None
    read = message[start + 1 : -1] if message.endswith("'") else message[start + 1 :]
    offset = text.find(read)
    if offset < 0:
        return None, None
    quote = max(read.rfind("'"), read.rfind('"'))
    at = offset + (quote if quote >= 0 else len(read))
    before = text[:at]
    return before.count("\n") + 1, at - (before.rfind("\n") + 1) + 1


def _second_statement(tokens_: list[Token]) -> Token | None:
    for index, token in enumerate(tokens_):
        if token.token_type is TokenType.SEMICOLON and index + 1 < len(tokens_):
            return tokens_[index + 1]
    return None


def _syntax_error(exc: ParseError, text: str) -> AdqlError:
    errors = exc.errors or [{}]
    first = errors[0]
    found = str(first.get("highlight") or "").strip()
    line, column = first.get("line"), first.get("col")
    if isinstance(column, int) and found:
        column = column - len(found) + 1
    context = str(first.get("start_context") or "").rstrip()
    words = context.split()
    hint = ""
    if words:
        suggestion = difflib.get_close_matches(words[-1].upper(), _KEYWORDS, n=1, cutoff=0.75)
        if suggestion and suggestion[0] != words[-1].upper():
            hint = f" (after {words[-1]!r}: did you mean {suggestion[0]}?)"
    what = f"unexpected {found!r}" if found else "the query ends too early"
    description = str(first.get("description") or "")
    if description.startswith("Expecting"):
        what += f" ({description.lower()})"
    del text
    line = line if isinstance(line, int) else None
    column = column if isinstance(column, int) else None
    where = f" at line {line}, column {column}" if line is not None else ""
    return AdqlError(
        f"ADQL syntax error{where}: {what}{hint}", line=line, column=column, say_where=False
    )
