"""Search cases that every backend must answer alike, over one small hand-made lake.

The expected answers are written by hand from the lake below, not computed by a backend.
Keys are ``scope:name``. Ordered answers are tuples; sets are answers whose order is the
backend's own (relevance) or does not matter. A backend runs a case with :func:`check_case`.

The lake (ids are given in registration order; see the test of that order):

    scope lofar (LOFAR, radio 1.5-10 m)
      eor-3c196 (dataset)   L650884_SAP000.ms  L650884_SAP001.ms  L650884_image.fits
      lotss-crab (dataset)  crab_lba.fits  crab_hba.fits
      lofar-all (container) = eor-3c196 + lotss-crab
      cosmos_hba.fits       (no dataset)
    scope hsc (HSC, optical)
      cosmos-deep (dataset) calexp-HSC-{G,R,I}-9813.fits  coadd-COSMOS-deep.fits
      crab-calexp (dataset) calexp-HSC-R-crab.fits  calexp-HSC-I-crab.fits
      readme.txt            (no dataset, no ObsCore)
    scope cta (MAGIC, CTAO; gamma rays)
      magic-crab-2020 (dataset) magic_crab_run1.fits magic_crab_run2.fits (run3: deleted)
      ctao-sim (dataset)        ctao_sim_crab.fits ctao_sim_grb.fits
      gamma (container)         = magic-crab-2020 + ctao-sim

A DID's text is its name, scope, title, target, collection, facility, instrument, obs_id,
string metadata, (for collections) its members' targets, collections, facilities and
instruments, and its ancestors' names (docs/search.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from catalogue.authorization import EVERYTHING
from catalogue.coverage import Coverage
from catalogue.filters import parse_rucio_filter
from catalogue.models import RSE, DIDKey, DIDType, Intersect
from catalogue.query import RegionFilter
from catalogue.region import Circle, Polygon
from catalogue.search import (
    MAX_SEARCH_PAGE,
    SearchBackend,
    SearchFacet,
    SearchQuery,
    SearchResult,
    SearchSort,
    TextQuery,
)
from tests.support.records import file_record, manifest

CRAB = (83.63, 22.01)
C3C196 = (123.4, 48.22)
COSMOS = (150.12, 2.21)
GRB = (288.26, 19.77)
MOC_ORDER = 10
RADIO = (1.5, 3.0)
GAMMA = (1e-17, 1e-15)


def circle(position: tuple[float, float], radius: float) -> str:
    return f"Circle ICRS {position[0]} {position[1]} {radius}"


def square(ra: float, dec: float, half: float) -> str:
    """An STC-S square centred on (ra, dec), ``half`` degrees of declination from its centre."""
    w = half / math.cos(math.radians(dec))
    return (
        f"Polygon ICRS {ra - w} {dec - half} {ra + w} {dec - half} "
        f"{ra + w} {dec + half} {ra - w} {dec + half}"
    )


def square_shape(ra: float, dec: float, half: float) -> Polygon:
    w = half / math.cos(math.radians(dec))
    return Polygon(
        ((ra - w, dec - half), (ra + w, dec - half), (ra + w, dec + half), (ra - w, dec + half))
    )


def _obscore(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _lofar(
    name: str,
    dataset: str | None,
    size: int,
    *,
    product: str,
    level: int,
    collection: str,
    instrument: str,
    target: str,
    title: str,
    obs_id: str,
    time: tuple[float, float],
    em: tuple[float, float],
    region: str,
    rses: Sequence[str],
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    record = file_record(
        name,
        scope="lofar",
        size=size,
        obscore=_obscore(
            dataproduct_type=product,
            calib_level=level,
            obs_collection=collection,
            facility_name="LOFAR",
            instrument_name=instrument,
            target_name=target,
            obs_title=title,
            obs_id=obs_id,
            t_min=time[0],
            t_max=time[1],
            em_min=em[0],
            em_max=em[1],
            s_region=region,
            data_rights="public",
        ),
        metadata=metadata or {},
        replicas=[{"rse": r} for r in rses],
    )
    if dataset:
        record["dataset"] = dataset
    return record


LOFAR_FILES = [
    _lofar(
        "L650884_SAP000.ms",
        "eor-3c196",
        5000,
        product="visibility",
        level=1,
        collection="LOFAR-EoR",
        instrument="HBA",
        target="3C196",
        title="3C196 field, sub-array pointing 0",
        obs_id="L650884",
        time=(59000.0, 59000.5),
        em=RADIO,
        region=circle(C3C196, 1.0),
        rses=["SITE-A", "SITE-B"],
        metadata={"quality": "good", "description": "Raw visibilities of the calibrator field"},
    ),
    _lofar(
        "L650884_SAP001.ms",
        "eor-3c196",
        5000,
        product="visibility",
        level=1,
        collection="LOFAR-EoR",
        instrument="HBA",
        target="3C196",
        title="3C196 field, sub-array pointing 1",
        obs_id="L650884",
        time=(59000.5, 59001.0),
        em=RADIO,
        region=circle(C3C196, 1.0),
        rses=["SITE-A"],
        metadata={"quality": "good"},
    ),
    _lofar(
        "L650884_image.fits",
        "eor-3c196",
        2000,
        product="image",
        level=3,
        collection="LOFAR-EoR",
        instrument="HBA",
        target="3C196",
        title="3C196 deep continuum image",
        obs_id="L650884",
        time=(59000.0, 59001.0),
        em=RADIO,
        region=circle(C3C196, 2.0),
        rses=["SITE-A"],
        metadata={
            "description": "Deep image of the calibrator field around 3C196",
            "quality": "best",
        },
    ),
    _lofar(
        "crab_lba.fits",
        "lotss-crab",
        3000,
        product="image",
        level=2,
        collection="LoTSS",
        instrument="LBA",
        target="Crab Nebula",
        title="Crab Nebula at low band",
        obs_id="L700001",
        time=(59100.0, 59100.2),
        em=(3.0, 10.0),
        region=circle(CRAB, 0.5),
        rses=["SITE-C"],
    ),
    _lofar(
        "crab_hba.fits",
        "lotss-crab",
        3500,
        product="image",
        level=2,
        collection="LoTSS",
        instrument="HBA",
        target="Crab Nebula",
        title="Crab Nebula at high band",
        obs_id="L700002",
        time=(59101.0, 59101.2),
        em=RADIO,
        region=circle(CRAB, 0.3),
        rses=["SITE-A", "SITE-C"],
    ),
    _lofar(
        "cosmos_hba.fits",
        None,
        4000,
        product="image",
        level=2,
        collection="LoTSS",
        instrument="HBA",
        target="COSMOS",
        title="COSMOS field at 150 MHz",
        obs_id="L800001",
        time=(59200.0, 59200.3),
        em=RADIO,
        region=circle(COSMOS, 1.0),
        rses=["SITE-B"],
        metadata={"observer": "van Haarlem"},
    ),
]


def _hsc(
    name: str,
    dataset: str,
    size: int,
    *,
    level: int,
    target: str,
    title: str,
    obs_id: str,
    time: tuple[float, float],
    em: tuple[float, float],
    region: str,
    rights: str,
    rses: Sequence[str],
    metadata: dict[str, Any],
) -> dict[str, Any]:
    return file_record(
        name,
        scope="hsc",
        size=size,
        dataset=dataset,
        obscore=_obscore(
            dataproduct_type="image",
            calib_level=level,
            obs_collection="HSC-SSP",
            facility_name="HSC",
            instrument_name="Hyper Suprime-Cam",
            target_name=target,
            obs_title=title,
            obs_id=obs_id,
            t_min=time[0],
            t_max=time[1],
            em_min=em[0],
            em_max=em[1],
            s_region=region,
            data_rights=rights,
        ),
        metadata=metadata,
        replicas=[{"rse": r} for r in rses],
    )


HSC_FILES = [
    _hsc(
        "calexp-HSC-G-9813.fits",
        "cosmos-deep",
        1000,
        level=2,
        target="COSMOS",
        title="Calibrated exposure, g band",
        obs_id="9813-G",
        time=(58500.10, 58500.15),
        em=(4.0e-7, 5.5e-7),
        region=square(*COSMOS, 0.1),
        rights="public",
        rses=["SITE-A"],
        metadata={"filter": "HSC-G"},
    ),
    _hsc(
        "calexp-HSC-R-9813.fits",
        "cosmos-deep",
        1000,
        level=2,
        target="COSMOS",
        title="Calibrated exposure, r band",
        obs_id="9813-R",
        time=(58500.20, 58500.25),
        em=(5.5e-7, 7.0e-7),
        region=square(150.30, 2.21, 0.1),
        rights="public",
        rses=["SITE-A"],
        metadata={"filter": "HSC-R"},
    ),
    _hsc(
        "calexp-HSC-I-9813.fits",
        "cosmos-deep",
        1200,
        level=2,
        target="COSMOS",
        title="Calibrated exposure, i band",
        obs_id="9813-I",
        time=(58500.30, 58500.35),
        em=(7.0e-7, 8.5e-7),
        region=square(150.12, 2.40, 0.1),
        rights="public",
        rses=["SITE-B"],
        metadata={"filter": "HSC-I"},
    ),
    _hsc(
        "coadd-COSMOS-deep.fits",
        "cosmos-deep",
        8000,
        level=3,
        target="COSMOS",
        title="COSMOS deep coadd",
        obs_id="coadd-cosmos",
        time=(58500.10, 58500.35),
        em=(4.0e-7, 1.0e-6),  # ends where the infrared starts: both bands, bounds included
        region=square(*COSMOS, 0.5),
        rights="public",
        rses=["SITE-B", "SITE-C"],
        metadata={"description": "Deep coadd of the COSMOS field in g, r and i"},
    ),
    _hsc(
        "calexp-HSC-R-crab.fits",
        "crab-calexp",
        1100,
        level=2,
        target="Crab Nebula",
        title="Calibrated exposure, r band",
        obs_id="crab-R",
        time=(58700.00, 58700.05),
        em=(5.5e-7, 7.0e-7),
        region=square(*CRAB, 0.1),
        rights="proprietary",
        rses=["SITE-A"],
        metadata={"filter": "HSC-R"},
    ),
    _hsc(
        "calexp-HSC-I-crab.fits",
        "crab-calexp",
        1100,
        level=2,
        target="Crab Nebula",
        title="Calibrated exposure, i band",
        obs_id="crab-I",
        time=(58700.10, 58700.15),
        em=(7.0e-7, 8.5e-7),
        region=square(84.30, 22.01, 0.1),
        rights="proprietary",
        rses=["SITE-A"],
        metadata={"filter": "HSC-I"},
    ),
    file_record(
        "readme.txt",
        scope="hsc",
        size=10,
        metadata={"description": "Notes on the Hyper Suprime-Cam reduction"},
        replicas=[{"rse": "SITE-B"}],
    ),
]


def _cta(
    name: str,
    dataset: str,
    size: int,
    *,
    facility: str,
    instrument: str,
    collection: str,
    level: int,
    target: str,
    position: tuple[float, float],
    radius: float,
    title: str,
    obs_id: str,
    time: tuple[float, float],
    rses: Sequence[str],
    metadata: dict[str, Any],
) -> dict[str, Any]:
    return file_record(
        name,
        scope="cta",
        size=size,
        dataset=dataset,
        obscore=_obscore(
            dataproduct_type="event",
            calib_level=level,
            obs_collection=collection,
            facility_name=facility,
            instrument_name=instrument,
            target_name=target,
            obs_title=title,
            obs_id=obs_id,
            t_min=time[0],
            t_max=time[1],
            em_min=GAMMA[0],
            em_max=GAMMA[1],
            s_region=circle(position, radius),
            data_rights="public",
        ),
        metadata=metadata,
        replicas=[{"rse": r} for r in rses],
    )


def _magic(run: int, time: float) -> dict[str, Any]:
    name = f"magic_crab_run{run}.fits" if run < 3 else "magic_crab_bad.fits"
    return _cta(
        name,
        "magic-crab-2020",
        6000,
        facility="MAGIC",
        instrument="MAGIC",
        collection="MAGIC-DL3",
        level=2,
        target="Crab Nebula",
        position=CRAB,
        radius=1.0,
        title=f"MAGIC Crab Nebula run {run}",
        obs_id=str(5093173 + run),
        time=(time, time + 0.1),
        rses=["SITE-B"],
        metadata={"run": run, "zenith": 15.0 + 10 * run},
    )


CTA_FILES = [
    _magic(1, 58800.0),
    _magic(2, 58801.0),
    _magic(3, 58802.0),  # deleted once the lake is built
    _cta(
        "ctao_sim_crab.fits",
        "ctao-sim",
        9000,
        facility="CTAO",
        instrument="LST",
        collection="CTAO-DC",
        level=1,
        target="Crab Nebula",
        position=CRAB,
        radius=2.5,
        title="Simulated Crab Nebula events",
        obs_id="sim-001",
        time=(60000.0, 60000.1),
        rses=["SITE-C"],
        metadata={
            "description": "Simulated gamma-ray events for the data challenge",
            "tags": ["simulation", "dc1"],
        },
    ),
    _cta(
        "ctao_sim_grb.fits",
        "ctao-sim",
        7000,
        facility="CTAO",
        instrument="LST",
        collection="CTAO-DC",
        level=1,
        target="GRB 221009A",
        position=GRB,
        radius=1.0,
        title="Simulated GRB events",
        obs_id="sim-002",
        time=(60010.0, 60010.1),
        rses=["SITE-C"],
        metadata={"tags": ["simulation"]},
    ),
]


async def _register(catalogue: Any, records: list[dict[str, Any]]) -> None:
    summary = await catalogue.register_files(manifest(records), all_or_nothing=True)
    assert summary.problems == [], summary.problems


async def build_search_lake(catalogue: Any) -> None:
    """Write the lake through the catalogue's own write paths (so the outbox sees it all)."""
    for name, url in (
        ("SITE-A", "root://a.example.org:1094/lake"),
        ("SITE-B", "https://b.example.org/lake"),
        ("SITE-C", "s3://c.example.org/lake"),
    ):
        await catalogue.add_rse(RSE(name, url))
    await _register(catalogue, LOFAR_FILES)
    lofar_all = DIDKey("lofar", "lofar-all")
    await catalogue.add_collection(
        lofar_all, DIDType.CONTAINER, {"description": "Everything LOFAR observed for the lake"}
    )
    await catalogue.attach(lofar_all, [DIDKey("lofar", "eor-3c196"), DIDKey("lofar", "lotss-crab")])
    await catalogue.set_metadata(
        DIDKey("lofar", "lotss-crab"), {"description": "LoTSS observations of the Crab"}
    )
    await _register(catalogue, HSC_FILES)
    await _register(catalogue, CTA_FILES)
    gamma = DIDKey("cta", "gamma")
    await catalogue.add_collection(gamma, DIDType.CONTAINER)
    await catalogue.attach(gamma, [DIDKey("cta", "magic-crab-2020"), DIDKey("cta", "ctao-sim")])
    await catalogue.delete(DIDKey("cta", "magic_crab_bad.fits"))


