"""A Rucio DID metadata plugin that keeps generic metadata in lakecat and searches it there.

A Rucio server loads it from its ``rucio.cfg`` (docs/rucio.md, "The metadata plugin")::

    [metadata]
    plugins = bridges.rucio.metadata_plugin.LakecatDidMetaPlugin
    lakecat_url = http://lakecat.example.org:8080/graphql
    lakecat_token = ...            # optional: sent as "Authorization: Bearer ..."
    lakecat_timeout = 30           # optional, seconds

with lakecat's source tree (or its installed package) on the server's ``PYTHONPATH``. The
plugin needs only ``requests`` (which Rucio has): it talks to lakecat's GraphQL API and
imports nothing of lakecat's server stack. Rucio's own DID columns (``project``,
``datatype``, …) stay with Rucio's DID_COLUMN plugin, which Rucio always asks first; every
other key comes here.

``list_dids`` takes Rucio's filters — OR'ed groups of ``key[.op]: value`` with ops ``ne``,
``gt``, ``gte``, ``lt``, ``lte`` and ``*`` wildcards — plus lakecat's, written the same way so
that Rucio's own filter parser passes them through::

    tags.contains=deep            a list value holds "deep"
    quality.in=good|fair          one of these
    seeing.exists=true            the key is set (false: it is not)
    obs_id.like=L123%             SQL pattern
    region=CIRCLE ICRS 10.5 -3.25 0.2     the DID's sky coverage overlaps the region
    region.enclosed=POLYGON ICRS 10 -4 11 -4 11 -3 10 -3   (.covers: contains it)

A DID Rucio has and lakecat does not yet (``lakecat rucio sync``/``listen`` bring it later)
is registered in lakecat from Rucio's own record the first time metadata is set on it:
a collection empty and open, a file with its size and checksums (and no replica).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import requests

try:  # inside a Rucio server
    from rucio.common import config as rucio_config
    from rucio.common import exception as rucio_exception
    from rucio.core.did_meta_plugins.did_meta_plugin_interface import DidMetaPlugin
except ImportError:  # lakecat's own tooling (mypy, tests of the translation) without Rucio
    rucio_config = None
    rucio_exception = None

    class DidMetaPlugin:  # type: ignore[no-redef]
        """Stand-in for Rucio's interface where Rucio is not installed."""

        def __init__(self) -> None:
            self._plugin_name: str | None = None


