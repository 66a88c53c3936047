"""The lake's own coverage as a HiPS list entry, so that VO clients and other lakes find it.

``/hips/list`` is a HiPS list (HiPS 1.0 §5.2) of one record, the lake; ``/hips/lake`` is
that record's "HiPS" with its ``properties`` and ``Moc.fits`` (§4.4.1, §4.4.2): the union
MOC of the lake's live files. There are no tiles, so ``hips_order``, ``hips_tile_format``
and ``hips_tile_width`` are left out and a viewer asks for none; a MOCServer-style client
reads the MOC and the ranges. See docs/harvest-hips.md.

The entry is computed from every live lake file, so it is kept until the lake's files
change: the count of files and the newest one tell (files cannot be modified, only added
or deleted).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridges.harvest.hips import format_record
from catalogue.config import Settings
from catalogue.coverage import Coverage, MocFormat
from catalogue.harvest import LAKE_SOURCE
from catalogue.models import DIDType
from catalogue.query import DIDQuery, FacetField, SortKey
from catalogue.service import Catalogue

TEXT = "text/plain; charset=utf-8"
FITS = "application/fits"
#: The path of the lake's entry under the mount, as its ``hips_service_url`` names it.
LAKE_PATH = "lake"
#: Seconds a summary is reused even when the fingerprint has not changed.
SUMMARY_TTL = 60.0
HIPS_VERSION = "1.4"  # the properties version of HiPS 1.0 (REC 2017-05-19)
_FILES = DIDQuery(sources=(LAKE_SOURCE,), types=(DIDType.FILE,), limit=0)


@dataclass(frozen=True, slots=True)
class LakeSummary:
    """What the lake's entry says: its MOC, ranges, product type, newest file."""

    fingerprint: tuple[int, int | None]  # (live files, newest file's id)
    coverage: Coverage
    moc_fits: bytes
    ranges: dict[str, float]  # t_min/t_max (MJD), em_min/em_max (m)
    dataproduct_type: str | None  # when every typed file has the same
    released: datetime | None  # the newest file's registration


async def _fingerprint(catalogue: Catalogue) -> tuple[tuple[int, int | None], datetime | None]:
    newest = await catalogue.search(replace(_FILES, sort=SortKey.CREATED, descending=True, limit=1))
    first = newest.items[0] if newest.items else None
    return (newest.total, first.id if first else None), first.created_at if first else None


async def _ranges(catalogue: Catalogue) -> dict[str, float]:
    """The time and wavelength the lake's files span, from one aggregate query."""
    span = await catalogue.time_and_spectral_span(_FILES)
    names = ("t_min", "t_max", "em_min", "em_max")
    return {name: value for name, value in zip(names, span, strict=True) if value is not None}


class LakePublication:
    """The endpoints, and the summary they share until the lake's files change."""

    def __init__(self, catalogue: Catalogue, settings: Settings) -> None:
        self.catalogue = catalogue
        self.settings = settings
        self._summary: LakeSummary | None = None
        self._computed = 0.0  # time.monotonic() of the summary

    async def summary(self) -> LakeSummary:
        """The lake's summary, recomputed when files were added or deleted.

        It is also recomputed at least every :data:`SUMMARY_TTL` seconds: a file hidden by a
        new embargo while another's is lifted leaves the fingerprint as it was.
        """
        fingerprint, released = await _fingerprint(self.catalogue)
        fresh = time.monotonic() - self._computed < SUMMARY_TTL
        if self._summary is not None and self._summary.fingerprint == fingerprint and fresh:
            return self._summary
        self._computed = time.monotonic()
        coverage = await self.catalogue.union_coverage(_FILES, self.settings.moc_order)
        facets = await self.catalogue.facets(_FILES, [FacetField.DATAPRODUCT_TYPE])
        types = [value for value, _ in facets[FacetField.DATAPRODUCT_TYPE] if value is not None]
        self._summary = LakeSummary(
            fingerprint=fingerprint,
            coverage=coverage,
            moc_fits=base64.b64decode(coverage.to_string(MocFormat.FITS)),
            ranges=await _ranges(self.catalogue),
            dataproduct_type=str(types[0]) if len(types) == 1 else None,
            released=released,
        )
        return self._summary

    def base_url(self, request: Request) -> str:
        """The service root clients use: the configured public URL, else the request's."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return str(request.base_url).rstrip("/")

    def record(self, summary: LakeSummary, base: str) -> list[tuple[str, str]]:
        """The lake's properties record (HiPS 1.0 §4.4.1 keywords)."""
        authority = self.settings.ivoa_authority
        order = self.settings.moc_order
        released = summary.released or datetime.now(UTC)
        pairs = [
            ("creator_did", f"ivo://{authority}/lake"),
            ("publisher_id", f"ivo://{authority}"),
            ("obs_title", f"Data lake {authority}"),
            (
                "obs_description",
                (
                    f"Sky coverage of the files registered in the data lake {authority}: "
                    f"the union of their MOCs at order {order}"
                ),
            ),
        ]
        if summary.dataproduct_type:
            pairs.append(("dataproduct_type", summary.dataproduct_type))
        pairs += [(k, repr(v)) for k, v in sorted(summary.ranges.items())]
        return [
            *pairs,
            ("hips_version", HIPS_VERSION),
            ("hips_release_date", released.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")),
            ("hips_status", "public master unclonable"),
            ("hips_frame", "equatorial"),
            ("hips_service_url", f"{base}/hips/{LAKE_PATH}"),
            ("moc_order", str(order)),
            ("moc_sky_fraction", f"{summary.coverage.sky_fraction:.6g}"),
        ]

    async def properties_text(self, request: Request) -> str:
        """The lake's record as a properties file."""
        return format_record(self.record(await self.summary(), self.base_url(request)))

    # -- endpoints -----------------------------------------------------------------------

    async def hips_list(self, request: Request) -> Response:
        """GET /hips/list: the HiPS list of this node, the lake's record."""
        text = f"# HiPS list of {self.base_url(request)}/hips\n"
        return Response(text + await self.properties_text(request), media_type=TEXT)

    async def properties(self, request: Request) -> Response:
        """GET /hips/lake/properties: the same record, alone."""
        return Response(await self.properties_text(request), media_type=TEXT)

    async def moc(self, request: Request) -> Response:
        """GET /hips/lake/Moc.fits: the union MOC of the lake's live files (MOC 2.0 FITS)."""
        del request
        summary = await self.summary()
        return Response(summary.moc_fits, media_type=FITS)


def hips_routes(catalogue: Catalogue, settings: Settings) -> list[Route]:
    """The routes to mount at ``/hips``."""
    publication = LakePublication(catalogue, settings)
    return [
        Route("/list", publication.hips_list),
        Route(f"/{LAKE_PATH}/properties", publication.properties),
        Route(f"/{LAKE_PATH}/Moc.fits", publication.moc),
    ]