# Every live DID, in registration (id) order.
F1, F2, F3 = "lofar:L650884_SAP000.ms", "lofar:L650884_SAP001.ms", "lofar:L650884_image.fits"
F4, F5, F6 = "lofar:crab_lba.fits", "lofar:crab_hba.fits", "lofar:cosmos_hba.fits"
EOR, LOTSS, LOFAR_ALL = "lofar:eor-3c196", "lofar:lotss-crab", "lofar:lofar-all"
H1, H2, H3 = (
    "hsc:calexp-HSC-G-9813.fits",
    "hsc:calexp-HSC-R-9813.fits",
    "hsc:calexp-HSC-I-9813.fits",
)
H4, H5, H6 = (
    "hsc:coadd-COSMOS-deep.fits",
    "hsc:calexp-HSC-R-crab.fits",
    "hsc:calexp-HSC-I-crab.fits",
)
H7 = "hsc:readme.txt"
COSMOS_DEEP, CRAB_CALEXP = "hsc:cosmos-deep", "hsc:crab-calexp"
M1, M2 = "cta:magic_crab_run1.fits", "cta:magic_crab_run2.fits"
T1, T2 = "cta:ctao_sim_crab.fits", "cta:ctao_sim_grb.fits"
MAGIC, CTAO_SIM, GAMMA_ALL = "cta:magic-crab-2020", "cta:ctao-sim", "cta:gamma"
DELETED = "cta:magic_crab_bad.fits"

