"""Named spectral bands as wavelength ranges in metres (the IVOA waveband names).

Boundaries follow the usual VO convention (VODataService ``waveband`` values, as the
registry and the MOCServer use them): contiguous, so every wavelength belongs to one band.
"""

from __future__ import annotations

from enum import StrEnum

from catalogue.errors import InvalidQueryError


class Band(StrEnum):
    """Spectral bands a search can name instead of a wavelength range."""

    RADIO = "radio"
    MILLIMETER = "millimeter"
    INFRARED = "infrared"
    OPTICAL = "optical"
    UV = "uv"
    EUV = "euv"
    X_RAY = "x-ray"
    GAMMA_RAY = "gamma-ray"


BAND_RANGES: dict[Band, tuple[float | None, float | None]] = {
    Band.RADIO: (1e-2, None),  # longer than 1 cm
    Band.MILLIMETER: (1e-4, 1e-2),  # 0.1 mm to 1 cm
    Band.INFRARED: (1e-6, 1e-4),  # 1 to 100 micron
    Band.OPTICAL: (3e-7, 1e-6),  # 300 nm to 1 micron
    Band.UV: (1e-7, 3e-7),  # 100 to 300 nm
    Band.EUV: (1e-8, 1e-7),  # 10 to 100 nm
    Band.X_RAY: (1e-11, 1e-8),  # about 0.12 to 120 keV
    Band.GAMMA_RAY: (None, 1e-11),  # above about 120 keV
}


def band_range(name: str) -> tuple[float | None, float | None]:
    """The wavelength range (m) of a band name (case-insensitive; 'xray' and 'gamma' too)."""
    aliases = {
        "xray": "x-ray",
        "gamma": "gamma-ray",
        "gammaray": "gamma-ray",
        "ir": "infrared",
        "mm": "millimeter",
        "millimetre": "millimeter",
    }
    key = name.strip().lower()
    key = aliases.get(key, key)
    try:
        return BAND_RANGES[Band(key)]
    except ValueError as exc:
        names = ", ".join(b.value for b in Band)
        raise InvalidQueryError(f"unknown band {name!r}; use one of {names}") from exc
