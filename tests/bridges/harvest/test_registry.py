"""Harvesting a RegTAP registry served over real HTTP from GAVO's recorded answer.

The registry (registry_support.py) is a real HTTP server on 127.0.0.1 speaking TAP to pyvo;
the expectations are read independently from the recorded VOTable with astropy.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from astropy.io.votable import parse_single_table
from mocpy import MOC

from bridges.harvest.registry import RegistryReader
from bridges.harvest.run import run_harvest
from catalogue.errors import InvalidInputError
from catalogue.filters import parse_rucio_filter
from catalogue.harvest import RunStatus, SourceKind, record_name
from catalogue.models import DIDKey, DIDType
from catalogue.query import DIDQuery, RegionFilter
from catalogue.region import Circle, Polygon
from catalogue.search import SearchQuery, TextQuery
from catalogue.store.engine import create_sessions
from catalogue.store.search_sql import RelationalSearch
from tests.bridges.harvest.registry_support import (
    I125A_MOC,
    REGTAP,
    SDSS_MOC,
    Registry,
    edited,
    ivoids_in,
    serve,
)

SOURCE = "gavo-pulsars"
SEP = ":::py VO sep:::"  # how pyvo's query aggregates per-interface values
INTERFACES = ("access_urls", "standard_ids", "intf_types", "intf_roles", "cap_descriptions")
SDSS_IVOID = "ivo://cds.vizier/j/a+a/492/923"  # given SDSS DR12's MOC
I125A_IVOID = "ivo://nasa.heasarc/atnfpulsar"  # given VizieR I/125A's MOC


# -- what the recorded answer says, read with astropy alone -----------------------------------


def _cell(value: Any) -> Any:
    if value is np.ma.masked:
        return None
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    text = str(value)
    return text if text.strip() else None


def recorded() -> dict[str, dict[str, Any]]:
    """The recorded rr.resource rows by ivoid, nulls as None."""
    table = parse_single_table(str(REGTAP)).to_table()
    rows = [{name: _cell(row[name]) for name in table.colnames} for row in table]
    return {row["ivoid"]: row for row in rows}


def _split(text: str | None, sep: str) -> list[str]:
    return [] if text is None else text.split(sep)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def expected_metadata(row: dict[str, Any]) -> dict[str, Any]:
    """The metadata docs/harvest-registry.md's mapping table promises for a row."""
    interfaces = list(dict.fromkeys(zip(*(_split(row[c], SEP) for c in INTERFACES), strict=True)))
    modes = {
        std.removeprefix("ivo://ivoa.net/std/") if std else "web"
        for _, std, kind, _, _ in interfaces
        if (std or kind == "vr:webbrowser") and not std.startswith("ivo://ivoa.net/std/vosi")
    }
    found = {
        "ivoid": row["ivoid"],
        "res_type": row["res_type"],
        "short_name": row["short_name"],
        "description": row["res_description"],
        "reference_url": row["reference_url"],
        "rights": row["rights"],
        "source_format": row["source_format"],
        "source_value": row["source_value"],
        "alt_identifier": row["alt_identifier"],
        "content_level": _split(row["content_level"], "#"),
        "content_type": _split(row["content_type"], "#"),
        "waveband": _split(row["waveband"], "#"),
        "created": _utc(row["created"]),
        "updated": _utc(row["updated"]),
        "creators": [c.strip() for c in _split(row["creator_seq"], ";")],
        "region_of_regard": row["region_of_regard"],
        **{name: [i[n] for i in interfaces] for n, name in enumerate(INTERFACES)},
        "capabilities": sorted(modes),
    }
    return {k: v for k, v in found.items() if v not in (None, [])}


