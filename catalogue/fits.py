"""What a FITS file says about itself: checksums, ObsCore characterisation and sky footprint.

Only headers are read, never pixel data. The image described is the first HDU with two or more
axes and a celestial WCS (extension 1 of a tile-compressed ``.fz``), else the first with two
axes; keywords it lacks (``DATE-OBS``, ``TELESCOP``) are taken from the primary header.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import warnings
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np
from astropy.coordinates.errors import ConvertError
from astropy.io import fits
from astropy.io.fits.verify import VerifyError
from astropy.time import Time
from astropy.wcs import WCS

from catalogue.errors import InvalidInputError
from catalogue.region import Polygon, unit_vectors

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fz")
_CHUNK = 1 << 20
_BLOCK = 2880  # FITS 4.0 §3.1: a file is a sequence of 2880-byte blocks
_PLANE = 2  # two axes make an image, more than two long ones a cube
_IMAGE_HDUS = (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)
_BAD_VALUE = (ValueError, TypeError, ArithmeticError, KeyError, u.UnitsError, ConvertError)
_TEXTS = {"TELESCOP": "facility_name", "INSTRUME": "instrument_name", "OBJECT": "target_name"}
_COUNTS, _FLUX = "phot.count", "phot.flux.density"
_UCDS = {"adu": _COUNTS, "count": _COUNTS, "counts": _COUNTS, "jy/beam": _FLUX}
_OLD_DATE = re.compile(r"^(\d\d)/(\d\d)/(\d\d)$")  # FITS 4.0 §4.4.2.1: 'dd/mm/yy' means 19yy
_MINUTES = re.compile(r"\bmin(ute)?s?\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FitsDescription:
    """What a FITS file says about itself."""

    path: Path
    bytes: int  # size on disk
    adler32: str  # of the bytes as stored (compressed for .gz and .fz)
    md5: str
    characterisation: dict[str, Any]  # ObsCore field name -> value
    region: Polygon | None  # ICRS footprint; None without a usable celestial WCS


def find_fits(paths: Iterable[Path]) -> Iterator[Path]:
    """FITS files (by name) among the given files and, recursively, directories, sorted."""
    for path in paths:
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.name.lower().endswith(_SUFFIXES))
            yield from sorted(p for p in found if p.is_file())
        elif path.is_file() and path.name.lower().endswith(_SUFFIXES):
            yield path


def file_checksums(path: Path, chunk_size: int = _CHUNK) -> tuple[int, str, str]:
    """Size, adler32 and md5 of the bytes as stored, read in chunks so any size fits in memory."""
    size, adler, md5 = 0, 1, hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            size += len(chunk)
            adler = zlib.adler32(chunk, adler)
            md5.update(chunk)
    return size, f"{adler:08x}", md5.hexdigest()


def describe_fits(path: Path) -> FitsDescription:
    """Checksums, characterisation and footprint of a FITS file; a broken file is an input error."""
    try:
        size, adler32, md5 = file_checksums(path)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    _check_stream(path)
    image, primary = _read_headers(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITSFixedWarning, ErfaWarning: odd but usable values
        characterisation, region = _characterise(image, primary)
    return FitsDescription(path, size, adler32, md5, characterisation, region)


def _check_stream(path: Path) -> None:
    """Reject what astropy would open quietly or in part: non-FITS bytes, a cut or bad gzip."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if gzipped else path.open("rb") as stream:
            head = stream.read(_BLOCK)
            while gzipped and stream.read(_CHUNK):
                pass
    except EOFError as exc:
        raise InvalidInputError(f"truncated FITS file: {path} (gzip stream ends early)") from exc
    except (OSError, zlib.error) as exc:
        raise InvalidInputError(f"corrupt gzip stream: {path} ({exc})") from exc
    if not head.startswith(b"SIMPLE  ="):
        why = "it is empty" if not head else "it does not start with SIMPLE"
        raise InvalidInputError(f"not a FITS file: {path} ({why})")
    if len(head) < _BLOCK:
        raise InvalidInputError(f"truncated FITS file: {path} (shorter than one 2880-byte block)")


