"""Harvest HiPS surveys from a HiPS list or a properties file (docs/harvest-hips.md).

A HiPS list (HiPS 1.0 §5.2) is properties records (§4.4.1) separated by blank lines; a
properties file is one record. Each survey becomes a DATASET named by its ``creator_did``:
its ObsCore keywords go to the characterisation, everything else a MOCServer user filters
on to typed metadata, and its ``Moc.fits`` (§4.4.2) to its coverage. The list is streamed
and read ``chunk_size`` records at a time, whose MOCs are fetched a few at once.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from astropy.io import fits

from bridges.harvest.errors import RemoteError, describe
from bridges.harvest.http import DEFAULT_TIMEOUT, RemoteSession
from bridges.harvest.run import Chunk
from catalogue.coverage import Coverage
from catalogue.errors import InvalidInputError
from catalogue.harvest import (
    HarvestedRecord,
    RecordProblem,
    SourceKind,
    SourceSpec,
    default_source_name,
)
from catalogue.models import DIDType, MetaValue
from catalogue.obscore import DATAPRODUCT_TYPES, parse_characterisation, parse_timestamp

#: Moc.fits downloads in flight at once while a chunk is read.
FETCHERS = 8
_NOT_FOUND = 404
_MISSING = frozenset({_NOT_FOUND, 410})  # no Moc.fits: the survey is kept without coverage
_SKY_FRAMES = frozenset({"equatorial", "galactic", "ecliptic"})  # others are planets' surfaces
_SUFFIX = re.compile(r"^(?P<base>.+)_(?P<n>\d+)$")  # hips_service_url_1: a repeated keyword
_META_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")

# HiPS keywords that are ObsCore 1.1 fields (HiPS 1.0 §4.4.1 reuses the ObsCore vocabulary).
_OBSCORE_TEXT = ("obs_title", "obs_collection", "dataproduct_subtype", "publisher_id")
_OBSCORE_NUMBER = ("em_min", "em_max", "t_min", "t_max")
_RENAMED = {"obs_description": "description"}
_INTEGERS = frozenset(
    {
        "hips_order",
        "hips_order_min",
        "hips_tile_width",
        "hips_pixel_bitpix",
        "data_pixel_bitpix",
        "hips_cat_nrows",
        "hips_estsize",
        "hips_nb_tiles",
        "moc_order",
    }
)
_FLOATS = frozenset(
    {
        "moc_sky_fraction",
        "hips_initial_ra",
        "hips_initial_dec",
        "hips_initial_fov",
        "hips_pixel_scale",
        "s_pixel_scale",
        "obs_restfreq",
    }
)
_NUMBER_LISTS = frozenset({"hips_pixel_cut", "hips_data_range", "hips_data_minmax"})
_WORD_LISTS = frozenset({"hips_tile_format"})
_TIMES = frozenset({"hips_release_date", "hips_creation_date"})


@dataclass(slots=True)
class PropertiesRecord:
    """One record of a HiPS list: its keywords in order and the lines that were not."""

    number: int  # 1-based position in the list
    line: int  # the line it starts on
    pairs: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def values(self) -> dict[str, list[str]]:
        """Each keyword's values, in order (a keyword may repeat, HiPS 1.0 §4.4.1)."""
        out: dict[str, list[str]] = {}
        for key, value in self.pairs:
            out.setdefault(key, []).append(value)
        return out

    @property
    def creator_did(self) -> str | None:
        """The survey's IVOID, its identity for good."""
        return next((v for k, v in self.pairs if k == "creator_did" and v), None)

    @property
    def where(self) -> str:
        """How a problem names the record: its creator_did, else its position."""
        return self.creator_did or f"record {self.number} (line {self.line})"


