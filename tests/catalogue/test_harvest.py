"""Harvest runs in the catalogue: add, update, withdraw, restore, fail and resume, sources."""

from __future__ import annotations

import pytest

from catalogue.errors import InvalidInputError
from catalogue.harvest import (
    HarvestedRecord,
    RecordProblem,
    RunStatus,
    SourceKind,
    SourceSpec,
    record_name,
)
from catalogue.models import DIDKey, DIDType
from catalogue.query import DIDQuery, RegionFilter
from catalogue.region import Circle
from catalogue.search import SearchFacet, SearchQuery
from catalogue.store.engine import create_sessions
from catalogue.store.search_sql import RelationalSearch
from tests.support.records import file_record, manifest, register

SPEC = SourceSpec("vo.example", SourceKind.TAP, "http://example.org/tap", {"table": "ivoa.obscore"})


def obscore(n: int, ra: float = 10.0, **extra: object) -> HarvestedRecord:
    """A harvested ObsCore record with a circular footprint."""
    return HarvestedRecord(
        remote_id=f"ivo://example.org/obs?{n}",
        did_type=DIDType.FILE,
        characterisation={
            "obs_publisher_did": f"ivo://example.org/obs?{n}",
            "obs_collection": "EXAMPLE",
            "s_ra": ra,
            "s_dec": 20.0,
            "s_region": f"Circle ICRS {ra} 20 0.5",
            "t_min": 60000.0 + n,
            "t_max": 60000.5 + n,
            **extra,
        },
        metadata={"preview": f"http://example.org/preview/{n}.png"},
    )


async def _run(catalogue, records, *, complete=True, spec=SPEC):
    harvest = await catalogue.start_harvest(spec)
    await harvest.add(records, resume_after=None)
    return await harvest.finish(complete=complete)


async def _names(catalogue, **query):
    page = await catalogue.search(DIDQuery(limit=100, **query))
    return sorted(str(d.key) for d in page.items)


async def test_a_first_run_adds_records_in_the_source_scope_with_coverage(catalogue):
    run = await _run(catalogue, [obscore(1), obscore(2, ra=200.0)])
    assert run.status is RunStatus.SUCCEEDED
    assert (run.counts.added, run.counts.updated, run.counts.withdrawn) == (2, 0, 0)
    detail = await catalogue.get_did(DIDKey("vo.example", record_name("ivo://example.org/obs?1")))
    assert detail is not None
    assert detail.did.key.name == "example.org/obs?1"
    assert detail.characterisation["s_region"] == "Circle ICRS 10 20 0.5"
    assert detail.metadata == {"preview": "http://example.org/preview/1.png"}
    cone = RegionFilter.from_shape(Circle(10.2, 20.0, 0.1), 10)
    assert await _names(catalogue, region=cone) == ["vo.example:example.org/obs?1"]
    info = await catalogue.harvest_info([detail.did.id])
    assert info[detail.did.id].remote_id == "ivo://example.org/obs?1"
    assert info[detail.did.id].source == "vo.example"


async def test_the_source_filter_separates_harvested_records_from_the_lakes_own(catalogue, engine):
    await register(catalogue, [file_record("own.fits")])
    await _run(catalogue, [obscore(1)])
    assert await _names(catalogue, sources=("lake",)) == ["lake:own.fits"]
    assert await _names(catalogue, sources=("vo.example",)) == ["vo.example:example.org/obs?1"]
    assert len(await _names(catalogue, sources=("lake", "vo.example"))) == 2
    search = RelationalSearch(create_sessions(engine))
    result = await search.search(SearchQuery(facets=(SearchFacet.SOURCE,)))
    assert result.facets[SearchFacet.SOURCE] == [("lake", 1), ("vo.example", 1)]
    only = await search.search(SearchQuery(sources=("vo.example",)))
    assert [str(h.key) for h in only.hits] == ["vo.example:example.org/obs?1"]


async def test_re_harvesting_updates_changed_records_and_withdraws_gone_ones(catalogue):
    await _run(catalogue, [obscore(1), obscore(2), obscore(3)])
    run = await _run(catalogue, [obscore(1), obscore(2, target_name="M 31")])
    assert (run.counts.added, run.counts.updated, run.counts.unchanged) == (0, 1, 1)
    assert run.counts.withdrawn == 1
    updated = await catalogue.get_did(DIDKey("vo.example", "example.org/obs?2"))
    assert updated is not None
    assert updated.characterisation["target_name"] == "M 31"
    # withdrawn: kept and found by name, never by a search
    gone = DIDKey("vo.example", "example.org/obs?3")
    detail = await catalogue.get_did(gone)
    assert detail is not None
    assert (await catalogue.harvest_info([detail.did.id]))[detail.did.id].withdrawn_at is not None
    assert str(gone) not in await _names(catalogue)
    assert [(s.name, n) for s, n in await catalogue.harvest_sources()] == [("vo.example", 2)]
    # back at the source: restored
    run = await _run(catalogue, [obscore(1), obscore(2, target_name="M 31"), obscore(3)])
    assert (run.counts.updated, run.counts.unchanged, run.counts.withdrawn) == (1, 2, 0)
    assert str(gone) in await _names(catalogue)