LIVE = (
    *(F1, F2, F3, F4, F5, F6, EOR, LOTSS, LOFAR_ALL),
    *(H1, H2, H3, H4, H5, H6, H7, COSMOS_DEEP, CRAB_CALEXP),
    *(M1, M2, T1, T2, MAGIC, CTAO_SIM, GAMMA_ALL),
)

CRAB_NEBULA = frozenset(
    {F4, F5, LOTSS, LOFAR_ALL, H5, H6, CRAB_CALEXP, M1, M2, T1, MAGIC, CTAO_SIM, GAMMA_ALL}
)
CRAB_CONE = frozenset(
    {F4, F5, H5, M1, M2, T1, LOTSS, CRAB_CALEXP, MAGIC, CTAO_SIM, LOFAR_ALL, GAMMA_ALL}
)


@dataclass(frozen=True)
class SearchCase:
    """One search and its expected answer.

    ``keys``: a tuple when the order is part of the answer, a frozenset when it is not.
    ``page_size``: also page through with ``search_after`` in pages of this size and expect
    the same hits as one big page. ``id_order``: hits must come in DID id order (relevance
    without text).
    """

    name: str
    query: SearchQuery
    keys: tuple[str, ...] | frozenset[str] | None  # None: only the total is checked
    facets: dict[SearchFacet, list[tuple[str, int]]] = field(default_factory=dict)
    total: int | None = None  # defaults to len(keys)
    page_size: int | None = None
    id_order: bool = False


