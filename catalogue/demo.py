"""A demo lake: radio, optical, gamma-ray and X-ray files on five RSEs, in datasets and containers.

The lake is generated as manifest records and registered through the public
:class:`~catalogue.service.Catalogue` API, so the demo also exercises ingest. The same seed
always gives the same lake; ``scale`` shrinks or grows the number of observations.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from catalogue.authorization import EVERYTHING
from catalogue.ingest import Candidate, candidate_from_record
from catalogue.models import RSE, DIDKey, DIDType, RunSummary
from catalogue.service import Catalogue

Record = dict[str, Any]

DEMO_SCOPES = ("lofar", "rubin", "ctao", "xmm")
DEMO_RSES = (
    RSE("CERN-EOS", "root://eospublic.cern.ch:1094/eos/lake", "SAFE"),
    RSE("DESY-DCACHE", "https://dcache.desy.de:2880/lake", "SAFE"),
    RSE("PIC-TAPE", "davs://webdav.pic.es:8460/pnfs/pic.es/data/lake", "CHEAP-ARCHIVE"),
    RSE(
        "SURF-DISK", "davs://webdav.grid.surf.nl:2880/pnfs/grid.sara.nl/data/lake", "CHEAP-ANALYSIS"
    ),
    RSE("INFN-NA", "davs://storm-fe.na.infn.it:8443/lake", "FAST"),
)
_HOMES = {"lofar": "SURF-DISK", "rubin": "CERN-EOS", "ctao": "PIC-TAPE", "xmm": "DESY-DCACHE"}
_MARKER = DIDKey("ctao", "Crab-Nebula")  # attached last: it exists once a build has completed

_C = 299_792_458.0  # m/s
_HC = 1.239_841_98e-6  # eV m: a photon of E eV has wavelength _HC / E
_MJD0 = datetime(1858, 11, 17, tzinfo=UTC)
_FITS = "application/fits"  # RFC 4047

# LOFAR: collection, first sub-band, sub-band step, Nyquist-zone offset (Hz), beam radius (deg),
# resolution (arcsec). Sub-bands are 195.3125 kHz wide; HBA's lie in the 100-200 MHz zone.
_LOFAR = {
    "HBA": ("LoTSS-DR3", 104, 12, 100e6, 3.0, 6.0),
    "LBA": ("LoLSS-DR1", 154, 15, 0.0, 5.0, 15.0),
}
_LOFAR_UV = {"em_xel": 16, "pol_states": "/XX/YY/XY/YX/", "pol_xel": 4}
_LOFAR_IMAGE = {"s_xel1": 8000, "s_xel2": 8000}
_LOFAR_IMAGES = (("mfs-I-image", "/I/"), ("mfs-I-image-pb", "/I/"), ("low-IQUV-image", "/I/Q/U/V/"))
# Rubin Data Preview fields: target, ra, dec, first tract. COSMOS is the embargoed DP2 field.
_RUBIN_FIELDS = (
    ("47 Tuc", 6.02, -72.08, 453),
    ("ECDFS", 53.13, -28.10, 5063),
    ("EDFS", 59.10, -48.73, 2234),
    ("Fornax dSph", 40.08, -34.45, 4016),
    ("Seagull", 106.30, -10.51, 7610),
    ("Rubin SV 95 -25", 95.00, -25.00, 5305),
    ("Rubin SV 38 7", 37.86, 6.98, 10463),
    ("COSMOS", 150.12, 2.21, 9813),
)
_RUBIN_EDGES = (3.20e-7, 4.00e-7, 5.52e-7, 6.91e-7, 8.18e-7, 9.22e-7, 1.06e-6)  # u g r i z y, m
_RUBIN_RELEASES = {  # instrument, observing window (MJD), data rights and release date
    "DP1": ("LSSTComCam", 60623.0, 60660.0, "public", "2025-06-30T00:00:00Z"),
    "DP2": ("LSSTCam", 60800.0, 61000.0, "proprietary", "2027-06-30T00:00:00Z"),
}
_COADD = {"s_xel1": 4200, "s_xel2": 4200, "dataproduct_subtype": "deepCoadd"}
_CALEXP = {"s_xel1": 4072, "s_xel2": 4000, "dataproduct_subtype": "calexp"}
_GAMMA_TARGETS = (  # name, ra, dec (ICRS, deg), class; the Crab, the reference source, first
    ("Crab Nebula", 83.6331, 22.0145, "PWN"),
    ("Mrk 421", 166.1138, 38.2088, "BL Lac"),
    ("Mrk 501", 253.4676, 39.7602, "BL Lac"),
    ("1ES 1959+650", 299.9994, 65.1485, "BL Lac"),
    ("Cygnus X-3", 308.1074, 40.9577, "XRB"),
    ("M87", 187.7059, 12.3911, "radio galaxy"),
    ("RS Ophiuchi", 267.5550, -6.7079, "nova"),
    ("PKS 2155-304", 329.7169, -30.2256, "BL Lac"),
    ("Galactic Centre", 266.4168, -29.0078, "SMBH"),
    ("Vela Pulsar", 128.8359, -45.1764, "pulsar"),
)


class _Telescope(NamedTuple):
    facility: str
    instrument: str
    latitude: float  # of the site (deg); it observes sources within 50 deg of the zenith
    radius: float  # of the event-list region, deg
    energies: tuple[float, float]  # eV
    first_season: int


_GAMMA = (
    _Telescope("CTAO-North", "LST-1", 28.76, 2.5, (2e10, 1e14), 2020),
    _Telescope("MAGIC", "MAGIC", 28.76, 2.5, (5e10, 5e13), 2018),
    _Telescope("H.E.S.S.", "HESS", -23.27, 3.0, (1e11, 1e14), 2018),
)
_WOBBLES = ((0.0, 0.4), (0.4, 0.0), (0.0, -0.4), (-0.4, 0.0))  # east, north offsets (deg)
_XMM_EMBARGO_AFTER = 61000.0  # MJD: newer XMM data are in their 12-month proprietary period
_XMM_PRODUCTS = (  # PPS file suffix, instrument, product type, calibration level
    ("PNS003PIEVLI0000.FTZ", "EPIC-pn", "event", 2),
    ("M1S001MIEVLI0000.FTZ", "EPIC-MOS1", "event", 2),
    ("M2S002MIEVLI0000.FTZ", "EPIC-MOS2", "event", 2),
    ("PNS003IMAGE_8000.FTZ", "EPIC-pn", "image", 2),
    ("PNS003SRSPEC0001.FTZ", "EPIC-pn", "spectrum", 3),
)


@dataclass(slots=True)
class DemoLake:
    """The demo's manifest records, and its containers (``scope:name`` to children's)."""

    records: list[Record] = field(default_factory=list)
    containers: dict[str, list[str]] = field(default_factory=dict)


def _iso(mjd: float) -> str:
    return (_MJD0 + timedelta(days=mjd)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _circle(ra: float, dec: float, radius: float) -> str:
    return f"Circle ICRS {ra % 360:.5f} {dec:.5f} {radius:.6g}"


def _square(ra: float, dec: float, half: float) -> str:
    w = half / math.cos(math.radians(dec))
    xs, ys = (ra - w, ra + w, ra + w, ra - w), (dec - half, dec - half, dec + half, dec + half)
    return "Polygon ICRS " + " ".join(f"{x % 360:.5f} {y:.5f}" for x, y in zip(xs, ys, strict=True))


def _offset(ra: float, dec: float, east: float, north: float) -> tuple[float, float]:
    """A position moved by small angles (deg); good enough away from the poles."""
    return (ra + east / math.cos(math.radians(dec))) % 360, dec + north


def _jname(ra: float, dec: float) -> str:
    minutes, arcmin = int(ra / 15 * 60), int(abs(dec) * 60)
    sign = "+" if dec >= 0 else "-"
    return f"J{minutes // 60:02d}{minutes % 60:02d}{sign}{arcmin // 60:02d}{arcmin % 60:02d}"


def _who(facility: str, instrument: str, collection: str, obs_id: str, target: str) -> Record:
    return {
        "facility_name": facility,
        "instrument_name": instrument,
        "obs_collection": collection,
        "obs_id": obs_id,
        "target_name": target,
        "data_rights": "public",
    }


def _obscore(
    who: Record,
    product: str,
    level: int,
    region: str,
    times: tuple[float, float, float],
    em: tuple[float, float],
    title: str,
) -> Record:
    """ObsCore fields: whose data, what, where, when (MJD, MJD, s) and at which wavelengths (m)."""
    t_min, t_max, t_exptime = times
    return who | {
        "dataproduct_type": product,
        "calib_level": level,
        "s_region": region,
        "t_min": t_min,
        "t_max": t_max,
        "t_exptime": t_exptime,
        "em_min": em[0],
        "em_max": em[1],
        "obs_title": title,
    }


def _count(base: int, scale: float) -> int:
    return max(1, round(base * scale))


class _Generator:
    """Reproducible records, each with checksums, replicas and a publisher DID."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
        self.lake = DemoLake()
        self._taken: set[tuple[str, int]] = set()

    def unique(self, kind: str, number: int) -> int:
        """The first free number from ``number`` on (a telescope takes one run at a time)."""
        while (kind, number) in self._taken:
            number += 1
        self._taken.add((kind, number))
        return number

    def sphere(self, dec_min: float = -90.0, dec_max: float = 90.0) -> tuple[float, float]:
        """A position uniform on the sphere between two declinations."""
        low, high = math.sin(math.radians(dec_min)), math.sin(math.radians(dec_max))
        return self.rng.uniform(0, 360), math.degrees(math.asin(self.rng.uniform(low, high)))

    def add(
        self, did: str, dataset: str, size: tuple[int, int], obscore: Record, meta: Record
    ) -> None:
        """Add a file of ``size`` bytes (a range) to a dataset; both are ``scope:name``."""
        scope, name = did.split(":", 1)
        rng = self.rng
        obscore = obscore | {"obs_publisher_did": f"ivo://lake.example/lakecat?{did}"}
        obscore["access_format"] = "application/x-tar" if name.endswith(".tar") else _FITS
        meta = meta | {"processed_at": _iso(obscore["t_max"] + rng.uniform(0.5, 90))}
        meta["quality_ok"] = rng.random() > 0.07  # noqa: PLR2004 - a few files fail QA
        self.lake.records.append(
            {
                "scope": scope,
                "name": name,
                "bytes": rng.randint(*size),
                "adler32": f"{rng.getrandbits(32):08x}",
                "md5": f"{rng.getrandbits(128):032x}",
                "obscore": obscore,
                "metadata": meta,
                "replicas": self.replicas(scope, name),
                "dataset": dataset,
            }
        )

    def replicas(self, scope: str, name: str) -> list[dict[str, str]]:
        """One to three replicas at Rucio's hash path; copies may be in flight or down."""
        digest = hashlib.md5(f"{scope}:{name}".encode(), usedforsecurity=False).hexdigest()
        path = f"{scope}/{digest[:2]}/{digest[2:4]}/{name}"
        others = [r.name for r in DEMO_RSES if r.name != _HOMES[scope]]
        rses = [_HOMES[scope], *self.rng.sample(others, self.rng.choices((0, 1, 2), (5, 4, 1))[0])]
        states = ["AVAILABLE" if self.rng.random() > 0.01 else "UNAVAILABLE"]  # noqa: PLR2004
        states += self.rng.choices(
            ("AVAILABLE", "COPYING", "UNAVAILABLE"), (90, 7, 3), k=len(rses) - 1
        )
        return [{"rse": r, "path": path, "state": s} for r, s in zip(rses, states, strict=True)]

    def contain(self, parent: str, child: str) -> None:
        """Put a collection into a container."""
        children = self.lake.containers.setdefault(parent, [])
        if child not in children:
            children.append(child)