def _plain(value: Any) -> Any:
    """A stored value as compared: times in UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return value


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def registry() -> Iterator[Registry]:
    coverages = {SDSS_IVOID: SDSS_MOC.read_text(), I125A_IVOID: I125A_MOC.read_text()}
    with serve(Registry(coverages=coverages)) as served:
        yield served


def reader(registry: Registry, **options: Any) -> RegistryReader:
    options.setdefault("keywords", ("pulsar",))
    return RegistryReader(registry.url, source=SOURCE, chunk_size=10, **options)


async def live_names(catalogue) -> set[str]:
    page = await catalogue.search(DIDQuery(scopes=(SOURCE,), limit=1000))
    return {did.key.name for did in page.items}


def key(ivoid: str) -> DIDKey:
    return DIDKey(SOURCE, record_name(ivoid))


# -- the mapping -------------------------------------------------------------------------------


async def test_every_resource_becomes_a_dataset_with_the_registry_fields(catalogue, registry):
    run = await run_harvest(catalogue, reader(registry))
    rows = recorded()
    assert run.status is RunStatus.SUCCEEDED
    assert (run.counts.added, run.counts.failed, run.problems) == (30, 0, [])
    assert await live_names(catalogue) == {record_name(i) for i in rows}
    for ivoid, row in rows.items():
        detail = await catalogue.get_did(key(ivoid))
        assert detail is not None, ivoid
        assert detail.did.type is DIDType.DATASET
        assert dict(detail.characterisation) == {"obs_title": row["res_title"]}
        stored = {k: _plain(v) for k, v in detail.metadata.items()}
        assert stored == expected_metadata(row), ivoid


async def test_resources_keep_the_mocs_the_registry_publishes(catalogue, registry):
    await run_harvest(catalogue, reader(registry))
    for ivoid, path in ((SDSS_IVOID, SDSS_MOC), (I125A_IVOID, I125A_MOC)):
        coverage = await catalogue.get_coverage(key(ivoid))
        assert coverage is not None
        assert coverage.to_moc() == MOC.from_string(path.read_text(), format="ascii")
    assert await catalogue.get_coverage(key("ivo://cds.vizier/vii/156")) is None


async def test_each_did_says_which_registry_resource_it_is(catalogue, registry):
    await run_harvest(catalogue, reader(registry))
    detail = await catalogue.get_did(key(SDSS_IVOID))
    info = (await catalogue.harvest_info([detail.did.id]))[detail.did.id]
    assert (info.source, info.kind, info.url, info.remote_id) == (
        SOURCE,
        SourceKind.REGISTRY,
        registry.url,
        SDSS_IVOID,
    )
    assert info.withdrawn_at is None


# -- the questions asked -----------------------------------------------------------------------


async def test_one_resource_query_and_one_coverage_query_per_chunk(catalogue, registry):
    await run_harvest(catalogue, reader(registry))
    assert len(registry.of_kind("resources")) == 1
    assert "ivo_hasword(res_description, 'pulsar')" in registry.of_kind("resources")[0]
    asked = [ivoids_in(q) for q in registry.of_kind("coverage")]
    assert asked == [sorted(recorded())[i : i + 10] for i in (0, 10, 20)]


def test_the_operators_constraints_reach_the_registry_as_escaped_literals(registry):
    region = Circle(185.0, 15.0, 2.0)
    options = {"servicetype": "tap", "datamodel": "obscore", "keywords": ("o'brien",)}
    chunks = list(reader(registry, region=region, **options).chunks(None))
    assert sum(len(c.records) for c in chunks) == 30  # the recorded answer, whatever was asked
    query = registry.of_kind("resources")[0]
    assert "standard_id IN ('ivo://ivoa.net/std/tap')" in query
    assert "ivo://ivoa.net/std/obscore%" in query
    assert "ivo_hasword(res_title, 'o''brien')" in query
    assert "1 = INTERSECTS(coverage, MOC(6, CIRCLE(185.0, 15.0, 2.0)))" in query


def test_a_polygon_region_is_asked_as_a_polygon_moc(registry):
    triangle = Polygon(((23.0, -40.0), (26.0, -39.0), (25.0, -43.0)))
    list(reader(registry, keywords=(), region=triangle).chunks(None))
    assert (
        "MOC(6, POLYGON(23.0, -40.0, 26.0, -39.0, 25.0, -43.0))" in registry.of_kind("resources")[0]
    )


async def test_ivoids_with_quotes_are_escaped_in_the_coverage_query(catalogue, registry):
    odd = "ivo://example.org/o'brien') or 1=1 --"
    registry.resources = edited(REGTAP.read_bytes(), rename={"ivo://nasa.heasarc/pulsar": odd})
    registry.coverages[odd] = I125A_MOC.read_text()
    run = await run_harvest(catalogue, reader(registry))
    assert run.status is RunStatus.SUCCEEDED
    last = registry.of_kind("coverage")[-1]
    assert "'ivo://example.org/o''brien'') or 1=1 --'" in last
    assert odd in ivoids_in(last)
    assert await catalogue.get_coverage(key(odd)) is not None


async def test_maxrec_is_sent_with_the_resource_query(catalogue, registry):
    await run_harvest(catalogue, reader(registry, maxrec=25))
    assert registry.maxrecs[0] == "25"


def test_the_source_names_the_registry_and_its_query():
    triangle = Polygon(((23.0, -40.0), (26.0, -39.0), (25.0, -43.0)))
    spec = RegistryReader(servicetype="tap", keywords=["radio"], region=triangle).spec
    assert (spec.name, spec.kind, spec.url) == (
        "registry.reg.g-vo.org",
        SourceKind.REGISTRY,
        "https://reg.g-vo.org/tap",
    )
    assert spec.parameters == {
        "servicetype": "tap",
        "datamodel": None,
        "keywords": ["radio"],
        "region": "Polygon ICRS 23 -40 26 -39 25 -43",
        "intersect": "overlaps",
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs a servicetype, a data model, keywords or a region"),
        ({"servicetype": "sai"}, "Service type sai is neither"),
        ({"datamodel": "obscure"}, "Unknown data model id obscure"),
        ({"keywords": ["pulsar", " "]}, "keywords must not be empty"),
        ({"keywords": ["pulsar"], "chunk_size": 0}, "chunk size 0 must be at least 1"),
    ],
)
def test_a_query_the_registry_cannot_be_asked_is_refused_before_any_request(options, message):
    with pytest.raises(InvalidInputError, match=message):
        RegistryReader("http://127.0.0.1:9/tap", **options)


# -- finding what was harvested ----------------------------------------------------------------


async def test_full_text_search_finds_resources_by_title_and_description(
    catalogue, registry, engine
):
    await run_harvest(catalogue, reader(registry))
    search = RelationalSearch(create_sessions(engine))
    found = await search.search(
        SearchQuery(text=TextQuery.parse("fermi timing"), sources=(SOURCE,))
    )
    assert str(found.hits[0].key) == str(key(SDSS_IVOID))
    # "scintillation" is only in the description of J/A+A/618/A186.
    found = await search.search(
        SearchQuery(text=TextQuery.parse("scintillation"), sources=(SOURCE,))
    )
    assert str(key("ivo://cds.vizier/j/a+a/618/a186")) in {str(h.key) for h in found.hits}
    lake_only = await search.search(SearchQuery(text=TextQuery.parse("fermi"), sources=("lake",)))
    assert lake_only.total == 0


async def test_metadata_filters_find_resources_by_waveband_and_capability(catalogue, registry):
    await run_harvest(catalogue, reader(registry))
    xray = {record_name(i) for i, row in recorded().items() if "x-ray" in (row["waveband"] or "")}
    page = await catalogue.search(
        DIDQuery(filter=parse_rucio_filter("waveband contains x-ray"), sources=(SOURCE,))
    )
    assert {d.key.name for d in page.items} == xray
    assert len(xray) == 2
    page = await catalogue.search(
        DIDQuery(filter=parse_rucio_filter("capabilities contains conesearch"), sources=(SOURCE,))
    )
    assert page.total == 30
    recent = {record_name(i) for i, row in recorded().items() if row["updated"] > "2023-06-01"}
    page = await catalogue.search(
        DIDQuery(filter=parse_rucio_filter("updated > 2023-06-01"), sources=(SOURCE,))
    )
    assert {d.key.name for d in page.items} == recent
    assert 0 < len(recent) < 30
    page = await catalogue.search(
        DIDQuery(
            filter=parse_rucio_filter("res_type = vs:catalogservice, short_name = ATNF"),
            sources=(SOURCE,),
        )
    )
    assert [d.key.name for d in page.items] == [record_name(I125A_IVOID)]


async def test_a_region_search_finds_the_resource_whose_moc_covers_it(catalogue, registry):
    await run_harvest(catalogue, reader(registry))
    cone = RegionFilter.from_shape(Circle(185.0, 15.0, 2.0), 10)
    page = await catalogue.search(DIDQuery(region=cone, sources=(SOURCE,)))
    assert [d.key for d in page.items] == [key(SDSS_IVOID)]


# -- re-harvesting -----------------------------------------------------------------------------


async def test_harvesting_again_changes_nothing(catalogue, registry):
    await run_harvest(catalogue, reader(registry))
    again = await run_harvest(catalogue, reader(registry))
    assert again.status is RunStatus.SUCCEEDED
    assert (again.counts.added, again.counts.updated, again.counts.unchanged) == (0, 0, 30)
    assert again.counts.withdrawn == 0


async def test_a_resource_gone_from_a_complete_answer_is_withdrawn(catalogue, registry):
    gone = "ivo://cds.vizier/j/apj/769/66"
    await run_harvest(catalogue, reader(registry))
    registry.resources = edited(REGTAP.read_bytes(), drop={gone})
    run = await run_harvest(catalogue, reader(registry))
    assert run.status is RunStatus.SUCCEEDED
    assert (run.counts.unchanged, run.counts.withdrawn) == (29, 1)
    assert record_name(gone) not in await live_names(catalogue)
    detail = await catalogue.get_did(key(gone))
    info = (await catalogue.harvest_info([detail.did.id]))[detail.did.id]
    assert info.withdrawn_at is not None


async def test_a_truncated_answer_is_incomplete_and_withdraws_nothing(catalogue, registry):
    gone = "ivo://cds.vizier/j/apj/769/66"
    await run_harvest(catalogue, reader(registry))
    registry.resources = edited(REGTAP.read_bytes(), drop={gone})
    registry.overflow_on = {"resources"}
    truncated = reader(registry)
    run = await run_harvest(catalogue, truncated)
    assert truncated.overflow
    assert run.status is RunStatus.INCOMPLETE
    assert (run.counts.unchanged, run.counts.withdrawn) == (29, 0)
    assert record_name(gone) in await live_names(catalogue)


# -- coverage trouble --------------------------------------------------------------------------


async def test_a_malformed_moc_is_a_problem_and_the_resource_is_kept_without_it(
    catalogue, registry
):
    registry.coverages[I125A_IVOID] = "6/12-x"
    run = await run_harvest(catalogue, reader(registry))
    assert run.status is RunStatus.SUCCEEDED
    assert (run.counts.added, run.counts.failed) == (30, 1)
    [problem] = run.problems
    assert problem.where == I125A_IVOID
    assert "coverage in rr.stc_spatial" in problem.reason
    assert "harvested without it" in problem.reason
    assert await catalogue.get_did(key(I125A_IVOID)) is not None
    assert await catalogue.get_coverage(key(I125A_IVOID)) is None


async def test_a_registry_without_stc_spatial_is_harvested_without_coverages(catalogue, registry):
    registry.has_stc_spatial = False
    run = await run_harvest(catalogue, reader(registry))
    assert (run.status, run.counts.added) == (RunStatus.SUCCEEDED, 30)
    assert registry.of_kind("coverage") == []
    assert await catalogue.get_coverage(key(SDSS_IVOID)) is None


async def test_a_truncated_coverage_answer_fails_the_run(catalogue, registry):
    registry.overflow_on = {"coverage"}
    run = await run_harvest(catalogue, reader(registry))
    assert run.status is RunStatus.FAILED
    assert run.error.startswith(f"{registry.url}/sync: the registry truncated the coverages")


# -- a registry that fails ---------------------------------------------------------------------


FAILURES = [
    ("500", "HTTP 500"),
    ("malformed", "malformed VOTable"),
    ("silent", "no answer within 0.5 s (timed out)"),
]


@pytest.mark.parametrize(("failure", "message"), FAILURES)
async def test_a_failure_midway_keeps_the_committed_chunks_and_resumes(
    catalogue, registry, failure, message
):
    registry.failure, registry.fail_after = failure, 1  # the second chunk's coverages fail
    run = await run_harvest(catalogue, reader(registry, timeout=0.5))
    assert run.status is RunStatus.FAILED
    assert run.error.startswith(f"{registry.url}/sync: ")
    assert message in run.error
    first = sorted(recorded())[:10]
    assert await live_names(catalogue) == {record_name(i) for i in first}
    assert run.resume_after == first[-1]

    registry.failure = None
    asked_before = len(registry.of_kind("coverage"))
    resumed = await run_harvest(catalogue, reader(registry, timeout=0.5))
    assert (resumed.id, resumed.status) == (run.id, RunStatus.SUCCEEDED)
    assert (resumed.counts.added, resumed.counts.withdrawn) == (30, 0)
    assert all(
        i > first[-1] for q in registry.of_kind("coverage")[asked_before:] for i in ivoids_in(q)
    )
    assert await live_names(catalogue) == {record_name(i) for i in recorded()}


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        ("500", "HTTP 500"),
        ("error", "the service refused the query: Could not parse your query"),
        ("silent", "no answer within 0.5 s (timed out)"),
    ],
)
async def test_a_failing_resource_query_fails_the_run_before_writing(
    catalogue, registry, failure, message
):
    registry.failure, registry.fail_on = failure, "resources"
    run = await run_harvest(catalogue, reader(registry, timeout=0.5))
    assert run.status is RunStatus.FAILED
    assert run.error.startswith(f"{registry.url}/sync: ")
    assert message in run.error
    assert await live_names(catalogue) == set()


async def test_an_unreachable_registry_fails_the_run_naming_it(catalogue):
    unreachable = RegistryReader(
        "http://127.0.0.1:9/tap", keywords=["pulsar"], source=SOURCE, timeout=2
    )
    run = await run_harvest(catalogue, unreachable)
    assert run.status is RunStatus.FAILED
    assert run.error.startswith("http://127.0.0.1:9/tap: ")
    assert "http://127.0.0.1:9/tap/capabilities: Connection failed" in run.error
    assert "\n" not in run.error
