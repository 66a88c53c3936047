"""PROV-JSON and PROV-N exports: valid against the W3C schema, read back by ``prov``, served."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest
from prov.model import ProvDocument

from catalogue.authorization import PUBLIC
from catalogue.prov_export import ProvNames, local_name, prov_json, prov_n
from catalogue.provenance import (
    ActivitySpec,
    AgentSpec,
    AgentType,
    Derivation,
    Direction,
    EntityRef,
    Parameter,
    Usage,
)
from tests.conftest import DATA
from tests.provenance.conftest import CTAPIPE, chain, key, new_files

SCHEMA = json.loads((DATA / "prov" / "prov-json.schema.json").read_text())
NAMES = ProvNames("lake.example.org", "http://testserver/datalink/links?ID=")
ODD = "odd#name?with&stuff.+%x."


async def _rich(catalogue):
    """A chain plus a step with every relation kind, every parameter type, odd names."""
    ids = await chain(catalogue)
    spec = ActivitySpec(
        name='stack "winter" 2025',
        activity_type="Analysis",
        start_time=datetime(2025, 2, 1, tzinfo=UTC),
        end_time=datetime(2025, 2, 1, 1, tzinfo=UTC),
        comment="multi-line\ncomment \\ with backslash",
        agents=[CTAPIPE, AgentSpec("Ada Lovelace", AgentType.PERSON, role="Operator")],
        parameters=[
            Parameter("threshold", 0.5, unit="TeV", ucd="phys.energy"),
            Parameter("n_runs", 2**40),
            Parameter("method", "stack"),
            Parameter("dry_run", value=False),
            Parameter("epoch", datetime(2000, 1, 1, 12, tzinfo=UTC)),
        ],
        used=[
            Usage(EntityRef(did=key("cta:dl3_1.fits")), role="run"),
            Usage(EntityRef(did=key("cta:dl3_2.fits")), role="run"),
            Usage(EntityRef(uri="https://zenodo.org/records/12345"), role="irf"),
        ],
        new_file_roles=["stack"],
        derivations=[Derivation(key(f"cta:{ODD}"), EntityRef(did=key("cta:dl3_1.fits")))],
        attributed_to=[AgentSpec("CTAO", AgentType.ORGANIZATION, role="Publisher")],
        informed_by=[ids["dl3_1"]],
    )
    recorded = await catalogue.record_activity(spec, new_files(ODD))
    assert recorded.problems == []
    return await catalogue.provenance.lineage(
        PUBLIC, key(f"cta:{ODD}"), Direction.UPSTREAM, 10, 1000, parameters=True
    )


def test_local_names_need_no_escapes():
    assert local_name("cta:dl3/run_1.fits") == "cta%3Adl3/run_1.fits"
    assert local_name(".hidden-") == "%2Ehidden%2D"
    assert local_name("") == "_"


async def test_prov_json_validates_against_the_w3c_schema(catalogue):
    document = prov_json(await _rich(catalogue), NAMES)
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(document), key=str)
    assert errors == [], "\n".join(str(e) for e in errors[:5])
    for kind in (
        "entity",
        "activity",
        "agent",
        "used",
        "wasGeneratedBy",
        "wasDerivedFrom",
        "wasAssociatedWith",
        "wasAttributedTo",
        "wasInformedBy",
    ):
        assert document[kind], kind


async def test_prov_json_and_prov_n_read_back_as_the_same_document(catalogue):
    lineage = await _rich(catalogue)
    from_json = ProvDocument.deserialize(
        content=json.dumps(prov_json(lineage, NAMES)), format="json"
    )
    from_n = ProvDocument.deserialize(content=prov_n(lineage, NAMES), format="provn")
    assert from_json == from_n
    parameters = sum(len(p) for p in lineage.parameters.values())
    records = from_n.get_records()
    entities = [r for r in records if r.get_type().localpart == "Entity"]
    assert len(entities) == len(lineage.entities) + parameters
    ident = next(r.identifier for r in entities if "odd" in str(r.identifier))
    assert ident.uri == "ivo://lake.example.org/lake?" + local_name(f"cta:{ODD}")
    activity = next(
        r for r in records if r.get_type().localpart == "Activity" and "stack" in str(r.label)
    )
    attributes = {str(k): v for k, v in activity.attributes}
    assert attributes["prov:label"] == 'stack "winter" 2025'


async def test_export_endpoint_serves_both_formats(catalogue, client):
    await _rich(catalogue)
    reply = await client.get("/prov", params={"ID": "cta:dl3_1.fits", "DEPTH": "ALL"})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["x-lineage-truncated"] == "false"
    document = reply.json()
    assert jsonschema.Draft4Validator(SCHEMA).is_valid(document)
    assert "lake:cta%3Araw_1.fits.fz" in document["entity"]
    assert document["entity"]["lake:cta%3Araw_1.fits.fz"]["prov:location"] == (
        "http://testserver/datalink/links?ID=cta%3Araw_1.fits.fz"
    )
    provn = await client.get(
        "/prov",
        params={"id": "cta:calib_2025.h5", "direction": "FORTH", "responseformat": "PROV-N"},
    )
    assert provn.status_code == 200
    assert provn.headers["content-type"].startswith("text/provenance-notation")
    document = ProvDocument.deserialize(content=provn.text, format="provn")
    assert any("dl3_1" in str(r.identifier) for r in document.get_records())
    accepted = await client.get(
        "/prov", params={"ID": "cta:dl1_1.h5"}, headers={"Accept": "text/provenance-notation"}
    )
    assert accepted.text.startswith("document\n")


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({}, 400, "ID is required"),
        ({"ID": "no colon"}, 400, "is not a DID"),
        ({"ID": "cta:dl3_1.fits", "DEPTH": "-1"}, 400, "DEPTH must be"),
        ({"ID": "cta:dl3_1.fits", "DEPTH": "1000"}, 400, "DEPTH must be"),
        ({"ID": "cta:dl3_1.fits", "DIRECTION": "sideways"}, 400, "DIRECTION must be"),
        ({"ID": "cta:dl3_1.fits", "RESPONSEFORMAT": "xml"}, 400, "RESPONSEFORMAT must be"),
        ({"ID": "cta:nowhere.fits"}, 404, "does not exist"),
    ],
)
async def test_export_endpoint_refuses_with_a_plain_message(
    catalogue, client, params, status, says
):
    await chain(catalogue)
    reply = await client.get("/prov", params=params)
    assert reply.status_code == status
    assert reply.headers["content-type"].startswith("text/plain")
    assert says in reply.text


async def test_a_deleted_did_is_not_exported(catalogue, client):
    await chain(catalogue)
    await catalogue.delete(key("cta:calib_2025.h5"))
    assert (await client.get("/prov", params={"ID": "cta:calib_2025.h5"})).status_code == 404
    document = (await client.get("/prov", params={"ID": "cta:dl3_1.fits", "DEPTH": "ALL"})).json()
    assert not any("calib" in k for k in document["entity"])
    assert all("calib" not in json.dumps(u) for u in document["used"].values())