def _lofar(gen: _Generator, scale: float) -> None:
    """LoTSS and LoLSS 8-hour pointings over the northern sky, one dataset each."""
    starts = sorted(gen.rng.uniform(58000, 60950) for _ in range(_count(40, scale)))
    obs = 650_000
    for i, t_min in enumerate(starts):
        obs += gen.rng.randint(20, 2000)
        _lofar_pointing(gen, f"L{obs}", "LBA" if i % 5 == 4 else "HBA", t_min)  # noqa: PLR2004


def _lofar_pointing(gen: _Generator, obs: str, band: str, t_min: float) -> None:
    """Twenty sub-band measurement sets (calibrated visibilities) and three images."""
    collection, first, step, zone, radius, resolution = _LOFAR[band]
    ra, dec = gen.sphere(0.0, 90.0)
    target, dataset = f"P{ra:03.0f}{dec:+03.0f}", f"lofar:{obs}"
    who = _who("LOFAR", band, collection, obs, target) | {"s_resolution": resolution}
    where, times = _circle(ra, dec, radius), (t_min, t_min + 8 / 24, 8 * 3600.0)
    meta = {"obs_id": int(obs[1:]), "band": band, "tags": ["survey", collection[:5]]}
    subbands = [first + k * step for k in range(20)]

    def wavelengths(low: int, high: int) -> tuple[float, float]:
        return _C / (zone + (high + 0.5) * 195_312.5), _C / (zone + (low - 0.5) * 195_312.5)

    for sb in subbands:
        title = f"LOFAR {band} {obs} sub-band {sb} calibrated visibilities"
        obscore = _obscore(who, "visibility", 1, where, times, wavelengths(sb, sb), title)
        name, size = f"{dataset}_SAP000_SB{sb:03d}_uv.MS.tar", (1_500_000_000, 3_500_000_000)
        gen.add(name, dataset, size, obscore | _LOFAR_UV, meta | {"subband": sb})
    for kind, pol in _LOFAR_IMAGES:
        em = wavelengths(first, subbands[-1])
        obscore = _obscore(who, "image", 2, where, times, em, f"LOFAR {band} {obs} {target} {kind}")
        obscore |= {"pol_states": pol, "pol_xel": pol.count("/") - 1} | _LOFAR_IMAGE
        name, size = f"{dataset}_{target}_{kind}.fits", (250_000_000, 1_000_000_000)
        gen.add(name, dataset, size, obscore, meta)
    gen.contain(f"lofar:{collection}", dataset)