def text(value: str) -> TextQuery:
    return TextQuery.parse(value)


def cone(position: tuple[float, float], radius: float, how: Intersect) -> RegionFilter:
    return RegionFilter.from_shape(Circle(*position, radius), MOC_ORDER, how)


HSC_ALL = (H1, H2, H3, H4, H5, H6, H7, COSMOS_DEEP, CRAB_CALEXP)
CASES: list[SearchCase] = [
    # -- text -------------------------------------------------------------------------------
    SearchCase("two_words_match_all_of_them", SearchQuery(text=text("crab nebula")), CRAB_NEBULA),
    SearchCase("words_match_in_any_order", SearchQuery(text=text("nebula crab")), CRAB_NEBULA),
    SearchCase(
        "a_phrase_matches_in_order", SearchQuery(text=text('"3C196 field"')), frozenset({F1, F2})
    ),
    SearchCase(
        "the_same_words_unquoted_match_anywhere",
        SearchQuery(text=text("3C196 field")),
        frozenset({F1, F2, F3}),
    ),
    SearchCase(
        "a_phrase_in_the_wrong_order_matches_nothing",
        SearchQuery(text=text('"nebula crab"')),
        frozenset(),
    ),
    SearchCase(
        "a_prefix_matches_words_starting_with_it",
        SearchQuery(text=text("calex*")),
        frozenset({H1, H2, H3, H5, H6, CRAB_CALEXP}),
    ),
    SearchCase(
        "a_prefix_matches_inside_names_split_at_underscores",
        SearchQuery(text=text("sap00*")),
        frozenset({F1, F2}),
    ),
    SearchCase(
        "text_is_case_insensitive_and_splits_names",
        SearchQuery(text=text("l650884_IMAGE")),
        frozenset({F3}),
    ),
    SearchCase(
        "a_file_is_found_by_its_dataset_name",
        SearchQuery(text=text("2020")),
        frozenset({M1, M2, MAGIC}),
    ),
    SearchCase(
        "files_are_found_by_their_containers_name",
        SearchQuery(text=text("gamma")),
        frozenset({GAMMA_ALL, MAGIC, CTAO_SIM, M1, M2, T1, T2}),
    ),
    SearchCase(
        "a_description_is_searched",
        SearchQuery(text=text("calibrator")),
        frozenset({F1, F3}),
    ),
    SearchCase(
        "string_metadata_values_are_searched",
        SearchQuery(text=text("haarlem")),
        frozenset({F6}),
    ),
    SearchCase("list_metadata_values_are_searched", SearchQuery(text=text("dc1")), frozenset({T1})),
    SearchCase("a_deleted_did_is_not_found", SearchQuery(text=text("bad")), frozenset()),
    SearchCase(
        "a_deleted_did_is_not_found_by_its_scope_either",
        SearchQuery(text=text("magic"), scopes=("cta",), types=(DIDType.FILE,)),
        frozenset({M1, M2}),
    ),
    SearchCase(
        "a_word_no_did_has_matches_nothing", SearchQuery(text=text("crab andromeda")), frozenset()
    ),
    # -- text, facets and filters -----------------------------------------------------------
    SearchCase(
        "text_with_facets_counts_every_hit",
        SearchQuery(
            text=text("crab nebula"),
            facets=(SearchFacet.SCOPE, SearchFacet.TYPE, SearchFacet.FACILITY, SearchFacet.BAND),
            limit=3,
        ),
        CRAB_NEBULA,
        facets={
            SearchFacet.SCOPE: [("cta", 6), ("lofar", 4), ("hsc", 3)],
            SearchFacet.TYPE: [("FILE", 7), ("DATASET", 4), ("CONTAINER", 2)],
            SearchFacet.FACILITY: [("LOFAR", 4), ("MAGIC", 4), ("CTAO", 3), ("HSC", 3)],
            SearchFacet.BAND: [("gamma-ray", 6), ("radio", 4), ("optical", 3)],
        },
    ),
    SearchCase(
        "every_facet_of_one_scope",
        SearchQuery(scopes=("hsc",), facets=tuple(SearchFacet), limit=MAX_SEARCH_PAGE),
        frozenset(HSC_ALL),
        facets={
            SearchFacet.COLLECTION: [("HSC-SSP", 8)],
            SearchFacet.FACILITY: [("HSC", 8)],
            SearchFacet.INSTRUMENT: [("Hyper Suprime-Cam", 8)],
            SearchFacet.DATAPRODUCT_TYPE: [("image", 8)],
            SearchFacet.CALIB_LEVEL: [("2", 7), ("3", 2)],
            SearchFacet.BAND: [("optical", 8), ("infrared", 2)],
            SearchFacet.RSE: [("SITE-A", 4), ("SITE-B", 3), ("SITE-C", 1)],
            SearchFacet.SCOPE: [("hsc", 9)],
            SearchFacet.SOURCE: [("lake", 9)],
            SearchFacet.DATA_RIGHTS: [("public", 5), ("proprietary", 3)],
            SearchFacet.TYPE: [("FILE", 7), ("DATASET", 2)],
        },
    ),
    SearchCase(
        "facet_limit_keeps_the_most_frequent",
        SearchQuery(scopes=("hsc",), facets=(SearchFacet.RSE,), facet_limit=2, limit=0),
        None,
        facets={SearchFacet.RSE: [("SITE-A", 4), ("SITE-B", 3)]},
        total=9,
    ),
    SearchCase(
        "the_filter_language_applies_with_collections_matching_by_members",
        SearchQuery(
            filter=parse_rucio_filter("calib_level>=2,facility_name=LOFAR"),
            sort=SearchSort.NAME,
        ),
        # Code point order: upper case before lower case.
        (F3, F6, F5, F4, EOR, LOFAR_ALL, LOTSS),
    ),
    SearchCase(
        "a_metadata_filter_with_text",
        SearchQuery(text=text("magic"), filter=parse_rucio_filter("run>1")),
        frozenset({M2}),
    ),
    SearchCase(
        "a_metadata_value_filter",
        SearchQuery(filter=parse_rucio_filter("quality=good")),
        frozenset({F1, F2}),
    ),
    # -- region -----------------------------------------------------------------------------
    SearchCase(
        "a_cone_selects_what_overlaps_it",
        SearchQuery(region=cone(CRAB, 0.2, Intersect.OVERLAPS), limit=MAX_SEARCH_PAGE),
        CRAB_CONE,
    ),
    SearchCase(
        "a_cone_selects_what_it_encloses",
        SearchQuery(region=cone(CRAB, 1.5, Intersect.ENCLOSED), limit=MAX_SEARCH_PAGE),
        frozenset({F4, F5, H5, H6, M1, M2, LOTSS, CRAB_CALEXP, MAGIC}),
    ),
    SearchCase(
        "a_polygon_selects_what_covers_it",
        SearchQuery(
            region=RegionFilter.from_shape(square_shape(*CRAB, 0.05), MOC_ORDER, Intersect.COVERS),
            limit=MAX_SEARCH_PAGE,
        ),
        frozenset(
            {F4, F5, H5, M1, M2, T1, LOTSS, CRAB_CALEXP, MAGIC, CTAO_SIM, LOFAR_ALL, GAMMA_ALL}
        ),
    ),
    SearchCase(
        "a_polygon_selects_what_overlaps_it",
        SearchQuery(
            region=RegionFilter.from_shape(square_shape(*C3C196, 0.2), MOC_ORDER),
            limit=MAX_SEARCH_PAGE,
        ),
        frozenset({F1, F2, F3, EOR, LOFAR_ALL}),
    ),
    SearchCase(
        "a_moc_selects_what_overlaps_it",
        SearchQuery(
            region=RegionFilter(Coverage.from_region(Circle(*COSMOS, 0.3), 9)),
            limit=MAX_SEARCH_PAGE,
        ),
        frozenset({H1, H2, H3, H4, F6, COSMOS_DEEP}),
    ),
    SearchCase(
        "region_text_and_size_order_together",
        SearchQuery(
            text=text("crab"),
            region=cone(CRAB, 0.2, Intersect.OVERLAPS),
            sort=SearchSort.SIZE,
            facets=(SearchFacet.RSE,),
        ),
        (H5, F4, F5, M1, M2, T1, LOTSS, LOFAR_ALL, CRAB_CALEXP, MAGIC, CTAO_SIM, GAMMA_ALL),
        facets={SearchFacet.RSE: [("SITE-C", 3), ("SITE-A", 2), ("SITE-B", 2)]},
        page_size=5,
    ),
    # -- time and wavelength ----------------------------------------------------------------
    SearchCase(
        "a_time_range_includes_its_bounds",
        SearchQuery(time=(58500.0, 58500.2)),
        frozenset({H1, H2, H4, COSMOS_DEEP}),
    ),
    SearchCase(
        "an_open_time_range",
        SearchQuery(time=(60000.0, None)),
        frozenset({T1, T2, CTAO_SIM, GAMMA_ALL}),
    ),
    SearchCase(
        "a_spectral_range",
        SearchQuery(spectral=(1e-16, 1e-15)),
        frozenset({M1, M2, T1, T2, MAGIC, CTAO_SIM, GAMMA_ALL}),
    ),
    SearchCase(
        "a_spectral_range_includes_its_bounds",
        SearchQuery(spectral=(1e-6, 1e-4)),
        frozenset({H4, COSMOS_DEEP}),
    ),
    # -- sorting ----------------------------------------------------------------------------
    SearchCase(
        "size_ascending_puts_collections_last",
        SearchQuery(scopes=("lofar",), sort=SearchSort.SIZE),
        (F3, F4, F5, F6, F1, F2, EOR, LOTSS, LOFAR_ALL),
        page_size=2,
    ),
    SearchCase(
        "size_descending_puts_collections_last_and_ties_by_id_descending",
        SearchQuery(scopes=("lofar",), sort=SearchSort.SIZE, descending=True),
        (F2, F1, F6, F5, F4, F3, LOFAR_ALL, LOTSS, EOR),
        page_size=2,
    ),
    SearchCase(
        "time_ascending_ties_by_id",
        SearchQuery(scopes=("cta",), sort=SearchSort.TIME),
        (M1, MAGIC, GAMMA_ALL, M2, T1, CTAO_SIM, T2),
        page_size=3,
    ),
    SearchCase(
        "time_descending_ties_by_id_descending",
        SearchQuery(scopes=("cta",), sort=SearchSort.TIME, descending=True),
        (T2, CTAO_SIM, T1, M2, GAMMA_ALL, MAGIC, M1),
        page_size=3,
    ),
    SearchCase(
        "time_ascending_puts_dids_without_time_last",
        SearchQuery(scopes=("hsc",), sort=SearchSort.TIME),
        (H1, H4, COSMOS_DEEP, H2, H3, H5, CRAB_CALEXP, H6, H7),
        page_size=4,
    ),
    SearchCase(
        "time_descending_puts_dids_without_time_last",
        SearchQuery(scopes=("hsc",), sort=SearchSort.TIME, descending=True),
        (H6, CRAB_CALEXP, H5, H3, H2, COSMOS_DEEP, H4, H1, H7),
        page_size=4,
    ),
    SearchCase(
        "name_ascending",
        SearchQuery(scopes=("hsc",), sort=SearchSort.NAME),
        (H1, H3, H6, H2, H5, H4, COSMOS_DEEP, CRAB_CALEXP, H7),
        page_size=4,
    ),
    SearchCase(
        "name_descending",
        SearchQuery(scopes=("hsc",), sort=SearchSort.NAME, descending=True),
        (H7, CRAB_CALEXP, COSMOS_DEEP, H4, H5, H2, H6, H3, H1),
        page_size=4,
    ),
    SearchCase(
        "relevance_without_text_is_id_order",
        SearchQuery(limit=MAX_SEARCH_PAGE),
        frozenset(LIVE),
        id_order=True,
    ),
    # -- paging and totals ------------------------------------------------------------------
    SearchCase(
        "paging_through_everything_by_id",
        SearchQuery(types=(DIDType.FILE, DIDType.DATASET, DIDType.CONTAINER)),
        frozenset(LIVE),
        page_size=4,
        id_order=True,
    ),
    SearchCase(
        "paging_through_text_hits_by_relevance",
        SearchQuery(text=text("crab nebula")),
        CRAB_NEBULA,
        page_size=4,
    ),
    SearchCase(
        "paging_through_a_region_by_relevance",
        SearchQuery(text=text("crab"), region=cone(CRAB, 0.2, Intersect.OVERLAPS)),
        CRAB_CONE,
        page_size=5,
    ),
    SearchCase(
        "the_total_counts_beyond_the_page",
        SearchQuery(scopes=("lofar", "cta"), limit=2),
        None,
        total=16,
    ),
]