def _parse_line(text: str) -> tuple[str, str] | str:
    """``keyword = value``, or why the line is not one."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep:
        return "no '=' (a properties line is 'keyword = value')"
    if not key or any(c.isspace() for c in key):
        return f"keyword {key!r} is empty or contains spaces"
    return key, value.strip()


def read_records(lines: Iterable[str], *, single: bool = False) -> Iterator[PropertiesRecord]:
    """The records of a HiPS list; with ``single``, the one record of a properties file.

    Comment lines (``#``) are skipped; a blank line ends a list record, and is ignored
    inside a properties file (HiPS 1.0 §4.4.1, §5.2).
    """
    record: PropertiesRecord | None = None
    count = 0
    for number, raw in enumerate(lines, start=1):
        text = raw.strip().lstrip("\ufeff")
        if not text:
            if record is not None and not single:
                yield record
                record = None
            continue
        if text.startswith("#"):
            continue
        if record is None:
            count += 1
            record = PropertiesRecord(count, number)
        parsed = _parse_line(text)
        if isinstance(parsed, str):
            record.problems.append(f"line {number}: {parsed}: {text[:80]!r}")
        else:
            record.pairs.append(parsed)
    if record is not None:
        yield record


def format_record(pairs: Sequence[tuple[str, str]]) -> str:
    """One properties record as HiPS tools write it: aligned ``keyword = value`` lines."""
    return "".join(f"{key:<20} = {' '.join(value.split())}\n" for key, value in pairs)


def _base_key(key: str) -> str:
    match = _SUFFIX.match(key)
    return match["base"] if match else key


def _typed(key: str, text: str) -> MetaValue | None:
    """A keyword's value as its type; ``None`` when it does not read as one."""
    base = _base_key(key)
    value: MetaValue = text
    try:
        if base in _INTEGERS:
            value = int(text)
        elif base in _FLOATS:
            value = float(text)
        elif base in _NUMBER_LISTS:
            value = [float(v) for v in text.split()]
        elif base in _WORD_LISTS:
            value = text.split()
        elif base in _TIMES:
            value = parse_timestamp(key, text)
    except (ValueError, InvalidInputError):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def characterisation_of(values: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The ObsCore fields a record gives; one that does not read is left out."""
    raw: dict[str, Any] = {k: values[k][0] for k in _OBSCORE_TEXT if values.get(k)}
    for key in _OBSCORE_NUMBER:
        try:
            raw[key] = float(values[key][0])
        except (KeyError, IndexError, ValueError):
            continue
    dataproduct = values.get("dataproduct_type", [""])[0]
    if dataproduct in DATAPRODUCT_TYPES:
        raw["dataproduct_type"] = dataproduct
    out: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            out.update(parse_characterisation({key: value}))
        except InvalidInputError:
            continue
    for low, high in (("em_min", "em_max"), ("t_min", "t_max")):
        if low in out and high in out and out[low] > out[high]:  # a range given backwards
            out[low], out[high] = out[high], out[low]
    return out


def metadata_of(values: Mapping[str, Sequence[str]]) -> dict[str, MetaValue]:
    """Every other keyword, typed; a repeated one becomes a list.

    ``dataproduct_type`` values ObsCore does not know (HiPS ``catalog``) are kept as
    ``hips_dataproduct_type``: under their own name the ObsCore column would hide them.
    """
    out: dict[str, MetaValue] = {}
    for key, texts in values.items():
        if key in _OBSCORE_TEXT or key in _OBSCORE_NUMBER or key == "creator_did":
            continue
        if key == "dataproduct_type":
            if texts[0] in DATAPRODUCT_TYPES:
                continue
            key = "hips_dataproduct_type"  # noqa: PLW2901 - renamed on purpose
        name = _RENAMED.get(key, key)
        if not _META_KEY.match(name):
            continue
        typed = [t for t in (_typed(key, text) for text in texts if text) if t is not None]
        flat = [v for t in typed for v in (t if isinstance(t, list) else [t])]
        if len(typed) == 1:
            out[name] = typed[0]
        elif typed:
            out[name] = flat
    return out


def service_urls(values: Mapping[str, Sequence[str]]) -> list[str]:
    """``hips_service_url`` and its mirrors ``hips_service_url_1``, ``_2``… in that order."""
    found: list[tuple[int, str]] = []
    for key, texts in values.items():
        match = _SUFFIX.match(key)
        if key == "hips_service_url":
            found.extend((0, t) for t in texts if t)
        elif match and match["base"] == "hips_service_url":
            found.extend((int(match["n"]), t) for t in texts if t)
    return [url.rstrip("/") for _, url in sorted(found, key=lambda item: item[0])]


def _is_properties(url: str) -> bool:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] == "properties"


class HipsReader:
    """The surveys of a HiPS list, a properties file, or a HiPS base URL (its properties).

    A survey whose ``Moc.fits`` is missing (HTTP 404 or 410) is harvested without
    coverage; so is one whose MOC is not a spatial ICRS MOC (a planet's surface, a
    galactic-frame MOC). A server error or silence on the list or a MOC, after trying the
    survey's mirrors, is a :class:`RemoteError`, and so is a list without any record; a
    broken MOC or a refused one (other 4xx) is a problem of that record only.
    """

    def __init__(
        self,
        url: str,
        *,
        source: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        chunk_size: int = 200,
    ) -> None:
        self.spec = SourceSpec(
            source or default_source_name(url, SourceKind.HIPS), SourceKind.HIPS, url, {}
        )
        self.chunk_size = max(chunk_size, 1)
        self._timeout = timeout
        self._session = RemoteSession(timeout)
        self._complete = False
        self._base: str | None = None  # a properties file's directory: its HiPS

    @property
    def complete(self) -> bool:
        """Whether the last :meth:`chunks` read the list to its end."""
        return self._complete

    def chunks(self, resume_after: str | None) -> Iterator[Chunk]:
        """The surveys, after the one whose creator_did is ``resume_after`` when given.

        When that survey has left the list, the whole list is read again.
        """
        self._complete = False
        for marker in (resume_after, None) if resume_after else (None,):
            batch: list[PropertiesRecord] = []
            found = marker is None
            for record in self._records():
                if not found:
                    found = record.creator_did == marker
                    continue
                batch.append(record)
                if len(batch) >= self.chunk_size:
                    yield self._chunk(batch)
                    batch = []
            if found:
                if batch:
                    yield self._chunk(batch)
                self._complete = True
                return

    # -- the list ------------------------------------------------------------------------

    def _get(self, url: str, *, stream: bool = False) -> requests.Response:
        try:
            return self._session.get(url, stream=stream)
        except requests.RequestException as exc:
            raise describe(url, exc, self._timeout) from exc

    def _open(self) -> tuple[requests.Response, str, bool]:
        """The list's answer, its URL, and whether it is a single properties file."""
        url = self.spec.url
        single = _is_properties(url)
        response = self._get(url, stream=True)
        html = "html" in response.headers.get("Content-Type", "")
        if not single and (response.status_code == _NOT_FOUND or (response.ok and html)):
            response.close()  # a HiPS base URL: its index.html, or nothing; read its properties
            url, single = f"{url.rstrip('/')}/properties", True
            response = self._get(url, stream=True)
        if not response.ok:
            response.close()
            raise RemoteError(f"{url}: HTTP {response.status_code} {response.reason or ''}".strip())
        return response, url, single

    def _records(self) -> Iterator[PropertiesRecord]:
        response, url, single = self._open()
        self._base = url.rstrip("/").rsplit("/", 1)[0] if single else None

        def lines() -> Iterator[str]:
            try:
                for line in response.iter_lines():
                    yield line.decode("utf-8", errors="replace")
            except requests.RequestException as exc:
                raise describe(url, exc, self._timeout) from exc
            finally:
                response.close()

        count = 0
        for record in read_records(lines(), single=single):
            count += 1
            yield record
        if not count:  # read as "the node has nothing now", it would withdraw everything
            raise RemoteError(f"{url}: no HiPS record in the answer")

    # -- one chunk -----------------------------------------------------------------------

    def _chunk(self, batch: list[PropertiesRecord]) -> Chunk:
        with ThreadPoolExecutor(max_workers=FETCHERS) as pool:
            items = list(pool.map(self._harvest, batch))
        marker = next((r.creator_did for r in reversed(batch) if r.creator_did), None)
        return Chunk(items, resume_after=marker)

    def _harvest(self, record: PropertiesRecord) -> HarvestedRecord | RecordProblem:
        if record.problems:
            return RecordProblem(record.where, "; ".join(record.problems))
        creator_did = record.creator_did
        if creator_did is None:
            return RecordProblem(record.where, "no creator_did (HiPS 1.0 §4.4.1 requires it)")
        values = record.values()
        metadata = metadata_of(values)
        bases = service_urls(values)
        if self._base is not None and self._base not in bases:
            bases.insert(0, self._base)  # the properties file's own directory first
        if bases:
            metadata.setdefault("hips_service_url", bases[0])
        frame = values.get("hips_frame", ["equatorial"])[0].lower()
        coverage = self._coverage(record.where, bases, frame) if frame in _SKY_FRAMES else None
        if isinstance(coverage, RecordProblem):
            return coverage
        size = metadata.get("hips_estsize")
        return HarvestedRecord(
            remote_id=creator_did,
            did_type=DIDType.DATASET,
            characterisation=characterisation_of(values),
            metadata=metadata,
            coverage=coverage,
            bytes=size * 1024 if isinstance(size, int) and size >= 0 else None,  # KB
        )

    def _coverage(
        self, where: str, bases: list[str], frame: str
    ) -> Coverage | RecordProblem | None:
        """The survey's MOC from the first of its URLs that answers."""
        failure: RemoteError | None = None
        for base in bases:
            url = f"{base}/Moc.fits"
            try:
                response = self._session.get(url)
            except requests.RequestException as exc:
                failure = describe(url, exc, self._timeout)
                continue
            status = f"HTTP {response.status_code} {response.reason or ''}".strip()
            if response.status_code in _MISSING:
                if failure is None:  # the first to answer says there is none
                    return None
                continue  # a mirror without it does not excuse a failing master
            if response.status_code >= 500:  # noqa: PLR2004 - a server error: try a mirror
                failure = RemoteError(f"{url}: {status}")
                continue
            if not response.ok:
                return RecordProblem(where, f"{url}: {status}")
            return read_moc(where, url, response.content, frame)
        if failure is not None:
            raise failure
        return None


def read_moc(where: str, url: str, data: bytes, frame: str) -> Coverage | RecordProblem | None:
    """A Moc.fits as a coverage; ``None`` when it is not a sky MOC in ICRS.

    A MOC 2.0 FITS file says ``COORDSYS = 'C'`` (ICRS) and ``MOCDIM = 'SPACE'`` for a sky
    MOC; older ones may lack them, and then the HiPS frame says what the cells are.
    """
    try:
        with fits.open(io.BytesIO(data)) as hdus:
            header = hdus[1].header if len(hdus) > 1 else fits.Header()
            coordsys = str(header.get("COORDSYS", "C" if frame == "equatorial" else "?"))
            dimension = str(header.get("MOCDIM", "SPACE"))
    except (OSError, ValueError, IndexError) as exc:
        return RecordProblem(where, f"{url}: not a FITS file ({exc})")
    if coordsys.strip().upper() not in {"C", "ICRS"} or dimension.strip().upper() != "SPACE":
        return None
    try:
        return Coverage.from_fits(data)
    except InvalidInputError as exc:
        return RecordProblem(where, f"{url}: {exc}")
