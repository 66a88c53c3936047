"""Embargoed records through every interface: each probe named for what it tries.

The lake holds ``ctao:secret`` (proprietary until 2099) in dataset ``ctao:run1`` beside a
public file, inside container ``lake:all``; an activity used ``lake:pub`` and generated both
``ctao:secret`` and the public ``ctao:visible``. A probe by a caller without rights on ctao
passes only when nothing about the secret comes back: not its name, target, instrument,
footprint, release date, count, nor the collections that hold it. Each probe also asks as a
reader of ctao, who must see it, so that a probe cannot pass by hiding everything.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from astropy.io.votable import parse_single_table
from sqlalchemy import select

from catalogue.coverage import Coverage
from catalogue.models import RSE, DIDKey, DIDType
from catalogue.region import Circle
from catalogue.store import tables as t
from catalogue.store.engine import migrate
from tests.support.app_client import app_client
from tests.support.auth import bearer, local_settings
from tests.support.migrations import downgrade
from tests.support.records import file_record, register, square

GROUPS = {"/ctao": {"read": ["ctao"]}}
#: Strings only the embargoed records carry: none may reach a caller without rights.
MARKERS = ("secret", "HIDDEN-TARGET", "SECRET-CAM", "run1", "lake:all", "2099")
SECRET_AT = (200.0, -30.0)  # the secret's footprint, far from every public one
SECRET_SKY = Coverage.from_region(Circle(*SECRET_AT, 0.2), 10)
OPEN_SCOPES = ("lake.read:/lofar",)  # a reader, but of another scope
CTAO_READER = {"subject": "ctao-reader", "scopes": ["lake.read:/ctao"]}
CTAO_GROUP = {"subject": "ctao-member", "groups": ["/ctao"], "scopes": []}
OUTSIDERS: dict[str, dict[str, Any] | None] = {
    "anonymous": None,
    "other-scope": {"subject": "lofar-reader", "scopes": list(OPEN_SCOPES)},
}


def _obscore(target: str, ra: float, dec: float, rights: str = "public", **more: Any) -> Any:
    return {
        "dataproduct_type": "image",
        "target_name": target,
        "instrument_name": "SECRET-CAM" if target == "HIDDEN-TARGET" else "CAM",
        "s_region": square(ra, dec, 0.5),
        "t_min": 60000.0,
        "t_max": 60000.5,
        "data_rights": rights,
        **more,
    }


class Lake:
    """The service over the probe lake, and a way to ask as anyone."""

    def __init__(self, http: httpx.AsyncClient, settings: Any) -> None:
        self.http = http
        self.settings = settings
        self.hidden_activity = ""

    def headers(self, who: dict[str, Any] | None) -> dict[str, str]:
        """No token for ``None``; an administrator's for ``{}``."""
        return {} if who is None else bearer(self.settings, **who)

    async def graphql(self, query: str, who: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = await self.http.post("/graphql", json={"query": query}, headers=self.headers(who))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    async def adql(self, query: str, who: dict[str, Any] | None = None) -> Any:
        answer = await self.http.post(
            "/tap/sync",
            data={"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query},
            headers=self.headers(who),
        )
        assert answer.status_code == 200, answer.text
        return parse_single_table(io.BytesIO(answer.content)).to_table()


async def build_probe_lake(catalogue: Any) -> None:
    """The lake every probe asks about (the module's docstring)."""
    await catalogue.add_rse(RSE("DISK", "root://disk.example.org//lake"))
    disk = [{"rse": "DISK"}]
    await register(
        catalogue,
        [
            file_record("pub", obscore=_obscore("M31", 10, 10), dataset="open", replicas=disk),
            file_record(
                "secret",
                scope="ctao",
                obscore=_obscore(
                    "HIDDEN-TARGET",
                    *SECRET_AT,
                    "proprietary",
                    obs_release_date="2099-01-01T00:00:00Z",
                ),
                dataset="run1",
                replicas=disk,
            ),
            file_record(
                "sibling-public", scope="ctao", obscore=_obscore("M33", 150, 0), dataset="run1"
            ),
            file_record(
                "secret-calibrated",
                scope="ctao",
                obscore=_obscore(
                    "HIDDEN-TARGET",
                    *SECRET_AT,
                    "secure",
                    obs_release_date="2099-01-01T00:00:00Z",
                ),
                dataset="run1",
            ),
            file_record(
                "visible",
                scope="ctao",
                obscore=_obscore("OPEN-TARGET", 100, 0),
                dataset="open-run",
                replicas=disk,
            ),
            file_record(
                "was-embargoed",
                scope="ctao",
                obscore=_obscore(
                    "RELEASED-TARGET",
                    120,
                    0,
                    "proprietary",
                    obs_release_date="2020-01-01T00:00:00Z",
                ),
                dataset="open-run",
            ),
        ],
    )
    await catalogue.add_collection(DIDKey("lake", "all"), DIDType.CONTAINER)
    await catalogue.attach(DIDKey("lake", "all"), [DIDKey("lake", "open"), DIDKey("ctao", "run1")])


@pytest.fixture
async def lake(engine, tmp_path, catalogue) -> AsyncIterator[Lake]:
    await build_probe_lake(catalogue)
    url = engine.url.render_as_string(hide_password=False)
    settings = local_settings(tmp_path, database_url=url, auth_groups=GROUPS)
    async with app_client(settings) as http:
        service = Lake(http, settings)
        hidden = await service.graphql(RECORD_HIDDEN, {})
        service.hidden_activity = hidden["recordActivity"]["activity"]["id"]
        recorded = await service.graphql(RECORD % service.hidden_activity, {})
        assert recorded["recordActivity"]["__typename"] == "RecordActivitySuccess"
        yield service


#: An activity that touched hidden entities only: its name and parameter tell of the secret.
RECORD_HIDDEN = """mutation { recordActivity(activity: {
  name: "calibrate HIDDEN-TARGET" type: "Calibration" startTime: "2025-12-12T05:00:00Z"
  agents: [{ name: "SECRET-CAM pipeline", type: SOFTWARE, role: "software" }]
  parameters: [{ name: "camera", value: "SECRET-CAM" }]
  generated: [{ did: "ctao:secret-calibrated", role: "calibrated" }]
}) { ... on RecordActivitySuccess { activity { id } } } }"""
#: A public activity, informed by the hidden one.
RECORD = """mutation { recordActivity(activity: {
  name: "reduce" type: "Reduction" startTime: "2025-12-12T06:00:00Z"
  used: [{ did: "lake:pub", role: "raw" }]
  generated: [{ did: "ctao:secret", role: "dl3" }, { did: "ctao:visible", role: "dl3" }]
  informedBy: ["%s"]
}) { __typename } }"""


def leaked(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


# --- GraphQL ------------------------------------------------------------------------------


PROBE = """{
  byName: did(scope: "ctao", name: "secret") { name }
  dataset: did(scope: "ctao", name: "run1") { name ... on Dataset { files { totalCount } } }
  container: did(scope: "lake", name: "all") { name }
  files: dids(filter: {types: [FILE]}, first: 100) { totalCount edges { node { scope name } } }
  collections: dids(filter: {types: [DATASET, CONTAINER]}) { totalCount edges { node { name } } }
  byTarget: dids(filter: {obscore: {target: ["HIDDEN-TARGET"]}}) { totalCount }
  sibling: did(scope: "ctao", name: "sibling-public") { name parents { name } }
  open: did(scope: "lake", name: "open") { name parents { name } }
  facets(fields: [TARGET, INSTRUMENT, SCOPE, DATAPRODUCT_TYPE, DATA_RIGHTS]) {
    field values { value count } }
  sky: coverage(maxOrder: 8) { moc }
  here: dids(filter: {region: {cone: {ra: 200, dec: -30, radius: 2}}}) { totalCount }
  search(text: "HIDDEN", facets: [INSTRUMENT, SCOPE]) {
    total hits { did { name } } facets { field values { value count } } }
  all: search(first: 100, facets: [SCOPE, TYPE, INSTRUMENT]) {
    total hits { did { name } } facets { field values { value count } } }
  pub: did(scope: "lake", name: "pub") {
    lineage(direction: DOWNSTREAM) { entities { entity { id } } }
  }
  visible: did(scope: "ctao", name: "visible") {
    lineage(direction: UPSTREAM, depth: 3) { activities { activity { name } } }
    generatedBy { name informedBy { name } }
  }
  byParentName: search(text: "run1") { total hits { did { name } } }
  byContainerName: dids(filter: {name: "al*"}) { totalCount }
}"""


def _probe(lake: Lake) -> str:
    activity = f'hidden: activity(id: "{lake.hidden_activity}") {{ name parameters {{ name }} }}'
    return PROBE[:-1] + activity + "\n}"


@pytest.mark.parametrize("outsider", sorted(OUTSIDERS))
async def test_graphql_reveals_nothing_of_an_embargoed_record(lake, outsider):
    answer = await lake.graphql(_probe(lake), OUTSIDERS[outsider])
    assert leaked(str(answer)) == []
    assert answer["byName"] is None
    assert answer["dataset"] is None
    assert answer["container"] is None
    names = {e["node"]["name"] for e in answer["files"]["edges"]}
    assert names == {"pub", "sibling-public", "visible", "was-embargoed"}
    assert answer["files"]["totalCount"] == 4
    assert answer["collections"]["totalCount"] == 2  # lake:open, ctao:open-run
    assert answer["byTarget"]["totalCount"] == 0
    assert answer["sibling"]["parents"] == []
    assert answer["open"]["parents"] == []
    counts = {f["field"]: {v["value"]: v["count"] for v in f["values"]} for f in answer["facets"]}
    assert counts["SCOPE"] == {"lake": 2, "ctao": 4}
    assert "cube" not in counts["DATAPRODUCT_TYPE"]
    assert not Coverage.from_string(answer["sky"]["moc"]).overlaps(SECRET_SKY)
    assert answer["here"]["totalCount"] == 0
    assert answer["search"]["total"] == 0
    assert answer["search"]["hits"] == []
    assert answer["all"]["total"] == 6
    lineage = {e["entity"]["id"] for e in answer["pub"]["lineage"]["entities"]}
    assert "ctao:visible" in lineage
    upstream = {a["activity"]["name"] for a in answer["visible"]["lineage"]["activities"]}
    assert upstream == {"reduce"}
    assert answer["visible"]["generatedBy"] == {"name": "reduce", "informedBy": []}
    assert answer["byParentName"]["total"] == 0
    assert answer["byContainerName"]["totalCount"] == 0


@pytest.mark.parametrize("reader", ["token-scope", "group"])
async def test_graphql_shows_the_embargoed_record_to_its_readers(lake, reader):
    answer = await lake.graphql(
        _probe(lake), CTAO_READER if reader == "token-scope" else CTAO_GROUP
    )
    assert answer["hidden"]["name"] == "calibrate HIDDEN-TARGET"
    assert answer["byName"] == {"name": "secret"}
    assert answer["dataset"]["name"] == "run1"
    assert answer["container"] == {"name": "all"}
    assert answer["files"]["totalCount"] == 6
    assert answer["dataset"]["files"]["totalCount"] == 3
    assert answer["byTarget"]["totalCount"] == 4  # with the collections that hold them
    assert answer["here"]["totalCount"] == 4  # the secrets, their dataset and its container
    assert "secret" in {h["did"]["name"] for h in answer["search"]["hits"]}
    assert Coverage.from_string(answer["sky"]["moc"]).overlaps(SECRET_SKY)
    lineage = {e["entity"]["id"] for e in answer["pub"]["lineage"]["entities"]}
    assert {"ctao:visible", "ctao:secret"} <= lineage
    upstream = {a["activity"]["name"] for a in answer["visible"]["lineage"]["activities"]}
    assert upstream == {"reduce", "calibrate HIDDEN-TARGET"}
    informants = answer["visible"]["generatedBy"]["informedBy"]
    assert informants == [{"name": "calibrate HIDDEN-TARGET"}]
    # an embargoed collection's name is in no member's text, whoever searches
    assert {h["did"]["name"] for h in answer["byParentName"]["hits"]} == {"run1"}


async def test_a_reader_of_the_container_scope_alone_does_not_see_a_container_of_secrets(lake):
    """lake:all is in scope lake, but its extent holds ctao's secret: ctao's readers only."""
    who = {"subject": "lake-reader", "scopes": ["lake.read:/lake"]}
    answer = await lake.graphql('{ did(scope: "lake", name: "all") { name } }', who)
    assert answer["did"] is None


async def test_registering_a_secret_again_into_a_new_dataset_keeps_the_dataset_hidden(
    lake, catalogue
):
    """The new dataset's extent comes from the stored file, not from the record sent."""
    again = file_record("secret", scope="ctao", dataset="again")  # no obscore this time
    await register(catalogue, [again])
    query = '{ did(scope: "ctao", name: "again") { name } }'
    assert await lake.graphql(query) == {"did": None}
    assert await lake.graphql(query, CTAO_READER) == {"did": {"name": "again"}}


async def test_creating_an_existing_hidden_collection_answers_without_its_extent(lake):
    """A lake writer asking to create lake:all gets no view of ctao's secrets in it."""
    answer = await lake.http.post(
        "/graphql",
        json={
            "query": 'mutation { createContainer(scope: "lake", name: "all") { __typename '
            "... on DIDSuccess { did { coverage { moc } } } } }"
        },
        headers=lake.headers({"subject": "lake-writer", "scopes": ["lake.write:/lake"]}),
    )
    body = answer.json()
    assert leaked(str(body.get("data"))) == []
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_cursor_of_one_caller_is_refused_to_another(lake):
    first = await lake.graphql("{ dids(first: 1) { pageInfo { endCursor } } }", CTAO_READER)
    cursor = first["dids"]["pageInfo"]["endCursor"]
    answer = await lake.http.post(
        "/graphql", json={"query": f'{{ dids(first: 1, after: "{cursor}") {{ totalCount }} }}'}
    )
    assert "errors" in answer.json()


async def test_release_happens_by_time_alone(lake, catalogue):
    soon = datetime.now(UTC) + timedelta(seconds=2)
    await register(
        catalogue,
        [
            file_record(
                "soon",
                scope="ctao",
                obscore=_obscore("SOON", 60, 0, "secure", obs_release_date=soon.isoformat()),
                dataset="soon-run",
            )
        ],
    )
    query = (
        '{ f: did(scope: "ctao", name: "soon") { name } '
        'd: did(scope: "ctao", name: "soon-run") { name } }'
    )
    assert await lake.graphql(query) == {"f": None, "d": None}
    rows = await lake.adql("SELECT lake_name FROM ivoa.obscore WHERE target_name = 'SOON'")
    assert len(rows) == 0
    await asyncio.sleep((soon - datetime.now(UTC)).total_seconds() + 1.5)
    assert await lake.graphql(query) == {"f": {"name": "soon"}, "d": {"name": "soon-run"}}
    rows = await lake.adql("SELECT lake_name FROM ivoa.obscore WHERE target_name = 'SOON'")
    assert list(rows["lake_name"]) == ["soon"]


# --- TAP ----------------------------------------------------------------------------------

ADQL_PROBES = {
    "every obscore row": "SELECT * FROM ivoa.obscore",
    "a count": "SELECT COUNT(*) AS n FROM ivoa.obscore",
    "aggregates": "SELECT MAX(obs_release_date) AS latest, MIN(s_dec) AS south, "
    "COUNT(DISTINCT target_name) AS targets FROM ivoa.obscore",
    "group by": "SELECT target_name, COUNT(*) AS n FROM ivoa.obscore GROUP BY target_name",
    "a join of files and replicas": "SELECT f.scope, f.name, r.url FROM lake.files AS f "
    "JOIN lake.replicas AS r ON r.did_id = f.did_id",
    "replicas by themselves": "SELECT * FROM lake.replicas",
    "replicas without a file": "SELECT COUNT(*) AS n FROM lake.replicas "
    "WHERE did_id NOT IN (SELECT did_id FROM lake.files)",
    "attachments": "SELECT * FROM lake.attachments",
    "attachments to unknown parents": "SELECT COUNT(*) AS n FROM lake.attachments AS a "
    "WHERE NOT EXISTS (SELECT 1 FROM lake.datasets AS d WHERE d.did_id = a.parent_id) "
    "AND NOT EXISTS (SELECT 1 FROM lake.containers AS c WHERE c.did_id = a.parent_id)",
    "a union": "SELECT name FROM lake.files UNION SELECT name FROM lake.datasets "
    "UNION SELECT name FROM lake.containers",
    "a subquery in the select list": "SELECT (SELECT COUNT(*) FROM lake.files) AS n FROM lake.rses",
    "an id scan": "SELECT MAX(did_id) - COUNT(*) AS gap FROM lake.files",
    "the secret's sky": "SELECT COUNT(*) AS n FROM ivoa.obscore WHERE "
    "CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 200, -30, 2)) = 1",
    "the secret's footprint": "SELECT COUNT(*) AS n FROM ivoa.obscore WHERE "
    "INTERSECTS(s_region, CIRCLE('ICRS', 200, -30, 2)) = 1",
    "provenance entities": "SELECT * FROM provenance.entity",
    "provenance generation": "SELECT e.name FROM provenance.wasgeneratedby AS g "
    "JOIN provenance.entity AS e ON e.id = g.entity_id",
    "provenance activities": "SELECT * FROM provenance.activity",
    "provenance parameters": "SELECT * FROM provenance.parameter",
    "provenance agents by activity": "SELECT g.name FROM provenance.wasassociatedwith AS w "
    "JOIN provenance.agent AS g ON g.id = w.agent_id",
    "provenance agents": "SELECT * FROM provenance.agent",
}


#: Probes whose answer is the same for every caller: no replica or attachment of a visible
#: row points at a row the caller cannot see.
INVARIANT_PROBES = {"replicas without a file", "attachments to unknown parents"}


@pytest.mark.parametrize("probe", sorted(ADQL_PROBES))
async def test_adql_cannot_reach_an_embargoed_row(lake, probe):
    def rows_of(table: Any) -> list[str]:
        return [" | ".join(str(value) for value in row) for row in table]

    reader = rows_of(await lake.adql(ADQL_PROBES[probe], CTAO_READER))
    for who in OUTSIDERS.values():
        outside = rows_of(await lake.adql(ADQL_PROBES[probe], who))
        assert leaked("\n".join(outside)) == [], (probe, who)
        if probe in INVARIANT_PROBES:
            assert outside == reader == ["0"], probe
        else:  # the query does reach the secret when its caller may see it
            assert outside != reader, (probe, who)


async def test_adql_counts_only_what_the_caller_may_see(lake):
    count = "SELECT COUNT(*) AS n FROM ivoa.obscore"
    sky = (
        "SELECT COUNT(*) AS n FROM ivoa.obscore WHERE "
        "INTERSECTS(s_region, CIRCLE('ICRS', 200, -30, 2)) = 1"
    )
    assert [r["n"] for r in await lake.adql(count)] == [4]
    assert [r["n"] for r in await lake.adql(count, CTAO_READER)] == [6]
    assert [r["n"] for r in await lake.adql(sky)] == [0]
    assert [r["n"] for r in await lake.adql(sky, CTAO_GROUP)] == [2]
    replicas = "SELECT COUNT(*) AS n FROM lake.replicas"
    assert [r["n"] for r in await lake.adql(replicas)] == [2]
    assert [r["n"] for r in await lake.adql(replicas, CTAO_READER)] == [3]


async def test_an_upload_joined_against_obscore_finds_no_embargoed_row(lake):
    votable = (
        '<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        '<RESOURCE><TABLE><FIELD name="wanted" datatype="char" arraysize="*"/><DATA><TABLEDATA>'
        "<TR><TD>secret</TD></TR><TR><TD>pub</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE>"
        "</VOTABLE>"
    )
    query = (
        "SELECT o.lake_name FROM TAP_UPLOAD.names AS u "
        "JOIN ivoa.obscore AS o ON o.lake_name = u.wanted"
    )
    found = {}
    for label, who in (("anonymous", None), ("reader", CTAO_READER)):
        answer = await lake.http.post(
            "/tap/sync",
            data={"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query, "UPLOAD": "names,param:t"},
            files={"t": ("t.xml", votable, "application/x-votable+xml")},
            headers=lake.headers(who),
        )
        assert answer.status_code == 200, answer.text
        found[label] = sorted(
            parse_single_table(io.BytesIO(answer.content)).to_table()["lake_name"]
        )
    assert found == {"anonymous": ["pub"], "reader": ["pub", "secret"]}


async def test_an_async_job_runs_with_its_owners_rights(lake):
    query = "SELECT lake_name FROM ivoa.obscore WHERE target_name = 'HIDDEN-TARGET'"
    found = {}
    for label, who in (("anonymous", None), ("reader", CTAO_READER)):
        created = await lake.http.post(
            "/tap/async",
            data={"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query, "PHASE": "RUN"},
            headers=lake.headers(who),
        )
        assert created.status_code == 303, created.text
        job = created.headers["location"]
        for _ in range(200):
            phase = (await lake.http.get(f"{job}/phase", headers=lake.headers(who))).text
            if phase in ("COMPLETED", "ERROR"):
                break
            await asyncio.sleep(0.05)
        assert phase == "COMPLETED"
        result = await lake.http.get(f"{job}/results/result", headers=lake.headers(who))
        found[label] = list(parse_single_table(io.BytesIO(result.content)).to_table()["lake_name"])
    assert found == {"anonymous": [], "reader": ["secret", "secret-calibrated"]}


# --- DataLink, PROV, HiPS -----------------------------------------------------------------


async def test_datalink_answers_an_embargoed_id_as_an_unknown_one(lake):
    async def links(identifier: str, who: Any = None) -> str:
        answer = await lake.http.get(
            "/datalink/links", params={"ID": identifier}, headers=lake.headers(who)
        )
        assert answer.status_code == 200
        return answer.text.replace(identifier, "ID")

    assert await links("ctao:secret") == await links("ctao:never-registered")
    assert "disk.example.org" in await links("ctao:secret", CTAO_READER)
    # the public input's provenance links name no embargoed derivative
    assert leaked(await links("lake:pub")) == []


async def test_prov_export_answers_an_embargoed_id_as_an_unknown_one(lake):
    async def export(identifier: str, who: Any = None) -> httpx.Response:
        return await lake.http.get(
            "/prov", params={"ID": identifier, "DIRECTION": "FORTH"}, headers=lake.headers(who)
        )

    hidden, unknown = await export("ctao:secret"), await export("ctao:never-registered")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.text.replace("secret", "X") == unknown.text.replace("never-registered", "X")
    assert (await export("ctao:secret", CTAO_READER)).status_code == 200
    public = await export("lake:pub")
    assert public.status_code == 200
    assert leaked(public.text) == []


async def test_hips_publication_shows_the_public_lake_only(lake):
    moc = await lake.http.get("/hips/lake/Moc.fits", headers=lake.headers(CTAO_READER))
    published = Coverage.from_fits(moc.content)
    assert not published.overlaps(SECRET_SKY)
    assert published.overlaps(Coverage.from_region(Circle(10, 10, 0.2), 10))
    properties = (await lake.http.get("/hips/lake/properties")).text
    assert leaked(properties) == []


def test_probe_markers_are_in_the_secret_only():
    """The markers would find the secret if it leaked, and nothing public carries them."""
    public = str([_obscore(t, 0, 0) for t in ("M31", "M33", "OPEN-TARGET", "RELEASED-TARGET")])
    assert leaked(public) == []
    assert leaked(str(_obscore("HIDDEN-TARGET", 0, 0))) == ["HIDDEN-TARGET", "SECRET-CAM"]
    assert SECRET_SKY.sky_fraction > 0


async def test_migration_0008_backfills_the_embargoes_of_a_lake_it_finds(lake, engine):
    """Upgrading a lake that predates embargoes hides exactly what registering it now would."""

    async def embargoes() -> dict[str, tuple[Any, Any]]:
        d = t.did.c
        async with engine.connect() as connection:
            rows = await connection.execute(select(d.name, d.embargo_until, d.embargo_scope))
            return {r.name: (r.embargo_until, r.embargo_scope) for r in rows}

    before = await embargoes()
    assert before["secret"][1] == before["run1"][1] == before["all"][1] == "ctao"
    await downgrade(engine, "0007")
    try:
        await migrate(engine)
    finally:
        await migrate(engine)  # never leave the shared database behind
    assert await embargoes() == before
    assert (await lake.graphql('{ did(scope: "lake", name: "all") { name } }')) == {"did": None}
