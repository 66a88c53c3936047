"""Errors the catalogue raises; their messages are safe to show to the caller verbatim.

::

    CatalogueError
    ├── InvalidInputError      bad value in a record, a filter, a region or a manifest line
    │   └── InvalidQueryError  a query that cannot be answered as asked (bad cursor, bad filter)
    ├── NotFoundError          a DID, scope or RSE that does not exist
    ├── ConflictError          a write that contradicts what is stored (checksum, reused DID)
    └── AttachmentError        an attachment the DID graph forbids (cycle, closed dataset, type)
"""

from __future__ import annotations


class CatalogueError(Exception):
    """An error the caller caused; its message is safe to show verbatim."""


class InvalidInputError(CatalogueError):
    """A value that does not satisfy the catalogue's rules."""


class InvalidQueryError(InvalidInputError):
    """A query that cannot be answered as asked."""


class NotFoundError(CatalogueError):
    """A DID, scope or RSE that does not exist."""


class ConflictError(CatalogueError):
    """A write that contradicts what is already stored."""


class AttachmentError(CatalogueError):
    """An attachment the DID graph forbids."""
