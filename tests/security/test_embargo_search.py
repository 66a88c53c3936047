"""Embargoed records and both search backends: the relational store and Elasticsearch.

The probe lake of test_embargo.py, indexed through the outbox worker. Each backend must hide
the secret from outsiders (hits, totals, facet counts, region matches) and show it to ctao's
readers; and an index built before embargoes existed is rebuilt, never trusted.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from catalogue.authorization import PUBLIC, Viewer
from catalogue.query import RegionFilter
from catalogue.region import Circle
from catalogue.search import SearchFacet, SearchQuery, TextQuery
from indexer.mapping import index_mappings, index_settings
from tests.security.test_embargo import SECRET_AT, _obscore, build_probe_lake, leaked
from tests.support.records import file_record, register

CTAO = Viewer(scopes=frozenset({"ctao"}))
FACETS = (SearchFacet.INSTRUMENT, SearchFacet.SCOPE, SearchFacet.TYPE, SearchFacet.DATA_RIGHTS)


def _queries(viewer: Viewer) -> dict[str, SearchQuery]:
    return {
        "everything": SearchQuery(limit=100, facets=FACETS, viewer=viewer),
        "its text": SearchQuery(text=TextQuery.parse("HIDDEN"), facets=FACETS, viewer=viewer),
        "its dataset's name": SearchQuery(text=TextQuery.parse("run1"), viewer=viewer),
        "its sky": SearchQuery(
            region=RegionFilter.from_shape(Circle(*SECRET_AT, 2), 10), viewer=viewer
        ),
    }


async def _answers(backend, viewer: Viewer) -> dict[str, tuple[set[str], int, str]]:
    found = {}
    for label, query in _queries(viewer).items():
        result = await backend.search(query)
        found[label] = ({h.key.name for h in result.hits}, result.total, str(result.facets))
    return found


async def test_both_backends_hide_an_embargoed_record_from_outsiders(indexed, catalogue):
    await build_probe_lake(catalogue)
    await indexed.sync()
    for backend in (indexed.relational, indexed.elasticsearch):
        outside = await _answers(backend, PUBLIC)
        for label, (names, total, facets) in outside.items():
            assert leaked(" ".join(names) + facets) == [], (backend, label)
            assert len(names) == total, (backend, label)
        assert outside["everything"][1] == 6
        assert outside["its text"][1] == outside["its sky"][1] == 0
        assert outside["its dataset's name"][1] == 0
        inside = await _answers(backend, CTAO)
        assert inside["everything"][1] == 10
        assert {"secret", "secret-calibrated", "run1", "all"} <= inside["its text"][0]
        assert inside["its sky"][0] == {"secret", "secret-calibrated", "run1", "all"}
        assert "SECRET-CAM" in inside["everything"][2]


async def test_the_index_releases_by_time_alone(indexed, catalogue):
    soon = datetime.now(UTC) + timedelta(seconds=2)
    obscore = _obscore("SOON", 60, 0, "secure", obs_release_date=soon.isoformat())
    await register(catalogue, [file_record("soon", scope="ctao", obscore=obscore)])
    await indexed.sync()
    query = SearchQuery(text=TextQuery.parse("SOON"))
    assert (await indexed.elasticsearch.search(query)).total == 0
    await asyncio.sleep((soon - datetime.now(UTC)).total_seconds() + 1)
    assert await indexed.sync() == 0  # nothing was written, nothing reindexed
    assert (await indexed.elasticsearch.search(query)).total == 1


async def test_an_index_without_embargo_fields_is_rebuilt_not_trusted(
    indexed, catalogue, es_client, alias
):
    await build_probe_lake(catalogue)
    old = index_mappings()
    for name in ("embargo_until", "embargo_scope"):
        del old["properties"][name]
    stale = f"{alias}-before-embargoes"
    await es_client.indices.delete(index=f"{alias}-*")
    await es_client.indices.create(
        index=stale, settings=index_settings(1, 0), mappings=old, aliases={alias: {}}
    )
    await indexed.worker.ensure_index()
    assert not (await es_client.indices.exists(index=stale)).body
    await indexed.sync()
    result = await indexed.elasticsearch.search(SearchQuery(text=TextQuery.parse("HIDDEN")))
    assert result.total == 0