def _rubin(gen: _Generator, scale: float) -> None:
    """Tracts per field; per tract and band, a dataset of coadds and single visits."""
    for i in range(_count(24, scale)):
        target, ra, dec, first_tract = _RUBIN_FIELDS[i % len(_RUBIN_FIELDS)]
        k = i // len(_RUBIN_FIELDS)
        release, tract = "DP2" if target == "COSMOS" else "DP1", first_tract + k
        centre = _offset(ra, dec, 0.6 * (k % 3), 0.6 * (k // 3))
        instrument, _, _, rights, released = _RUBIN_RELEASES[release]
        tags = ["survey", "deep" if target in {"ECDFS", "EDFS", "COSMOS"} else "wide"]
        for band, em_min, em_max in zip("ugrizy", _RUBIN_EDGES, _RUBIN_EDGES[1:], strict=False):
            who = _who("Rubin", instrument, f"LSST-{release}", f"{tract}_{band}", target)
            who |= {"data_rights": rights, "obs_release_date": released}
            meta = {"tract": tract, "band": band, "tags": tags}
            dataset = f"rubin:{release}_tract{tract}_{band}"
            _rubin_band(gen, release, centre, dataset, who, (em_min, em_max), meta)
            gen.contain(f"rubin:{release}_tract{tract}", dataset)
        gen.contain(f"rubin:{release}", f"rubin:{release}_tract{tract}")


def _rubin_band(
    gen: _Generator,
    release: str,
    centre: tuple[float, float],
    dataset: str,
    who: Record,
    em: tuple[float, float],
    meta: Record,
) -> None:
    """Coadds of the central 3x3 of a tract's 10x10 patches (0.2 deg), and four visits."""
    _, start, end, _, _ = _RUBIN_RELEASES[release]
    tract, band = meta["tract"], meta["band"]
    for patch in (10 * row + col for row in (4, 5, 6) for col in (4, 5, 6)):
        where = _square(*_offset(*centre, 0.2 * (patch % 10 - 5), 0.2 * (patch // 10 - 5)), 0.1)
        visits, seeing = gen.rng.randint(8, 40), round(gen.rng.uniform(0.65, 0.95), 2)
        times = (start + gen.rng.uniform(0, 5), end - gen.rng.uniform(0, 5), 30.0 * visits)
        title = f"LSST {release} deep coadd, tract {tract} patch {patch}, {band} band"
        obscore = _obscore(who, "image", 3, where, times, em, title) | _COADD
        values = meta | {"patch": patch, "seeing": seeing, "n_visits": visits}
        name, size = f"rubin:deepCoadd_{tract}_{patch}_{band}.fits", (150_000_000, 260_000_000)
        gen.add(name, dataset, size, obscore | {"s_resolution": seeing}, values)
    for _ in range(4):
        t_min, seeing = gen.rng.uniform(start, end), round(gen.rng.uniform(0.6, 1.4), 2)
        night = int(f"{_MJD0 + timedelta(days=t_min - 0.5):%Y%m%d}") * 100_000
        visit = gen.unique("visit", night + gen.rng.randint(1, 2000))
        detector = f"R22_S{gen.rng.randint(0, 2)}{gen.rng.randint(0, 2)}"
        east, north = gen.rng.uniform(-0.3, 0.3), gen.rng.uniform(-0.3, 0.3)
        where = _square(*_offset(*centre, east, north), 0.11)
        title = f"LSST {release} calibrated exposure, visit {visit} {detector}, {band} band"
        obscore = _obscore(who, "image", 2, where, (t_min, t_min + 30 / 86400, 30.0), em, title)
        obscore |= _CALEXP | {"s_resolution": seeing, "obs_id": str(visit)}
        name, size = f"rubin:calexp_{visit}_{detector}_{band}.fits", (90_000_000, 140_000_000)
        gen.add(name, dataset, size, obscore, meta | {"visit": visit, "seeing": seeing})


def _gamma(gen: _Generator, scale: float) -> None:
    """Seasons of IACT runs on TeV sources; every scale has the Crab at each telescope."""
    combos = [
        (telescope, target, season)
        for season in range(2018, 2025)
        for target in _GAMMA_TARGETS
        for telescope in _GAMMA
        if season >= telescope.first_season and abs(target[2] - telescope.latitude) < 50  # noqa: PLR2004
    ]
    crab = [next(c for c in reversed(combos) if c[:2] == (t, _GAMMA_TARGETS[0])) for t in _GAMMA]
    rest = [c for c in combos if c not in crab]
    gen.rng.shuffle(rest)
    for telescope, target, season in [*crab, *rest][: max(len(crab), _count(48, scale))]:
        dataset = _gamma_season(gen, telescope, target, season)
        gen.contain(f"ctao:{telescope.instrument}-DL3", dataset)
        if target == _GAMMA_TARGETS[0]:
            gen.contain(str(_MARKER), dataset)


def _gamma_season(
    gen: _Generator, telescope: _Telescope, target: tuple[str, float, float, str], season: int
) -> str:
    """A season of 20-minute wobble runs around the night the target culminates at midnight."""
    name, ra, dec, kind = target
    dataset = f"ctao:{telescope.instrument}_{name.replace(' ', '-')}_{season}"
    # The Sun is opposite the target (RA + 180 deg) this long after the March equinox.
    midnight = 59293 + 365.25 * (season - 2021 + (ra + 180) % 360 / 360)
    facility, instrument = telescope.facility, telescope.instrument
    em = (_HC / telescope.energies[1], _HC / telescope.energies[0])
    for _ in range(gen.rng.randint(6, 20)):
        slot = int((midnight + gen.rng.uniform(-50, 50) - 58000) * 72)  # of 20 minutes
        run, wobble = gen.unique(telescope.instrument, slot), gen.rng.randrange(4)
        pointing = _offset(ra, dec, *_WOBBLES[wobble])
        t_min, elapsed = 58000 + run / 72, 1200 * gen.rng.uniform(0.85, 1.0)
        times = (t_min, t_min + elapsed / 86400, round(elapsed * gen.rng.uniform(0.88, 0.97), 1))
        who = _who(facility, instrument, f"{instrument}-DL3", str(run), name)
        who["target_class"] = kind
        where, title = _circle(*pointing, telescope.radius), f"{instrument} {name} run {run} DL3"
        obscore = _obscore(who, "event", 2, where, times, em, title) | {"o_ucd": "phot.count"}
        zenith = round(abs(dec - telescope.latitude) + gen.rng.uniform(0, 20), 1)
        meta = {"run": run, "zenith": zenith, "wobble": f"W{wobble + 1}", "season": str(season)}
        meta["tags"] = ["dl3", "wobble"]
        file_name = f"ctao:dl3_{instrument}_run{run:06d}.fits.gz"
        gen.add(file_name, dataset, (8_000_000, 80_000_000), obscore, meta)
    return dataset


def _xmm(gen: _Generator, scale: float) -> None:
    """XMM-Newton pointings all over the sky, five pipeline products each."""
    obsid = 780_000_000
    for t_min in sorted(gen.rng.uniform(58000, 61300) for _ in range(_count(60, scale))):
        obsid += gen.rng.randint(1, 400) * 100 + 1
        ra, dec = gen.sphere()
        exposure = gen.rng.uniform(10_000, 130_000)
        times = (t_min, t_min + exposure * 1.08 / 86400, round(exposure, 1))
        dataset, target = f"xmm:{obsid:010d}", _jname(ra, dec)
        meta: Record = {"revolution": int((t_min - 51544) / 1.995)}
        meta["exposure_ks"] = round(exposure / 1e3, 2)
        meta |= {"filter": gen.rng.choice(("Thin1", "Medium", "Thick")), "tags": ["pointed"]}
        for suffix, instrument, product, level in _XMM_PRODUCTS:
            who = _who("XMM-Newton", instrument, "XMM-PPS", f"{obsid:010d}", target)
            if t_min > _XMM_EMBARGO_AFTER:
                who |= {"data_rights": "proprietary", "obs_release_date": _iso(times[1] + 365)}
            spectrum = product == "spectrum"
            where = _circle(ra, dec, 30 / 3600 if spectrum else 0.25)
            title = f"XMM-Newton {obsid:010d} {instrument} {product}, {target}"
            obscore = _obscore(who, product, level, where, times, (_HC / 12_000, _HC / 200), title)
            obscore["s_resolution"] = 6.0
            size = (300_000, 3_000_000) if spectrum else (5_000_000, 400_000_000)
            gen.add(f"xmm:P{obsid:010d}{suffix}", dataset, size, obscore, meta)
        gen.contain("xmm:XMM-PPS", dataset)


def generate_demo_lake(seed: int = 2026, scale: float = 1.0) -> DemoLake:
    """The demo lake's records and containers, without touching a catalogue."""
    gen = _Generator(seed)
    for facility in (_lofar, _rubin, _xmm, _gamma):
        facility(gen, scale)
    containers = gen.lake.containers
    containers[str(_MARKER)] = containers.pop(str(_MARKER))  # the marker goes last
    return gen.lake


async def demo_lake_exists(catalogue: Catalogue) -> bool:
    """Whether a demo build has completed here (its last step, filling the marker, is done)."""
    detail = await catalogue.get_did(_MARKER, viewer=EVERYTHING)
    return detail is not None and bool(detail.did.length)


async def build_demo_lake(
    catalogue: Catalogue,
    *,
    seed: int = 2026,
    scale: float = 1.0,
    progress: Callable[[int], None] | None = None,
) -> RunSummary:
    """Register the demo lake; a build that was interrupted can simply be run again.

    Files go in as one all-or-nothing manifest run (their datasets come with them); then the
    containers are created and filled, last the marker container :func:`demo_lake_exists`
    looks for, so a half-built lake is never taken for a complete one.
    """
    lake = generate_demo_lake(seed, scale)
    known = {rse.name for rse in await catalogue.list_rses()}
    for rse in DEMO_RSES:
        if rse.name not in known:
            await catalogue.add_rse(rse)
    candidates = (
        Candidate(f"demo record {n}", *candidate_from_record(record, None))
        for n, record in enumerate(lake.records, start=1)
    )
    summary = await catalogue.register_files(candidates, all_or_nothing=True, progress=progress)
    if summary.failed:
        return summary
    for container in lake.containers:
        await catalogue.add_collection(DIDKey.parse(container), DIDType.CONTAINER)
    for container, children in lake.containers.items():
        await catalogue.attach(DIDKey.parse(container), [DIDKey.parse(c) for c in children])
    return summary