def _read_headers(path: Path) -> tuple[fits.Header, fits.Header]:
    """Read every HDU's header; return the image's to describe and the primary one."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(path) as hdul:
                hdus = list(hdul)  # reading every header is what reveals a truncated last HDU
                image = _pick_image(hdus)
        except Exception as exc:  # astropy raises many types that all mean "cannot read"
            notes = " ".join(str(w.message) for w in caught)
            if "truncated" in notes or "multiple of 2880" in notes:
                raise InvalidInputError(f"truncated FITS file: {path} ({exc})") from exc
            raise InvalidInputError(f"corrupt header: {path}: {exc}") from exc
    truncated = [str(w.message) for w in caught if "truncated" in str(w.message)]
    if truncated:
        raise InvalidInputError(f"truncated FITS file: {path} ({truncated[0]})")
    return image, hdus[0].header


def _pick_image(hdus: list[Any]) -> fits.Header:
    images = [h.header for h in hdus if isinstance(h, _IMAGE_HDUS) and len(_axes(h.header)) > 1]
    with_sky = (h for h in images if (w := _wcs(h)) is not None and w.has_celestial)
    return next(with_sky, images[0] if images else hdus[0].header)


def _axes(header: fits.Header) -> list[int]:
    """Lengths of the data axes (NAXIS1, NAXIS2, ...); empty when there is no data."""
    naxis = _value(header, "NAXIS")
    count = naxis if isinstance(naxis, int) else 0
    lengths = [_value(header, f"NAXIS{i}") for i in range(1, 1 + count)]
    return lengths if all(isinstance(n, int) and n > 0 for n in lengths) else []


def _value(header: fits.Header, key: str) -> Any:
    """Get a keyword's value; None when it is missing or its card cannot be parsed."""
    try:
        return header.get(key)
    except (VerifyError, ValueError):
        return None


def _wcs(header: fits.Header) -> WCS | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return WCS(header)
        except Exception:  # noqa: BLE001 - whatever wcslib rejects means "no usable WCS"
            return None


def _characterise(
    image: fits.Header, primary: fits.Header
) -> tuple[dict[str, Any], Polygon | None]:
    def get(key: str) -> Any:
        value = _value(image, key)
        return _value(primary, key) if value is None else value

    values: dict[str, Any] = {"access_format": "application/fits"}
    lengths = _axes(image)
    if len(lengths) >= _PLANE:
        values["dataproduct_type"] = "cube" if sum(n > 1 for n in lengths) > _PLANE else "image"
        values["s_xel1"], values["s_xel2"] = lengths[0], lengths[1]
    region = None
    wcs = _wcs(image) if lengths else None
    if wcs is not None and wcs.has_celestial:
        first, second = sorted((wcs.wcs.lng, wcs.wcs.lat))
        if second < len(lengths):
            values["s_xel1"], values["s_xel2"] = lengths[first], lengths[second]
            region = _footprint(wcs.celestial, lengths[first], lengths[second], values)
    if wcs is not None:
        values.update(_spectral(wcs, lengths))
    values.update(_time(get, image, primary))
    values.update(_labels(get))
    return values, region


def _footprint(wcs: WCS, nx: int, ny: int, values: dict[str, Any]) -> Polygon | None:
    """Find the pixel grid's outer corners in ICRS; set s_ra, s_dec, s_fov, s_region."""
    x = np.array([-0.5, nx - 0.5, nx - 0.5, -0.5, (nx - 1) / 2])  # 0-based pixel edges, centre
    y = np.array([-0.5, -0.5, ny - 0.5, ny - 0.5, (ny - 1) / 2])
    try:
        icrs = wcs.pixel_to_world(x, y).icrs
        radec = np.column_stack((icrs.ra.deg, icrs.dec.deg)).astype(float)
    except (*_BAD_VALUE, AttributeError):
        return None
    if not np.isfinite(radec).all():
        return None  # the grid runs off the projection (all-sky CAR, SIN past the horizon)
    xyz = unit_vectors(radec)
    reach = np.degrees(np.arccos(np.clip(xyz[:4] @ xyz[4], -1.0, 1.0)))
    if reach.max() >= 90 or len(np.unique(xyz[:4].round(12), axis=0)) < 3:  # noqa: PLR2004
        return None  # four great-circle edges describe no single region beyond a hemisphere
    region = Polygon(tuple((float(ra), float(dec)) for ra, dec in radec[:4]))
    values["s_ra"], values["s_dec"] = float(radec[4, 0]) % 360.0, float(radec[4, 1])
    values["s_fov"] = 2 * float(reach.max())
    values["s_region"] = region.to_stcs()
    return region