def _keys(result: SearchResult) -> list[str]:
    return [str(hit.key) for hit in result.hits]


async def all_pages(backend: SearchBackend, query: SearchQuery, size: int) -> list[SearchResult]:
    """Every page of a search, following ``next_cursor`` until there is none."""
    pages = [await backend.search(replace(query, limit=size, after=None))]
    while pages[-1].next_cursor is not None:
        assert len(pages) <= len(LIVE), "paging does not end"
        pages.append(await backend.search(replace(query, limit=size, after=pages[-1].next_cursor)))
    return pages


def _check_answer(case: SearchCase, result: SearchResult) -> None:
    keys = _keys(result)
    assert len(keys) == len(set(keys)), f"{case.name}: a hit came twice: {keys}"
    if isinstance(case.keys, tuple):
        assert tuple(keys) == case.keys, case.name
    else:
        assert set(keys) == case.keys, case.name
    if case.id_order:
        ids = [hit.did_id for hit in result.hits]
        assert ids == sorted(ids), f"{case.name}: not in id order"
    scores = [hit.score for hit in result.hits]
    if case.query.text.is_empty:
        assert len(set(scores)) <= 1, f"{case.name}: unranked hits have unequal scores"
    elif case.query.sort is SearchSort.RELEVANCE:
        ranked = [s for s in scores if s is not None]
        assert len(ranked) == len(scores), f"{case.name}: a text hit has no score"
        assert ranked == sorted(ranked, reverse=True), f"{case.name}: not best first"


