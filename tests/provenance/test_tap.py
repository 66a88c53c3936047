"""Provenance over TAP (the ``provenance`` schema, joined with ivoa.obscore) and DataLink."""

from __future__ import annotations

import io

import pytest
from astropy.io.votable import parse, parse_single_table
from pyvo.dal.adhoc import DatalinkResults

from catalogue.provenance import ActivitySpec
from tests.provenance.conftest import CTAPIPE, T0, chain, key, uses
from tests.support.records import file_record, manifest, register, square

pytestmark = pytest.mark.filterwarnings("ignore::astropy.io.votable.exceptions.VOWarning")


async def _adql(client, query):
    reply = await client.post("/tap/sync", data={"LANG": "ADQL", "QUERY": query})
    assert reply.status_code == 200, reply.text
    return parse_single_table(io.BytesIO(reply.content)).to_table()


async def _observed(catalogue):
    """A raw event list and a calibration, reduced to a DL3 event list, all with ObsCore rows."""
    obscore = {"s_region": square(83.63, 22.01), "dataproduct_type": "event"}
    await register(
        catalogue,
        [
            file_record("raw_9.fits.fz", scope="cta", obscore={**obscore, "calib_level": 0}),
            file_record("calib_9.h5", scope="cta"),
        ],
    )
    spec = ActivitySpec(
        name="dl0_to_dl3",
        activity_type="Reduction",
        start_time=T0,
        agents=[CTAPIPE],
        used=uses("cta:raw_9.fits.fz", role="raw") + uses("cta:calib_9.h5", role="calibration"),
        new_file_roles=["dl3"],
    )
    files = manifest(
        [file_record("dl3_9.fits", scope="cta", obscore={**obscore, "calib_level": 3})]
    )
    recorded = await catalogue.record_activity(spec, files)
    assert recorded.problems == []


JOIN = """
SELECT o.obs_id, a.name AS activity, u.role, i.name AS input
FROM ivoa.obscore AS o
JOIN provenance.entity AS e ON e.lake_scope = o.lake_scope AND e.lake_name = o.lake_name
JOIN provenance.wasgeneratedby AS g ON g.entity_id = e.id
JOIN provenance.activity AS a ON a.id = g.activity_id
JOIN provenance.used AS u ON u.activity_id = a.id
JOIN provenance.entity AS i ON i.id = u.entity_id
WHERE o.calib_level = 3
ORDER BY u.role
"""


async def test_obscore_rows_join_their_provenance(catalogue, client):
    await _observed(catalogue)
    rows = await _adql(client, JOIN)
    assert [tuple(str(v) for v in row) for row in rows] == [
        ("dl3_9.fits", "dl0_to_dl3", "calibration", "cta:calib_9.h5"),
        ("dl3_9.fits", "dl0_to_dl3", "raw", "cta:raw_9.fits.fz"),
    ]
    software = await _adql(
        client,
        "SELECT g.name, g.version, w.role FROM provenance.agent AS g "
        "JOIN provenance.wasassociatedwith AS w ON w.agent_id = g.id",
    )
    assert [tuple(str(v) for v in row) for row in software] == [("ctapipe", "0.19.2", "software")]


async def test_parameters_are_typed_columns(catalogue, client):
    await chain(catalogue)
    rows = await _adql(
        client,
        "SELECT activity_id, value_text, value_num, unit FROM provenance.parameter "
        "WHERE name = 'tailcuts' AND value_num > 10",
    )
    assert len(rows) == 6
    assert {(str(r["value_text"]), float(r["value_num"]), str(r["unit"])) for r in rows} == {
        ("10.5", 10.5, "pe")
    }


async def test_tap_schema_publishes_the_provenance_tables_and_keys(client):
    tables = await _adql(
        client, "SELECT table_name FROM TAP_SCHEMA.tables WHERE schema_name = 'provenance'"
    )
    assert {str(n) for n in tables["table_name"]} == {
        f"provenance.{n}"
        for n in (
            "entity",
            "activity",
            "agent",
            "used",
            "wasgeneratedby",
            "wasderivedfrom",
            "wasassociatedwith",
            "wasattributedto",
            "wasinformedby",
            "parameter",
        )
    }
    keys = await _adql(
        client,
        "SELECT from_table, target_table FROM TAP_SCHEMA.keys "
        "WHERE key_id = 'provenance_used_entity'",
    )
    assert [tuple(str(v) for v in r) for r in keys] == [("provenance.used", "provenance.entity")]


async def test_a_deleted_did_leaves_the_provenance_tables(catalogue, client):
    await chain(catalogue)
    await catalogue.delete(key("cta:calib_2025.h5"))
    entities = await _adql(
        client, "SELECT name FROM provenance.entity WHERE lake_name LIKE 'calib%'"
    )
    assert len(entities) == 0
    used = await _adql(client, "SELECT role FROM provenance.used WHERE role = 'calibration'")
    assert len(used) == 0
    raw = await _adql(client, "SELECT role FROM provenance.used WHERE role = 'raw'")
    assert len(raw) == 2


# include_narrower=False: pyvo would fetch the vocabulary from ivoa.net to expand the term
async def _links(client, identifier):
    reply = await client.get("/datalink/links", params={"ID": identifier})
    assert reply.status_code == 200
    return DatalinkResults(parse(io.BytesIO(reply.content)))


async def test_datalink_lists_progenitors_and_derivations(catalogue, client):
    await chain(catalogue)
    links = await _links(client, "cta:dl1_1.h5")
    progenitors = sorted(
        r.access_url for r in links.bysemantics("#progenitor", include_narrower=False)
    )
    assert progenitors == [
        "http://testserver/datalink/links?ID=cta%3Acalib_2025.h5",
        "http://testserver/datalink/links?ID=cta%3Araw_1.fits.fz",
    ]
    assert {r.content_type for r in links.bysemantics("#progenitor", include_narrower=False)} == {
        "application/x-votable+xml;content=datalink"
    }
    derivations = [r.access_url for r in links.bysemantics("#derivation", include_narrower=False)]
    assert derivations == ["http://testserver/datalink/links?ID=cta%3Adl2_1.h5"]
    (export,) = links.bysemantics("#documentation", include_narrower=False)
    assert export.access_url == "http://testserver/prov?ID=cta%3Adl1_1.h5&RESPONSEFORMAT=PROV-JSON"
    assert (await client.get(export.access_url)).json()["entity"]
    assert next(r.semantics for r in links) == "#this"  # the replica rows come first


async def test_datalink_of_a_file_without_provenance_is_unchanged(catalogue, client):
    await register(catalogue, [file_record("alone.fits", scope="cta")])
    links = await _links(client, "cta:alone.fits")
    assert {r.semantics for r in links} == {"#this"}


async def test_datalink_leaves_out_a_deleted_progenitor(catalogue, client):
    await chain(catalogue)
    await catalogue.delete(key("cta:calib_2025.h5"))
    links = await _links(client, "cta:dl1_1.h5")
    assert [r.access_url for r in links.bysemantics("#progenitor", include_narrower=False)] == [
        "http://testserver/datalink/links?ID=cta%3Araw_1.fits.fz"
    ]