def _spectral(wcs: WCS, lengths: list[int]) -> dict[str, Any]:
    """Find em_xel, and em_min/em_max in metres when the axis converts to a wavelength."""
    axis = int(wcs.wcs.spec)
    if not 0 <= axis < len(lengths):
        return {}
    values: dict[str, Any] = {"em_xel": lengths[axis]}
    try:
        spec = wcs.sub([axis + 1])
        edges = spec.pixel_to_world_values(np.array([-0.5, lengths[axis] - 0.5]))
        quantity = u.Quantity(edges, spec.world_axis_units[0])
        metres = quantity.to_value(u.m, equivalencies=u.spectral())
    except _BAD_VALUE:
        return values  # velocity axes need a rest frequency; leave the range out
    if np.isfinite(metres).all() and (metres > 0).all():
        values["em_min"], values["em_max"] = float(metres.min()), float(metres.max())
    return values


def _time(get: Callable[[str], Any], image: fits.Header, primary: fits.Header) -> dict[str, Any]:
    start = _mjd(get("MJD-OBS"), get("DATE-OBS"), get("TIME-OBS"))
    end = _mjd(get("MJD-END"), get("DATE-END"), get("TIME-END"))
    exposure = _exposure(image)
    exposure = _exposure(primary) if exposure is None else exposure
    if end is not None and start is not None and end < start:
        end = None  # an end before the start is a typo, not an interval
    if end is None and start is not None and exposure is not None:
        end = start + exposure / 86400
    values = {"t_min": start, "t_max": end, "t_exptime": exposure}
    return {k: v for k, v in values.items() if v is not None}


def _mjd(mjd: Any, date: Any, clock: Any) -> float | None:
    """Read an MJD keyword, else an ISO date (UTC) with an optional separate time of day."""
    if (number := _number(mjd)) is not None:
        return number
    if not isinstance(date, str):
        return None
    text = date.strip().removesuffix("Z")  # FITS 4.0 §4.4.2.1 has no zone; some writers add Z
    if old := _OLD_DATE.match(text):
        text = f"19{old[3]}-{old[2]}-{old[1]}"
    if "T" not in text and isinstance(clock, str) and clock.strip():
        text = f"{text}T{clock.strip()}"
    try:
        return float(Time(text, format="fits", scale="utc").mjd)
    except _BAD_VALUE:
        return None


def _exposure(header: fits.Header) -> float | None:
    """Read EXPTIME or EXPOSURE in seconds; the DSS writes minutes and says so in the comment."""
    for key in ("EXPTIME", "EXPOSURE"):
        seconds = _number(_value(header, key))
        if seconds is not None and seconds >= 0:
            minutes = _MINUTES.search(header.comments[key])
            return seconds * 60 if minutes else seconds
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        return None
    return float(value)


def _labels(get: Callable[[str], Any]) -> dict[str, str]:
    texts = {field: get(key) for key, field in _TEXTS.items()}
    values = {f: t.strip() for f, t in texts.items() if isinstance(t, str) and t.strip()}
    bunit = get("BUNIT")
    if isinstance(bunit, str) and bunit.strip().lower() in _UCDS:
        values["o_ucd"] = _UCDS[bunit.strip().lower()]
    return values


__all__ = ["FitsDescription", "describe_fits", "file_checksums", "find_fits"]