async def test_an_incomplete_run_withdraws_nothing(catalogue):
    await _run(catalogue, [obscore(1), obscore(2)])
    run = await _run(catalogue, [obscore(1)], complete=False)
    assert run.status is RunStatus.INCOMPLETE
    assert run.counts.withdrawn == 0
    assert len(await _names(catalogue)) == 2


async def test_refused_records_are_reported_and_the_rest_written(catalogue):
    bad_region = obscore(2)
    bad_region = HarvestedRecord(
        bad_region.remote_id,
        DIDType.FILE,
        {**bad_region.characterisation, "s_region": "Ellipse ICRS 1 2 3"},
    )
    bad_rights = HarvestedRecord("ivo://x/y?3", DIDType.FILE, {"data_rights": "sometimes"})
    records = [obscore(1), bad_region, bad_rights, obscore(1), RecordProblem("row 7", "no id")]
    run = await _run(catalogue, records)
    assert run.counts.added == 1
    assert run.counts.failed == 4
    reasons = {p.where: p.reason for p in run.problems}
    assert reasons["row 7"] == "no id"
    assert reasons["ivo://example.org/obs?2"].startswith("s_region:")
    assert "data_rights" in reasons["ivo://x/y?3"]
    assert "named twice" in reasons["ivo://example.org/obs?1"]


async def test_a_failed_run_keeps_its_chunks_and_the_next_one_resumes_it(catalogue):
    harvest = await catalogue.start_harvest(SPEC)
    await harvest.add([obscore(1), obscore(2)], resume_after="ivo://example.org/obs?2")
    failed = await harvest.fail("http://example.org/tap/sync: HTTP 503 Service Unavailable")
    assert failed.status is RunStatus.FAILED
    assert failed.error == "http://example.org/tap/sync: HTTP 503 Service Unavailable"
    assert len(await _names(catalogue)) == 2
    again = await catalogue.start_harvest(SPEC)
    assert again.run_id == failed.id
    assert again.resume_after == "ivo://example.org/obs?2"
    await again.add([obscore(3)], resume_after="ivo://example.org/obs?3")
    run = await again.finish(complete=True)
    assert run.status is RunStatus.SUCCEEDED
    assert (run.counts.added, run.counts.withdrawn) == (3, 0)
    assert [r.id for r in await catalogue.harvest_runs("vo.example")] == [run.id]
    fresh = await catalogue.start_harvest(SPEC)
    assert fresh.run_id != run.id
    assert fresh.resume_after is None


async def test_a_source_name_means_one_query_and_never_a_lake_scope(catalogue):
    await _run(catalogue, [obscore(1)])
    other = SourceSpec("vo.example", SourceKind.TAP, "http://example.org/tap", {"where": "x=1"})
    with pytest.raises(InvalidInputError, match="give --source another name"):
        await catalogue.start_harvest(other)
    await register(catalogue, [file_record("own.fits", scope="lake.x")])
    with pytest.raises(InvalidInputError, match="holds the lake's own DIDs"):
        await catalogue.start_harvest(SourceSpec("lake.x", SourceKind.TAP, "http://x/tap"))
    with pytest.raises(InvalidInputError, match="names the lake's own records"):
        SourceSpec("lake", SourceKind.TAP, "http://x/tap")


def test_record_names_are_readable_and_one_to_one():
    assert record_name("ivo://org.gavo.dc/~?lofar/1") == "org.gavo.dc/~?lofar/1"
    assert record_name("ivo://a/b c") == "a/b%20c"
    assert record_name("ivo://a/b%20c") == "a/b%2520c"
    assert record_name(":odd") == "%3Aodd"
    long = record_name("ivo://a/" + "x" * 600)
    assert len(long) == 500
    assert long != record_name("ivo://a/" + "x" * 599 + "y")
    with pytest.raises(InvalidInputError):
        record_name("  ")


async def test_the_lakes_own_writes_stay_out_of_a_harvest_sources_scope(catalogue):
    await _run(catalogue, [obscore(1)])
    summary = await catalogue.register_files(
        manifest([file_record("mine.fits", scope="vo.example")]), all_or_nothing=True
    )
    assert summary.failed == 1
    assert "holds records harvested" in summary.problems[0][1]
    with pytest.raises(InvalidInputError, match="holds records harvested"):
        await catalogue.add_collection(DIDKey("vo.example", "ds"), DIDType.DATASET)
