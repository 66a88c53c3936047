"""The ObsCore 1.1 characterisation: the one table that names, types and describes its fields.

Every other place that needs an ObsCore column (the store's typed columns, ingest validation,
the TAP bridge's ``ivoa.obscore`` and TAP_SCHEMA, the GraphQL type) is generated from
:data:`OBSCORE_FIELDS`. Names, units, UCDs and utypes are those of ObsCore 1.1 Table 6
(mandatory) and Table 7 (optional), with the UCDs of Erratum 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import astropy.units as u

from catalogue.errors import InvalidInputError


class FieldKind(Enum):
    """The value type of a characterisation field."""

    TEXT = "text"
    INTEGER = "integer"
    FLOAT = "float"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True, slots=True)
class ObsCoreField:
    """One ObsCore column: its name, type, unit, UCD and utype as the standard writes them."""

    name: str
    kind: FieldKind
    ucd: str
    utype: str
    description: str
    unit: str | None = None
    mandatory: bool = True


_T, _I, _F, _D = FieldKind.TEXT, FieldKind.INTEGER, FieldKind.FLOAT, FieldKind.TIMESTAMP

OBSCORE_FIELDS: tuple[ObsCoreField, ...] = (
    # ObsCore 1.1 Table 6: the 30 mandatory columns, in the standard's order.
    ObsCoreField(
        "dataproduct_type",
        _T,
        "meta.code.class",
        "obscore:ObsDataset.dataProductType",
        "Data product (file content) primary type",
    ),
    ObsCoreField(
        "calib_level",
        _I,
        "meta.code;obs.calib",
        "obscore:ObsDataset.calibLevel",
        "Calibration level of the observation: in {0, 1, 2, 3, 4}",
    ),
    ObsCoreField(
        "obs_collection", _T, "meta.id", "obscore:DataID.collection", "Name of the data collection"
    ),
    ObsCoreField(
        "obs_id",
        _T,
        "meta.id",
        "obscore:DataID.observationID",
        "Internal ID given by the ObsTAP service",
    ),
    ObsCoreField(
        "obs_publisher_did",
        _T,
        "meta.ref.ivoid",
        "obscore:Curation.publisherDID",
        "ID for the Dataset given by the publisher",
    ),
    ObsCoreField(
        "access_url",
        _T,
        "meta.ref.url",
        "obscore:Access.reference",
        "URL used to access (download) dataset",
    ),
    ObsCoreField(
        "access_format", _T, "meta.code.mime", "obscore:Access.format", "File content format"
    ),
    ObsCoreField(
        "access_estsize",
        _I,
        "phys.size;meta.file",
        "obscore:Access.size",
        "Estimated size of dataset in kilo bytes",
        unit="kbyte",
    ),
    ObsCoreField(
        "target_name",
        _T,
        "meta.id;src",
        "obscore:Target.name",
        "Astronomical object observed, if any",
    ),
    ObsCoreField(
        "s_ra",
        _F,
        "pos.eq.ra",
        "obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1",
        "Central right ascension, ICRS",
        unit="deg",
    ),
    ObsCoreField(
        "s_dec",
        _F,
        "pos.eq.dec",
        "obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2",
        "Central declination, ICRS",
        unit="deg",
    ),
    ObsCoreField(
        "s_fov",
        _F,
        "phys.angSize;instr.fov",
        "obscore:Char.SpatialAxis.Coverage.Bounds.Extent.diameter",
        "Diameter (bounds) of the covered region",
        unit="deg",
    ),
    ObsCoreField(
        "s_region",
        _T,
        "pos.outline;obs.field",
        "obscore:Char.SpatialAxis.Coverage.Support.Area",
        "Sky region covered by the data product (expressed in ICRS frame)",
        # No unit: ObsCore 1.1 gives s_region none (its STC-S text carries degrees).
    ),
    ObsCoreField(
        "s_resolution",
        _F,
        "pos.angResolution",
        "obscore:Char.SpatialAxis.Resolution.Refval.value",
        "Spatial resolution of data as FWHM",
        unit="arcsec",
    ),
    ObsCoreField(
        "s_xel1",
        _I,
        "meta.number",
        "obscore:Char.SpatialAxis.numBins1",
        "Number of elements along the first spatial axis",
    ),
    ObsCoreField(
        "s_xel2",
        _I,
        "meta.number",
        "obscore:Char.SpatialAxis.numBins2",
        "Number of elements along the second spatial axis",
    ),
    ObsCoreField(
        "t_min",
        _F,
        "time.start;obs.exposure",
        "obscore:Char.TimeAxis.Coverage.Bounds.Limits.StartTime",
        "Start time in MJD",
        unit="d",
    ),
    ObsCoreField(
        "t_max",
        _F,
        "time.end;obs.exposure",
        "obscore:Char.TimeAxis.Coverage.Bounds.Limits.StopTime",
        "Stop time in MJD",
        unit="d",
    ),
    ObsCoreField(
        "t_exptime",
        _F,
        "time.duration;obs.exposure",
        "obscore:Char.TimeAxis.Coverage.Support.Extent",
        "Total exposure time",
        unit="s",
    ),
    ObsCoreField(
        "t_resolution",
        _F,
        "time.resolution",
        "obscore:Char.TimeAxis.Resolution.Refval.value",
        "Temporal resolution FWHM",
        unit="s",
    ),
    ObsCoreField(
        "t_xel",
        _I,
        "meta.number",
        "obscore:Char.TimeAxis.numBins",
        "Number of elements along the time axis",
    ),
    ObsCoreField(
        "em_min",
        _F,
        "em.wl;stat.min",
        "obscore:Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit",
        "Start in spectral coordinates (vacuum wavelength)",
        unit="m",
    ),
    ObsCoreField(
        "em_max",
        _F,
        "em.wl;stat.max",
        "obscore:Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit",
        "Stop in spectral coordinates (vacuum wavelength)",
        unit="m",
    ),
    ObsCoreField(
        "em_res_power",
        _F,
        "spect.resolution",
        "obscore:Char.SpectralAxis.Resolution.ResolPower.refVal",
        "Value of the resolving power",
    ),
    ObsCoreField(
        "em_xel",
        _I,
        "meta.number",
        "obscore:Char.SpectralAxis.numBins",
        "Number of elements along the spectral axis",
    ),
    ObsCoreField(
        "o_ucd",
        _T,
        "meta.ucd",
        "obscore:Char.ObservableAxis.ucd",
        "UCD of observable (e.g. phot.flux.density, phot.count, etc.)",
    ),
    ObsCoreField(
        "pol_states",
        _T,
        "meta.code;phys.polarization",
        "obscore:Char.PolarizationAxis.stateList",
        "List of polarization states or NULL if not applicable",
    ),
    ObsCoreField(
        "pol_xel",
        _I,
        "meta.number",
        "obscore:Char.PolarizationAxis.numBins",
        "Number of polarization samples",
    ),
    ObsCoreField(
        "facility_name",
        _T,
        "meta.id;instr.tel",
        "obscore:Provenance.ObsConfig.Facility.name",
        "Name of the facility used for this observation",
    ),
    ObsCoreField(
        "instrument_name",
        _T,
        "meta.id;instr",
        "obscore:Provenance.ObsConfig.Instrument.name",
        "Name of the instrument used for this observation",
    ),
    # ObsCore 1.1 Table 7: the optional columns the lake carries.
    ObsCoreField(
        "obs_title",
        _T,
        "meta.title;obs",
        "obscore:DataID.title",
        "Brief description of dataset in free format",
        mandatory=False,
    ),
    ObsCoreField(
        "obs_release_date",
        _D,
        "time.release",
        "obscore:Curation.releaseDate",
        "Observation release date (ISO 8601)",
        mandatory=False,
    ),
    ObsCoreField(
        "data_rights",
        _T,
        "meta.code",
        "obscore:Curation.rights",
        "Data rights: public, secure or proprietary",
        mandatory=False,
    ),
    ObsCoreField(
        "dataproduct_subtype",
        _T,
        "meta.code.class",
        "obscore:ObsDataset.dataProductSubtype",
        "Data product specific type",
        mandatory=False,
    ),
    ObsCoreField(
        "target_class",
        _T,
        "src.class",
        "obscore:Target.class",
        "Class of the Target object as in SSA",
        mandatory=False,
    ),
    ObsCoreField(
        "publisher_id",
        _T,
        "meta.ref.ivoid",
        "obscore:Curation.publisherID",
        "IVOA-ID for the Publisher",
        mandatory=False,
    ),
    ObsCoreField(
        "preview",
        _T,
        "meta.ref.url;meta.preview",
        "obscore:Access.preview",
        "URL of a preview (low resolution, quick view) of the dataset",
        mandatory=False,
    ),
)

FIELDS_BY_NAME: dict[str, ObsCoreField] = {f.name: f for f in OBSCORE_FIELDS}

# Categorical fields a collection summarises from its members, so that "datasets of
# calibration level >= 2" or "containers with LOFAR data" are answerable (store/extents.py).
SUMMARY_FIELDS: tuple[str, ...] = (
    "dataproduct_type",
    "dataproduct_subtype",
    "calib_level",
    "obs_collection",
    "facility_name",
    "instrument_name",
    "target_name",
    "target_class",
    "data_rights",
)

DATAPRODUCT_TYPES = frozenset(
    {"image", "cube", "spectrum", "sed", "timeseries", "visibility", "event", "measurements"}
)
CALIB_LEVELS = frozenset({0, 1, 2, 3, 4})
DATA_RIGHTS = frozenset({"public", "secure", "proprietary"})
POL_STATES = frozenset(
    {"I", "Q", "U", "V", "RR", "LL", "RL", "LR", "XX", "YY", "XY", "YX", "POLI", "POLA"}
)
_POL_SYNTAX = re.compile(r"^/([A-Z]+/)+$")


def validate_pol_states(value: str) -> str:
    """Check ObsCore 1.1 §4.23 syntax: a ``/``-delimited list such as ``/I/Q/U/V/``."""
    if not _POL_SYNTAX.match(value):
        msg = f"pol_states {value!r} must look like '/I/Q/U/V/' (leading and trailing '/')"
        raise InvalidInputError(msg)
    unknown = [s for s in value.strip("/").split("/") if s not in POL_STATES]
    if unknown:
        msg = f"pol_states {value!r} has unknown states {unknown}; allowed: {sorted(POL_STATES)}"
        raise InvalidInputError(msg)
    return value


def validate_enumerations(values: dict[str, object]) -> None:
    """Reject values outside the enumerations ObsCore 1.1 defines."""
    dpt = values.get("dataproduct_type")
    if dpt is not None and dpt not in DATAPRODUCT_TYPES:
        msg = f"dataproduct_type {dpt!r} is not one of {sorted(DATAPRODUCT_TYPES)}"
        raise InvalidInputError(msg)
    level = values.get("calib_level")
    if level is not None and level not in CALIB_LEVELS:
        msg = f"calib_level {level!r} is not one of {sorted(CALIB_LEVELS)}"
        raise InvalidInputError(msg)
    rights = values.get("data_rights")
    if rights is not None and rights not in DATA_RIGHTS:
        msg = f"data_rights {rights!r} is not one of {sorted(DATA_RIGHTS)}"
        raise InvalidInputError(msg)
    pol = values.get("pol_states")
    if pol is not None:
        validate_pol_states(str(pol))


def _with_unit(field: ObsCoreField, value: Any) -> float:
    """Convert ``"500 nm"`` or ``{"value": 500, "unit": "nm"}`` to the field's standard unit."""
    if isinstance(value, dict):
        quantity = u.Quantity(value.get("value"), value.get("unit"))
    else:
        quantity = u.Quantity(value)
    if field.unit is None:
        msg = f"{field.name} takes no unit, got {value!r}"
        raise InvalidInputError(msg)
    target = u.Unit(field.unit, format="vounit") if field.unit == "kbyte" else u.Unit(field.unit)
    return float(quantity.to_value(target, equivalencies=u.spectral()))