PAGE = 2000
_OPS = {"": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_WORDS = ("in", "contains", "exists", "like")
_INTERSECT = {"": "OVERLAPS", "overlaps": "OVERLAPS", "enclosed": "ENCLOSED", "covers": "COVERS"}
_TYPES = {
    "all": None,
    "collection": ["DATASET", "CONTAINER"],
    "dataset": ["DATASET"],
    "container": ["CONTAINER"],
    "file": ["FILE"],
}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_FRAME = r"(?:ICRS\s+|FK5\s+|J2000\s+)?"
_CIRCLE = re.compile(rf"^CIRCLE\s+{_FRAME}({_NUMBER})\s+({_NUMBER})\s+({_NUMBER})$", re.IGNORECASE)
_POLYGON = re.compile(rf"^POLYGON\s+{_FRAME}((?:{_NUMBER}\s*)+)$", re.IGNORECASE)


class FilterError(ValueError):
    """A filter the plugin cannot translate; the message says which term and why."""


def _setting(name: str, default: str | None = None) -> str | None:
    env = os.environ.get(f"LAKECAT_PLUGIN_{name.upper()}")
    if env:
        return env
    if rucio_config is not None:
        found = rucio_config.config_get("metadata", f"lakecat_{name}", raise_exception=False)
        if found:
            return str(found)
    return default


def region_input(text: str, mode: str = "") -> dict[str, Any]:
    """A GraphQL ``RegionInput`` from an STC-S circle or polygon (degrees, ICRS)."""
    if mode not in _INTERSECT:
        raise FilterError(f"region.{mode}: use region, region.enclosed or region.covers")
    stcs = " ".join(str(text).split())
    if match := _CIRCLE.match(stcs):
        ra, dec, radius = (float(v) for v in match.groups())
        shape: dict[str, Any] = {"cone": {"ra": ra, "dec": dec, "radius": radius}}
    elif match := _POLYGON.match(stcs):
        shape = {"polygon": {"vertices": [float(v) for v in match.group(1).split()]}}
    else:
        raise FilterError(
            f"region {text!r}: write 'CIRCLE ICRS ra dec radius' or 'POLYGON ICRS ...'"
        )
    return {**shape, "intersect": _INTERSECT[mode]}


def _term(key: str, value: Any) -> str:
    field, _, op = key.partition(".")
    if op in _OPS:
        return f"{field}{_OPS[op]}{value}"
    if op == "in":
        values = value if isinstance(value, list | tuple) else str(value).split("|")
        return f"{field} in ({'|'.join(str(v) for v in values)})"
    if op == "exists":
        present = str(value).strip().lower() not in ("false", "0", "no")
        return f"{field} {'exists' if present else '!exists'}"
    if op in _WORDS:
        return f"{field} {op} {value}"
    raise FilterError(f"filter {key!r}: unknown operator {op!r}")


def translate(filters: list[Mapping[str, Any]]) -> tuple[str | None, dict[str, Any] | None]:
    """Rucio's OR'ed filter groups as lakecat's filter string, and the region (if any).

    The region applies to the whole query, so it must be the same in every group.
    """
    groups: list[str] = []
    regions: list[dict[str, Any]] = []
    for group in filters:
        terms = []
        region = None
        for key, value in group.items():
            if key.split(".")[0] == "region":
                region = region_input(value, key.partition(".")[2])
            elif key in ("created_after", "created_before"):
                terms.append(f"{key}={value}")
            else:
                terms.append(_term(key, value))
        regions.append(region) if region is not None else None
        if terms:
            groups.append(",".join(terms))
        elif len(filters) > 1:
            raise FilterError("an OR group with no condition but a region would match everything")
    if regions and (len(regions) != len(filters) or any(r != regions[0] for r in regions)):
        raise FilterError("give the same region in every OR group")
    return (";".join(groups) or None), (regions[0] if regions else None)


class LakecatDidMetaPlugin(DidMetaPlugin):  # type: ignore[misc]
    """Rucio's generic DID metadata, kept and searched in lakecat."""

    def __init__(self) -> None:
        super().__init__()
        self._plugin_name = "LAKECAT"
        self._url = _setting("url", "http://127.0.0.1:8080/graphql") or ""
        self._timeout = float(_setting("timeout", "30") or 30)
        self._http = requests.Session()
        token = _setting("token")
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"

    # -- talking to lakecat ------------------------------------------------------------------

    def _graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        try:
            answer = self._http.post(
                self._url,
                json={"query": query, "variables": dict(variables)},
                timeout=self._timeout,
            )
            body = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise _error("RucioException", f"lakecat at {self._url}: {exc}") from exc
        if body.get("errors"):
            message = "; ".join(str(e.get("message")) for e in body["errors"])
            raise _error("InvalidMetadata", f"lakecat: {message}")
        return dict(body["data"])

    def _mutate(self, query: str, variables: Mapping[str, Any], field: str) -> None:
        result = self._graphql(query, variables)[field]
        if result.get("__typename") != "DIDSuccess" and "message" in result:
            raise _error("InvalidMetadata", f"lakecat: {result['message']}")

    def _did_exists(self, scope: str, name: str) -> bool:
        found = self._graphql(
            "query($s: String!, $n: String!) { did(scope: $s, name: $n) { id } }",
            {"s": scope, "n": name},
        )
        return found["did"] is not None

    def _ensure_did(self, scope: str, name: str, session: Any) -> None:
        """Register in lakecat, from Rucio's own record, a DID lakecat does not have yet."""
        if self._did_exists(scope, name):
            return
        from rucio.common.types import InternalScope  # noqa: PLC0415 - inside Rucio only
        from rucio.core.did import get_did  # noqa: PLC0415

        did = get_did(InternalScope(scope), name, session=session)
        kind = str(getattr(did["type"], "name", did["type"])).upper()
        if kind == "FILE":
            files = [
                {
                    "scope": scope,
                    "name": name,
                    "bytes": did["bytes"],
                    "adler32": str(did["adler32"]).rjust(8, "0"),
                    **({"md5": did["md5"]} if did.get("md5") else {}),
                }
            ]
            result = self._graphql(
                "mutation($f: [FileInput!]!) { registerFiles(files: $f) { ok failed } }",
                {"f": files},
            )["registerFiles"]
            if not result["ok"]:
                raise _error("InvalidMetadata", f"lakecat refused to register {scope}:{name}")
        else:
            field = "createDataset" if kind == "DATASET" else "createContainer"
            self._mutate(
                f"mutation($s: String!, $n: String!) {{ {field}(scope: $s, name: $n) "
                "{ __typename ... on DIDSuccess { did { id } } } }",
                {"s": scope, "n": name},
                field,
            )

    # -- DidMetaPlugin -----------------------------------------------------------------------

    def get_metadata(
        self,
        scope: Any,
        name: str,
        *,
        session: Any = None,  # noqa: ARG002
    ) -> dict[str, Any]:
        """The DID's metadata in lakecat; a DID lakecat does not have has none."""
        found = self._graphql(
            "query($s: String!, $n: String!) "
            "{ did(scope: $s, name: $n) { metadata { key value } } }",
            {"s": _external(scope), "n": name},
        )
        if found["did"] is None:
            return {}
        return {entry["key"]: entry["value"] for entry in found["did"]["metadata"]}

    def set_metadata(
        self,
        scope: Any,
        name: str,
        key: str,
        value: Any,
        recursive: bool = False,
        *,
        session: Any = None,
    ) -> None:
        """Set one key."""
        self.set_metadata_bulk(scope, name, {key: value}, recursive, session=session)

    def set_metadata_bulk(
        self,
        scope: Any,
        name: str,
        metadata: Mapping[str, Any] | None = None,
        recursive: bool = False,  # noqa: ARG002 - lakecat's metadata is per DID
        *,
        session: Any = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """Set keys; the others stay.

        Rucio's core passes ``metadata=`` while its interface names the argument ``meta``:
        both are taken.
        """
        values = metadata if metadata is not None else meta or {}
        self._ensure_did(_external(scope), name, session)
        self._write(_external(scope), name, values, "MERGE")

    def delete_metadata(self, scope: Any, name: str, key: str, *, session: Any = None) -> None:  # noqa: ARG002
        """Remove one key."""
        current = self.get_metadata(scope, name)
        if key not in current:
            raise _error("KeyNotFound", f"{_external(scope)}:{name} has no metadata key {key!r}")
        del current[key]
        self._write(_external(scope), name, current, "REPLACE")

    def _write(self, scope: str, name: str, meta: Mapping[str, Any], mode: str) -> None:
        entries = [{"key": k, "value": _json_value(v)} for k, v in meta.items()]
        self._mutate(
            "mutation($d: String!, $e: [MetadataInput!]!, $m: MetadataMode!) "
            "{ setMetadata(did: $d, entries: $e, mode: $m) { __typename "
            "... on InvalidInputError { message } ... on NotFoundError { message } } }",
            {"d": f"{scope}:{name}", "e": entries, "m": mode},
            "setMetadata",
        )

    def list_dids(
        self,
        scope: Any,
        filters: Any,
        did_type: str = "collection",
        ignore_case: bool = False,  # noqa: ARG002
        limit: int | None = None,
        offset: int | None = None,
        long: bool = False,
        recursive: bool = False,  # noqa: ARG002
        *,
        session: Any = None,  # noqa: ARG002
        ignore_dids: Any = None,  # noqa: ARG002
    ) -> Iterator[str | dict[str, Any]]:
        """DIDs of the scope matching the filters, by name."""
        groups = filters if isinstance(filters, list) else [filters or {}]
        try:
            text, region = translate([dict(g) for g in groups])
        except FilterError as exc:
            raise _error("InvalidMetadata", str(exc)) from exc
        wanted: dict[str, Any] = {"scopes": [_external(scope)] if scope is not None else None}
        wanted.update({"types": _TYPES.get(did_type), "rucioFilter": text, "region": region})
        skip, left = offset or 0, limit
        for node in self._pages({k: v for k, v in wanted.items() if v is not None}):
            if skip:
                skip -= 1
                continue
            if left is not None:
                if left <= 0:
                    return
                left -= 1
            if long:
                yield {
                    "scope": scope,  # Rucio's InternalScope: its REST layer makes it external
                    "name": node["name"],
                    "did_type": node["type"],
                    "bytes": node.get("bytes"),
                    "length": node.get("length"),
                }
            else:
                yield node["name"]

    def _pages(self, wanted: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        after = None
        query = (
            "query($f: DIDFilterInput, $after: String) "
            f"{{ dids(filter: $f, first: {PAGE}, after: $after) "
            "{ edges { node { scope name type ... on File { bytes } "
            "... on Dataset { bytes length } ... on Container { length } } } "
            "pageInfo { hasNextPage endCursor } } }"
        )
        while True:
            page = self._graphql(query, {"f": dict(wanted), "after": after})["dids"]
            for edge in page["edges"]:
                yield edge["node"]
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    def manages_key(self, key: str, *, session: Any = None) -> bool:  # noqa: ARG002
        """Every key Rucio's DID columns do not hold (Rucio asks the column plugin first)."""
        return True


def _external(scope: Any) -> str:
    return str(getattr(scope, "external", scope))


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _error(name: str, message: str) -> Exception:
    """Rucio's exception of that name (so its REST layer answers properly), else ValueError."""
    cls = getattr(rucio_exception, name, None) if rucio_exception is not None else None
    return cls(message) if cls is not None else ValueError(message)
