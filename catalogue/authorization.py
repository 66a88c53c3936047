"""Who may write which DID scopes, and who may see embargoed records (docs/security.md).

A caller's rights come from two places, both in its token:

- **token scopes** in the WLCG style: ``lake.read:/ctao`` (see ctao's embargoed records),
  ``lake.write:/ctao`` (write DIDs in scope ``ctao``; implies read), ``lake.admin`` (RSEs,
  harvests, every scope). ``/`` as the path means every scope.
- **groups** (``wlcg.groups``), through the operator's table ``LAKECAT_AUTH_GROUPS``:
  ``{"/ctao": {"read": ["ctao"], "write": ["ctao"]}, "/lake/admins": {"admin": true}}``; the
  scope ``*`` means every scope.

The command line acts as :data:`catalogue.models.LOCAL_OPERATOR`, an administrator: whoever
can run it can already reach the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalogue.errors import CatalogueError, InvalidInputError
from catalogue.models import LOCAL_OPERATOR, Caller, check_scope

ALL_SCOPES = "*"
_READ, _WRITE, _ADMIN = "lake.read", "lake.write", "lake.admin"


class PermissionDeniedError(CatalogueError):
    """An authenticated caller asked for something its rights do not cover."""


class AuthenticationRequiredError(PermissionDeniedError):
    """An anonymous caller asked to write: present a token."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What a group grants: DID scopes to read embargoed records in, to write, and admin."""

    read: frozenset[str] = frozenset()
    write: frozenset[str] = frozenset()
    admin: bool = False


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whose eyes a read is for: which embargoed records it may see (catalogue/embargo.py).

    Reads take a viewer, not a caller, so that the store's one visibility rule
    (``catalogue/store/visibility.py``) needs no policy, and a stored TAP job can carry its
    owner's view to the worker that runs it.
    """

    everything: bool = False
    scopes: frozenset[str] = frozenset()  # scopes whose embargoed records it may see

    def to_json(self) -> dict[str, Any]:
        """A JSON form, for a job that runs later with its owner's view."""
        return {"everything": self.everything, "scopes": sorted(self.scopes)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> Viewer:
        """The viewer :meth:`to_json` wrote; ``None`` (older rows) is the public."""
        if not value:
            return PUBLIC
        return cls(bool(value.get("everything")), frozenset(map(str, value.get("scopes", []))))


#: An anonymous reader: no embargoed record is visible.
PUBLIC = Viewer()
#: The operator's view (command line, maintenance): nothing is hidden.
EVERYTHING = Viewer(everything=True)


@dataclass(frozen=True, slots=True)
class Rights:
    """A caller's rights, resolved once per request."""

    read: frozenset[str] = frozenset()  # scopes whose embargoed records it may see
    write: frozenset[str] = frozenset()
    admin: bool = False
    authenticated: bool = False

    def may_write(self, scope: str) -> bool:
        """Whether the caller may create or change DIDs in ``scope``."""
        return self.admin or ALL_SCOPES in self.write or scope in self.write

    def may_read_embargoed(self, scope: str) -> bool:
        """Whether the caller may see ``scope``'s records before their release date."""
        return self.may_write(scope) or ALL_SCOPES in self.read or scope in self.read

    @property
    def reads_everything(self) -> bool:
        """Whether no record is hidden from the caller."""
        return self.admin or ALL_SCOPES in self.read or ALL_SCOPES in self.write

    @property
    def embargo_scopes(self) -> frozenset[str]:
        """The scopes whose embargoed records the caller may see (unless it sees all)."""
        return self.read | self.write

    @property
    def viewer(self) -> Viewer:
        """What the caller's reads may see."""
        if self.reads_everything:
            return EVERYTHING
        scopes = frozenset(s for s in self.embargo_scopes if _is_scope(s))
        return Viewer(scopes=scopes) if scopes else PUBLIC


def _is_scope(text: str) -> bool:
    """Whether ``text`` can name a DID scope: anything else in a token grants nothing."""
    try:
        check_scope(text)
    except InvalidInputError:
        return False
    return True


def _token_grants(scopes: Iterable[str]) -> Grant:
    read: set[str] = set()
    write: set[str] = set()
    admin = False
    for entry in scopes:
        action, _, path = entry.partition(":")
        if action == _ADMIN:
            admin = True
            continue
        if action not in (_READ, _WRITE) or not path.startswith("/"):
            continue  # other audiences' scopes (openid, storage.read:/...) grant nothing here
        target = path.strip("/") or ALL_SCOPES
        (write if action == _WRITE else read).add(target)
    return Grant(frozenset(read), frozenset(write), admin)


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The operator's group table; resolves a caller's rights."""

    groups: Mapping[str, Grant] = field(default_factory=dict)

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> AccessPolicy:
        """Read ``LAKECAT_AUTH_GROUPS``: group -> {"read": [...], "write": [...], "admin": bool}."""
        groups: dict[str, Grant] = {}
        for group, raw in table.items():
            if not isinstance(raw, Mapping) or set(raw) - {"read", "write", "admin"}:
                msg = f"LAKECAT_AUTH_GROUPS[{group!r}] must be an object of read, write, admin"
                raise InvalidInputError(msg)
            groups[group] = Grant(
                frozenset(str(s) for s in raw.get("read", [])),
                frozenset(str(s) for s in raw.get("write", [])),
                bool(raw.get("admin", False)),
            )
        return cls(groups)

    def rights(self, caller: Caller) -> Rights:
        """Everything the caller's token scopes and groups grant."""
        if caller == LOCAL_OPERATOR:
            return Rights(admin=True, authenticated=True)
        grants = [_token_grants(caller.scopes)]
        grants += [self.groups[g] for g in caller.groups if g in self.groups]
        return Rights(
            read=frozenset().union(*(g.read for g in grants)),
            write=frozenset().union(*(g.write for g in grants)),
            admin=any(g.admin for g in grants),
            authenticated=caller.authenticated,
        )

    def viewer(self, caller: Caller) -> Viewer:
        """What ``caller``'s reads may see."""
        return self.rights(caller).viewer

    def writer(self, caller: Caller) -> Rights:
        """The rights of a caller about to write; an anonymous one is refused outright."""
        rights = self.rights(caller)
        if not rights.authenticated:
            msg = "writing needs an authenticated caller: send a bearer token"
            raise AuthenticationRequiredError(msg)
        return rights

    def require_write(self, caller: Caller, scopes: Iterable[str]) -> None:
        """Refuse a write into any scope the caller may not write."""
        rights = self.writer(caller)
        denied = sorted({s for s in scopes if not rights.may_write(s)})
        if denied:
            msg = f"{caller.subject} may not write in scope(s) {', '.join(denied)}"
            raise PermissionDeniedError(msg)

    def require_admin(self, caller: Caller, action: str) -> None:
        """Refuse an operator's action (RSEs, harvests) to anyone but an administrator."""
        if not self.writer(caller).admin:
            msg = f"{caller.subject} may not {action}: it takes lake.admin"
            raise PermissionDeniedError(msg)