async def check_case(backend: SearchBackend, case: SearchCase) -> None:
    """Run one case on a backend and compare with the expected answer.

    The cases are about search, not embargoes (tests/security/): they ask as the operator,
    who sees the lake's proprietary files.
    """
    query = replace(case.query, viewer=EVERYTHING)
    expected_total = case.total if case.total is not None else len(case.keys or ())
    result = await backend.search(query)
    assert (result.total, result.total_exact) == (expected_total, True), case.name
    assert len(result.hits) == min(query.limit, expected_total), case.name
    assert set(result.facets) == set(query.facets), f"{case.name}: facets asked for"
    for facet, counts in case.facets.items():
        assert result.facets[facet] == counts, f"{case.name}: facet {facet}"
    if case.keys is None:
        return
    whole = await backend.search(replace(query, limit=MAX_SEARCH_PAGE))
    _check_answer(case, whole)
    assert whole.next_cursor is None, case.name
    assert _keys(result) == _keys(whole)[: query.limit], f"{case.name}: first page"
    if case.page_size is None:
        return
    pages = await all_pages(backend, query, case.page_size)
    paged = [key for page in pages for key in _keys(page)]
    assert paged == _keys(whole), f"{case.name}: pages differ from one big page"
    assert all(len(page.hits) == case.page_size for page in pages[:-1]), case.name
    assert all(page.total == expected_total for page in pages), case.name
