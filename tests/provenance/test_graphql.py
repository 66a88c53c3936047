"""recordActivity and the DID provenance fields through GraphQL, on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from catalogue.store import tables as t
from tests.conftest import make_catalogue
from tests.provenance.conftest import chain
from tests.support.graphql import gql
from tests.support.records import file_record, register

RECORD = """
mutation Record($activity: ActivityInput!, $files: [GeneratedFileInput!]) {
  recordActivity(activity: $activity, files: $files, dataset: "cta:dl1") {
    __typename
    ... on RecordActivitySuccess {
      registered
      activity { id name type status startTime parameters { name value valueType unit }
                 agents { role agent { name type version } }
                 used { role entity { id } } generated { role entity { id did { name } } } }
    }
    ... on RecordActivityError { message problems { field message } }
  }
}
"""


def _activity(**extra):
    return {
        "name": "calibrate run 1",
        "type": "Calibration",
        "startTime": "2025-01-10T20:00:00Z",
        "endTime": "2025-01-10T20:10:00Z",
        "agents": [
            {"name": "ctapipe", "type": "SOFTWARE", "version": "0.19.2", "role": "software"},
            {"name": "CTAO DPPS", "type": "ORGANIZATION", "role": "Operator"},
        ],
        "parameters": [
            {"name": "tailcuts", "value": 10.5, "unit": "pe"},
            {"name": "nside", "value": 64},
            {"name": "method", "value": "local_peak"},
            {"name": "clean", "value": True},
        ],
        "used": [
            {"did": "cta:raw_1.fits.fz", "role": "raw"},
            {"did": "cta:calib_2025.h5", "role": "calibration"},
            {"uri": "https://zenodo.org/records/12345", "role": "irf"},
        ],
        **extra,
    }


def _files(*names):
    return [
        {"scope": "cta", "name": n, "bytes": 1000, "adler32": "0a0b0c0d", "role": "dl1"}
        for n in names
    ]


async def _inputs(engine):
    await register(
        make_catalogue(engine),
        [file_record("raw_1.fits.fz", scope="cta"), file_record("calib_2025.h5", scope="cta")],
    )


async def test_record_activity_registers_its_outputs_with_their_lineage(engine, client):
    await _inputs(engine)
    body = await gql(
        client, RECORD, {"activity": _activity(), "files": _files("dl1_1.h5", "dl1_2.h5")}
    )
    result = body["data"]["recordActivity"]
    assert result["__typename"] == "RecordActivitySuccess", body
    assert result["registered"] == 2
    activity = result["activity"]
    assert activity["type"] == "Calibration"
    assert {p["name"]: (p["value"], p["valueType"]) for p in activity["parameters"]} == {
        "tailcuts": (10.5, "float"),
        "nside": (64, "integer"),
        "method": ("local_peak", "string"),
        "clean": (True, "boolean"),
    }
    assert {(a["role"], a["agent"]["name"], a["agent"]["version"]) for a in activity["agents"]} == {
        ("software", "ctapipe", "0.19.2"),
        ("Operator", "CTAO DPPS", None),
    }
    assert {(u["role"], u["entity"]["id"]) for u in activity["used"]} == {
        ("raw", "cta:raw_1.fits.fz"),
        ("calibration", "cta:calib_2025.h5"),
        ("irf", "https://zenodo.org/records/12345"),
    }
    assert [g["entity"]["did"]["name"] for g in activity["generated"]] == ["dl1_1.h5", "dl1_2.h5"]
    read = await gql(
        client,
        '{ did(scope: "cta", name: "dl1_1.h5") { generatedBy { name } '
        "derivedFrom { id } parents { id } } }",
    )
    did = read["data"]["did"]
    assert did["generatedBy"]["name"] == "calibrate run 1"
    assert {e["id"] for e in did["derivedFrom"]} == {
        "cta:raw_1.fits.fz",
        "cta:calib_2025.h5",
        "https://zenodo.org/records/12345",
    }
    assert did["parents"] == [{"id": "cta:dl1"}]


async def _counts(engine):
    async with engine.connect() as connection:
        return {
            table.name: await connection.scalar(select(func.count()).select_from(table))
            for table in (t.did, t.prov_activity, t.prov_entity, t.prov_usage, t.search_outbox)
        }


async def test_a_bad_output_file_writes_nothing_and_says_which(engine, client):
    await _inputs(engine)
    before = await _counts(engine)
    files = _files("dl1_1.h5", "dl1_2.h5")
    files[1]["adler32"] = "not-hex"
    body = await gql(client, RECORD, {"activity": _activity(), "files": files})
    result = body["data"]["recordActivity"]
    assert result["__typename"] == "RecordActivityError"
    assert [p["field"] for p in result["problems"]] == ["files[1]"]
    assert "adler32" in result["problems"][0]["message"]
    assert await _counts(engine) == before


async def test_every_missing_input_is_reported(engine, client):
    activity = _activity(generated=[{"did": "cta:nowhere.fits"}])
    body = await gql(client, RECORD, {"activity": activity, "files": _files("dl1_1.h5")})
    result = body["data"]["recordActivity"]
    assert result["__typename"] == "RecordActivityError"
    assert [p["field"] for p in result["problems"]] == [
        "used[0].did",
        "used[1].did",
        "generated[0].did",
    ]
    assert "does not exist" in result["problems"][0]["message"]
    found = await gql(client, '{ did(scope: "cta", name: "dl1_1.h5") { id } }')
    assert found["data"]["did"] is None


async def test_an_output_is_generated_once(engine, client):
    await _inputs(engine)
    first = await gql(client, RECORD, {"activity": _activity(), "files": _files("dl1_1.h5")})
    assert first["data"]["recordActivity"]["__typename"] == "RecordActivitySuccess"
    again = await gql(client, RECORD, {"activity": _activity(), "files": _files("dl1_1.h5")})
    result = again["data"]["recordActivity"]
    assert result["__typename"] == "RecordActivityError"
    assert result["problems"][0]["field"] == "files[0]"
    assert "already generated by activity" in result["problems"][0]["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endTime": "2025-01-09T00:00:00Z"}, "activity.endTime"),
        ({"used": [{"did": "cta:raw_1.fits.fz", "uri": "https://x.org/a"}]}, "activity.used[0]"),
        ({"used": [{"uri": "not a uri"}]}, "activity.used[0].uri"),
        ({"used": [{"did": "no-colon"}]}, "activity.used[0].did"),
        ({"parameters": [{"name": "x", "value": [1, 2]}]}, "activity.parameters[0].value"),
        (
            {"parameters": [{"name": "x", "value": 1}, {"name": "x", "value": 2}]},
            "activity.parameters[1].name",
        ),
        ({"name": " "}, "activity.name"),
        ({"informedBy": ["abc"]}, "activity.informedBy[0]"),
    ],
)
async def test_bad_input_is_an_error_naming_the_field(client, change, field):
    body = await gql(client, RECORD, {"activity": _activity(**change)})
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, error
    assert error["message"].startswith(f"{field}: ")


LINEAGE = """
query Lineage($name: String!, $direction: LineageDirection!, $depth: Int!, $limit: Int!) {
  did(scope: "cta", name: $name) {
    lineage(direction: $direction, depth: $depth, limit: $limit) {
      root { id } depth reachedDepth truncated
      entities { level entity { id } }
      activities { level activity { name agents { agent { name version } } } }
      agents { name }
      used { activity entity role }
      wasGeneratedBy { entity activity }
    }
  }
}
"""


async def test_upstream_lineage_answers_what_made_a_dl3_file(engine, client):
    await chain(make_catalogue(engine))
    body = await gql(
        client, LINEAGE, {"name": "dl3_1.fits", "direction": "UPSTREAM", "depth": 10, "limit": 100}
    )
    lineage = body["data"]["did"]["lineage"]
    assert lineage["root"] == {"id": "cta:dl3_1.fits"}
    assert (lineage["reachedDepth"], lineage["truncated"]) == (3, False)
    assert {(e["level"], e["entity"]["id"]) for e in lineage["entities"]} == {
        (0, "cta:dl3_1.fits"),
        (1, "cta:dl2_1.h5"),
        (2, "cta:dl1_1.h5"),
        (3, "cta:raw_1.fits.fz"),
        (3, "cta:calib_2025.h5"),
    }
    assert [a["activity"]["name"] for a in lineage["activities"]] == ["dl3_1", "dl2_1", "dl1_1"]
    assert lineage["activities"][0]["activity"]["agents"] == [
        {"agent": {"name": "ctapipe", "version": "0.19.2"}}
    ]
    assert len(lineage["used"]) == 4
    assert len(lineage["wasGeneratedBy"]) == 3


async def test_downstream_lineage_of_a_calibration_is_capped_and_says_so(engine, client):
    await chain(make_catalogue(engine))
    variables = {"name": "calib_2025.h5", "direction": "DOWNSTREAM", "depth": 1, "limit": 100}
    body = await gql(client, LINEAGE, variables)
    lineage = body["data"]["did"]["lineage"]
    assert lineage["truncated"] is True
    assert {e["entity"]["id"] for e in lineage["entities"]} == {
        "cta:calib_2025.h5",
        "cta:dl1_1.h5",
        "cta:dl1_2.h5",
    }
    capped = await gql(client, LINEAGE, {**variables, "depth": 10, "limit": 3})
    lineage = capped["data"]["did"]["lineage"]
    assert lineage["truncated"] is True
    assert len(lineage["entities"]) + len(lineage["activities"]) == 3
    full = await gql(client, LINEAGE, {**variables, "depth": 10})
    assert full["data"]["did"]["lineage"]["truncated"] is False
    assert len(full["data"]["did"]["lineage"]["entities"]) == 7


@pytest.mark.parametrize(
    ("depth", "limit", "field"), [(-1, 10, "depth"), (101, 10, "depth"), (3, 0, "limit")]
)
async def test_lineage_caps_are_errors_naming_the_argument(engine, client, depth, limit, field):
    await chain(make_catalogue(engine))
    body = await gql(
        client,
        LINEAGE,
        {"name": "dl3_1.fits", "direction": "UPSTREAM", "depth": depth, "limit": limit},
    )
    assert body["errors"][0]["extensions"]["field"] == field


async def test_used_by_and_derivatives_follow_a_calibration_down(engine, client):
    await chain(make_catalogue(engine))
    body = await gql(
        client,
        '{ did(scope: "cta", name: "calib_2025.h5") { usedBy { name } derivatives { id } } }',
    )
    did = body["data"]["did"]
    assert sorted(a["name"] for a in did["usedBy"]) == ["dl1_1", "dl1_2"]
    assert sorted(e["id"] for e in did["derivatives"]) == ["cta:dl1_1.h5", "cta:dl1_2.h5"]


async def test_an_activity_is_found_by_id(engine, client):
    ids = await chain(make_catalogue(engine))
    body = await gql(
        client, f'{{ activity(id: "{ids["dl2_1"]}") {{ name used {{ entity {{ id }} }} }} }}'
    )
    assert body["data"]["activity"] == {
        "name": "dl2_1",
        "used": [{"entity": {"id": "cta:dl1_1.h5"}}],
    }
    assert (await gql(client, '{ activity(id: "999") { name } }'))["data"]["activity"] is None
