"""Lineage walks in the store: cycles, caps, asserted relations, and what callers may not see."""

from __future__ import annotations

from catalogue.authorization import PUBLIC
from catalogue.provenance import (
    ActivitySpec,
    AgentSpec,
    AgentType,
    Derivation,
    Direction,
    EntityRef,
    Output,
)
from tests.provenance.conftest import chain, key, new_files, step, uses
from tests.support.records import file_record, register


async def _lineage(catalogue, name, direction=Direction.UPSTREAM, depth=10, limit=1000):
    return await catalogue.provenance.lineage(PUBLIC, key(name), direction, depth, limit)


def _keys(lineage):
    return {e.key for e in lineage.entities.values()}


async def test_a_cycle_in_recorded_provenance_ends_the_walk(catalogue):
    await register(catalogue, [file_record("x.fits", scope="cta")])
    await step(catalogue, "a", uses("cta:x.fits"), ["y.fits"])
    # b generates x, which a used: the graph now has the cycle x -> a -> y -> b -> x
    await step(catalogue, "b", uses("cta:y.fits"), [], generated=["cta:x.fits"])
    for direction in Direction:
        lineage = await _lineage(catalogue, "cta:y.fits", direction, depth=100)
        assert _keys(lineage) == {"cta:x.fits", "cta:y.fits"}
        assert {a.name for a in lineage.activities.values()} == {"a", "b"}
        assert lineage.truncated is False


async def test_levels_count_processing_steps(catalogue):
    await chain(catalogue)
    lineage = await _lineage(catalogue, "cta:dl3_2.fits")
    levels = {lineage.entities[i].key: level for i, level in lineage.entity_levels.items()}
    assert levels == {
        "cta:dl3_2.fits": 0,
        "cta:dl2_2.h5": 1,
        "cta:dl1_2.h5": 2,
        "cta:raw_2.fits.fz": 3,
        "cta:calib_2025.h5": 3,
    }
    assert lineage.reached == 3
    shallow = await _lineage(catalogue, "cta:dl3_2.fits", depth=2)
    assert (shallow.reached, shallow.truncated) == (2, True)


async def test_a_dids_without_provenance_is_its_own_lineage(catalogue):
    await register(catalogue, [file_record("lonely.fits", scope="cta")])
    lineage = await _lineage(catalogue, "cta:lonely.fits")
    assert _keys(lineage) == {"cta:lonely.fits"}
    assert (lineage.activities, lineage.truncated) == ({}, False)
    assert await _lineage(catalogue, "cta:nowhere.fits") is None


async def test_asserted_derivations_and_informants_are_walked(catalogue):
    ids = await chain(catalogue)
    spec = ActivitySpec(
        name="stack",
        used=uses("cta:dl3_1.fits", "cta:dl3_2.fits"),
        new_file_roles=["stack"],
        derivations=[
            Derivation(key("cta:stack.fits"), EntityRef(uri="https://doi.org/10.5281/zenodo.1"))
        ],
        informed_by=[ids["dl3_1"]],
        attributed_to=[AgentSpec("CTAO", AgentType.ORGANIZATION, role="Publisher")],
    )
    recorded = await catalogue.record_activity(spec, new_files("stack.fits"))
    assert recorded.problems == []
    lineage = await _lineage(catalogue, "cta:stack.fits", depth=1)
    assert "https://doi.org/10.5281/zenodo.1" in _keys(lineage)
    assert [
        (lineage.entities[e.source].key, lineage.entities[e.target].key) for e in lineage.derived
    ] == [("cta:stack.fits", "https://doi.org/10.5281/zenodo.1")]
    assert {a.name for a in lineage.activities.values()} == {"stack"}
    deeper = await _lineage(catalogue, "cta:stack.fits", depth=2)
    assert [(e.source, e.target) for e in deeper.informed] == [(recorded.activity.id, ids["dl3_1"])]
    assert {g.name for g in deeper.agents.values()} == {"ctapipe", "CTAO"}
    assert len(deeper.attributed) == 1


async def test_a_derivation_must_name_an_output(catalogue):
    await chain(catalogue)
    spec = ActivitySpec(
        name="oops",
        used=uses("cta:dl3_1.fits"),
        generated=[Output(key("cta:raw_1.fits.fz"))],
        derivations=[Derivation(key("cta:dl3_2.fits"), EntityRef(did=key("cta:dl3_1.fits")))],
        informed_by=[999],
    )
    recorded = await catalogue.record_activity(spec)
    assert [w for w, _ in recorded.problems] == ["derivations[0].generated", "informedBy[0]"]
    assert recorded.activity is None
    assert await _lineage(catalogue, "cta:raw_1.fits.fz") is not None
    assert (await _lineage(catalogue, "cta:raw_1.fits.fz")).activities == {}


# -- visibility: a deleted DID does not appear, is not walked through, is not counted ------


async def test_a_deleted_input_leaves_every_view_of_the_lineage(catalogue):
    await chain(catalogue)
    await catalogue.delete(key("cta:calib_2025.h5"))
    up = await _lineage(catalogue, "cta:dl3_1.fits")
    assert "cta:calib_2025.h5" not in _keys(up)
    assert _keys(up) == {"cta:dl3_1.fits", "cta:dl2_1.h5", "cta:dl1_1.h5", "cta:raw_1.fits.fz"}
    assert all(e.target in up.entities for e in up.used)
    dl1 = (await catalogue.reads.dids_by_key([key("cta:dl1_1.h5")], PUBLIC))[key("cta:dl1_1.h5")]
    derived = await catalogue.provenance.neighbours(PUBLIC, [dl1.id], Direction.UPSTREAM)
    assert [e.key for e in derived[dl1.id]] == ["cta:raw_1.fits.fz"]
    activity = next(a for a in up.activities.values() if a.name == "dl1_1")
    used = await catalogue.provenance.usages(PUBLIC, [activity.id])
    assert [(e.key, edge.role) for e, edge in used[activity.id]] == [("cta:raw_1.fits.fz", "raw")]
    assert await _lineage(catalogue, "cta:calib_2025.h5", Direction.DOWNSTREAM) is None


async def test_a_deleted_intermediate_is_not_walked_through(catalogue):
    await chain(catalogue)
    await catalogue.delete(key("cta:dl1_1.h5"))
    down = await _lineage(catalogue, "cta:raw_1.fits.fz", Direction.DOWNSTREAM)
    assert _keys(down) == {"cta:raw_1.fits.fz"}
    assert {a.name for a in down.activities.values()} == {"dl1_1"}
    assert down.generated == []
    assert down.truncated is False  # nothing visible lies beyond


async def test_an_activity_shows_only_its_visible_outputs(catalogue):
    await register(catalogue, [file_record("in.fits", scope="cta")])
    recorded = await step(catalogue, "split", uses("cta:in.fits"), ["a.fits", "b.fits"])
    await catalogue.delete(key("cta:b.fits"))
    made = await catalogue.provenance.generations(PUBLIC, [recorded.activity.id])
    assert [e.key for e, _ in made[recorded.activity.id]] == ["cta:a.fits"]
    down = await _lineage(catalogue, "cta:in.fits", Direction.DOWNSTREAM)
    assert _keys(down) == {"cta:in.fits", "cta:a.fits"}