def _coerce(field: ObsCoreField, value: Any) -> Any:
    if field.kind is FieldKind.TEXT:
        if not isinstance(value, str):
            msg = f"{field.name} must be a string, got {value!r}"
            raise InvalidInputError(msg)
        return value
    if field.kind is FieldKind.TIMESTAMP:
        return parse_timestamp(field.name, value)
    if isinstance(value, bool):
        msg = f"{field.name} must be a number, got {value!r}"
        raise InvalidInputError(msg)
    if isinstance(value, str | dict):
        try:
            value = _with_unit(field, value)
        except (ValueError, TypeError, u.UnitsError) as exc:
            msg = f"{field.name}: cannot read {value!r} as a quantity in {field.unit}: {exc}"
            raise InvalidInputError(msg) from exc
    if not isinstance(value, int | float):
        msg = f"{field.name} must be a number, got {value!r}"
        raise InvalidInputError(msg)
    if field.kind is FieldKind.INTEGER:
        if float(value) != int(value):
            msg = f"{field.name} must be an integer, got {value!r}"
            raise InvalidInputError(msg)
        return int(value)
    return float(value)


def parse_timestamp(name: str, value: Any) -> datetime:
    """Read an ISO 8601 timestamp; a naive one is taken as UTC (DALI 1.1 §3.3.3)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            msg = f"{name} must be an ISO 8601 timestamp, got {value!r}"
            raise InvalidInputError(msg) from exc
    else:
        msg = f"{name} must be an ISO 8601 timestamp, got {value!r}"
        raise InvalidInputError(msg)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_characterisation(raw: dict[str, Any]) -> dict[str, Any]:
    """Type, convert units and validate a characterisation given by name.

    Numbers without a unit are taken in the field's standard unit; a string such as
    ``"550 nm"`` or a ``{"value", "unit"}`` object is converted (wavelengths also from
    frequency or energy). ``None`` values are dropped.
    """
    unknown = sorted(set(raw) - set(FIELDS_BY_NAME))
    if unknown:
        msg = f"unknown ObsCore field(s) {unknown}"
        raise InvalidInputError(msg)
    values = {
        name: _coerce(FIELDS_BY_NAME[name], value)
        for name, value in raw.items()
        if value is not None
    }
    validate_enumerations(values)
    return values


__all__ = [
    "CALIB_LEVELS",
    "DATAPRODUCT_TYPES",
    "DATA_RIGHTS",
    "FIELDS_BY_NAME",
    "OBSCORE_FIELDS",
    "SUMMARY_FIELDS",
    "FieldKind",
    "ObsCoreField",
    "parse_characterisation",
    "parse_timestamp",
    "validate_enumerations",
]
