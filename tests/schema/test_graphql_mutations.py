"""The Mutation root over HTTP: RSEs, files, the DID graph, metadata and replicas.

Expected refusals are members of each result union, selected by ``__typename``.
"""

import pytest

from tests.support.graphql import gql

BIG = 5_000_000_000  # beyond 2**31
DISK = {"name": "DISK", "baseUrl": "https://disk.example.org:443/lake"}

REGISTER_RSE = """mutation($input: RSEInput!) { registerRse(input: $input) {
  __typename
  ... on RSE { name baseUrl qosClass deterministic readOnly }
  ... on ConflictError { message }
  ... on InvalidInputError { message field }
} }"""

REGISTER = """mutation($files: [FileInput!]!, $dataset: String) {
  registerFiles(files: $files, dataset: $dataset) {
    ok registered unchanged failed items { index did status message } } }"""

COUNT = "{ dids(first: 0) { totalCount } }"

PROBLEMS = """
  ... on NotFoundError { message }
  ... on ConflictError { message }
  ... on AttachmentError { message }
  ... on InvalidInputError { message field }
"""


def file_input(name, size=1000, **extra):
    return {"scope": "lake", "name": name, "bytes": size, "adler32": "0000abcd", **extra}


async def add_disk(client):
    body = await gql(client, REGISTER_RSE, {"input": DISK})
    assert body["data"]["registerRse"]["__typename"] == "RSE"


async def register(client, files, dataset=None):
    return (await gql(client, REGISTER, {"files": files, "dataset": dataset}))["data"][
        "registerFiles"
    ]


async def mutate(client, text, variables=None):
    """Run a mutation that must not raise top-level errors; return its data."""
    body = await gql(client, text, variables)
    assert "errors" not in body, body
    return body["data"]


# -- registerRse ----------------------------------------------------------------------------


async def test_register_rse_returns_the_rse(client):
    body = await gql(client, REGISTER_RSE, {"input": {**DISK, "qosClass": "FAST"}})
    assert body == {
        "data": {
            "registerRse": {
                "__typename": "RSE",
                "name": "DISK",
                "baseUrl": "https://disk.example.org:443/lake",
                "qosClass": "FAST",
                "deterministic": True,
                "readOnly": False,
            }
        }
    }


async def test_register_rse_again_with_the_same_settings_returns_it(client):
    first = await gql(client, REGISTER_RSE, {"input": DISK})
    again = await gql(client, REGISTER_RSE, {"input": DISK})
    assert again == first
    assert again["data"]["registerRse"]["__typename"] == "RSE"


async def test_register_rse_again_with_other_settings_is_a_conflict(client):
    await add_disk(client)
    body = await gql(client, REGISTER_RSE, {"input": {**DISK, "readOnly": True}})
    assert body == {
        "data": {
            "registerRse": {
                "__typename": "ConflictError",
                "message": "RSE 'DISK' is already registered with other settings",
            }
        }
    }


async def test_register_rse_with_a_base_url_without_scheme_is_invalid_input(client):
    body = await gql(client, REGISTER_RSE, {"input": {"name": "X", "baseUrl": "disk/lake"}})
    assert body["data"]["registerRse"] == {
        "__typename": "InvalidInputError",
        "message": "RSE base URL 'disk/lake' must look like scheme://host:port/prefix",
        "field": None,
    }


# -- registerFiles --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (file_input("b.fits", adler32="zz"), "adler32 'zz' must be 8 hexadecimal digits"),
        (
            file_input("b.fits", replicas=[{"rse": "NOPE"}]),
            "RSE 'NOPE' is not registered; add it first with `lakecat rse add NOPE BASE_URL`",
        ),
        (
            file_input("b.fits", obscore={"calib_level": 9}),
            "calib_level 9 is not one of [0, 1, 2, 3, 4]",
        ),
        (
            file_input("b.fits", obscore={"s_region": "Circle ICRS 10 10"}),
            "s_region: ",
        ),
    ],
    ids=["checksum", "rse", "obscore", "region"],
)
async def test_register_files_with_one_bad_file_writes_nothing_and_names_the_problem(
    client, bad, message
):
    await add_disk(client)
    good = [file_input("a.fits", replicas=[{"rse": "DISK"}]), file_input("c.fits")]
    result = await register(client, [good[0], bad, good[1]])
    failed = result["items"][1]
    assert failed["message"].startswith(message)
    assert result == {
        "ok": False,
        "registered": 0,
        "unchanged": 0,
        "failed": 1,
        "items": [
            {
                "index": 0,
                "did": "lake:a.fits",
                "status": "NOT_WRITTEN",
                "message": "another file failed; nothing written",
            },
            {"index": 1, "did": "lake:b.fits", "status": "FAILED", "message": failed["message"]},
            {
                "index": 2,
                "did": "lake:c.fits",
                "status": "NOT_WRITTEN",
                "message": "another file failed; nothing written",
            },
        ],
    }
    assert await gql(client, COUNT) == {"data": {"dids": {"totalCount": 0}}}


async def test_register_files_reports_every_bad_file(client):
    result = await register(
        client, [file_input("a.fits", adler32="zz"), file_input("b.fits", bytes=-1)]
    )
    assert [(i["status"], i["message"]) for i in result["items"]] == [
        ("FAILED", "adler32 'zz' must be 8 hexadecimal digits"),
        ("FAILED", "bytes must be a non-negative integer, got -1"),
    ]
    assert (result["ok"], result["failed"]) == (False, 2)


async def test_register_files_registers_a_good_batch(client):
    await add_disk(client)
    result = await register(
        client, [file_input("a.fits", replicas=[{"rse": "DISK"}]), file_input("b.fits")]
    )
    assert result == {
        "ok": True,
        "registered": 2,
        "unchanged": 0,
        "failed": 0,
        "items": [
            {"index": 0, "did": "lake:a.fits", "status": "REGISTERED", "message": None},
            {"index": 1, "did": "lake:b.fits", "status": "REGISTERED", "message": None},
        ],
    }


async def test_register_files_again_finds_them_unchanged(client):
    files = [file_input("a.fits"), file_input("b.fits")]
    await register(client, files)
    result = await register(client, files)
    assert result == {
        "ok": True,
        "registered": 0,
        "unchanged": 2,
        "failed": 0,
        "items": [
            {"index": 0, "did": "lake:a.fits", "status": "UNCHANGED", "message": None},
            {"index": 1, "did": "lake:b.fits", "status": "UNCHANGED", "message": None},
        ],
    }


async def test_register_files_with_another_checksum_is_a_conflict(client):
    await register(client, [file_input("a.fits")])
    result = await register(client, [file_input("a.fits", adler32="00000001")])
    item = result["items"][0]
    assert (result["ok"], item["status"]) == (False, "FAILED")
    assert "adler32" in item["message"]


async def test_register_files_into_a_dataset_creates_and_fills_it(client):
    await register(client, [file_input("a.fits", size=BIG), file_input("b.fits", size=5)], "night")
    body = await gql(
        client,
        """{ did(scope: "lake", name: "night") { __typename ... on Dataset {
             bytes length files { edges { node { id } } } } } }""",
    )
    assert body["data"]["did"] == {
        "__typename": "Dataset",
        "bytes": BIG + 5,
        "length": 2,
        "files": {"edges": [{"node": {"id": "lake:a.fits"}}, {"node": {"id": "lake:b.fits"}}]},
    }


async def test_register_files_keeps_sizes_beyond_32_bits(client):
    await register(client, [file_input("big.fits", size=BIG)])
    body = await gql(client, '{ did(scope: "lake", name: "big.fits") { ... on File { bytes } } }')
    assert body == {"data": {"did": {"bytes": BIG}}}


async def test_register_files_with_a_size_as_a_literal_beyond_32_bits(client):
    body = await gql(
        client,
        """mutation { registerFiles(files: [{scope: "lake", name: "big.fits",
             bytes: 5000000000, adler32: "0000abcd"}]) { ok registered } }""",
    )
    assert body == {"data": {"registerFiles": {"ok": True, "registered": 1}}}


# -- collections and the DID graph ------------------------------------------------------------

CREATE = f"""mutation($scope: String!, $name: String!) {{
  dataset: createDataset(scope: $scope, name: $name) {{
    __typename ... on DIDSuccess {{ did {{ __typename id ... on Dataset {{ isOpen length }} }} }}
    {PROBLEMS}
  }}
}}"""

CREATE_CONTAINER = f"""mutation($scope: String!, $name: String!) {{
  container: createContainer(scope: $scope, name: $name) {{
    __typename ... on DIDSuccess {{ did {{ __typename id }} }} {PROBLEMS}
  }}
}}"""

ATTACH = f"""mutation($parent: String!, $children: [String!]!) {{
  attach(parent: $parent, children: $children) {{
    __typename ... on AttachSuccess {{ changed parent {{ id ... on Collection {{ length }} }} }}
    {PROBLEMS}
  }}
}}"""

DETACH = ATTACH.replace("attach(", "detach(")


async def test_create_dataset_returns_an_open_empty_dataset(client):
    data = await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    assert data == {
        "dataset": {
            "__typename": "DIDSuccess",
            "did": {"__typename": "Dataset", "id": "lake:night", "isOpen": True, "length": 0},
        }
    }


async def test_create_dataset_twice_returns_the_same_dataset(client):
    first = await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    second = await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    assert second == first


async def test_create_container_twice_returns_the_same_container(client):
    first = await mutate(client, CREATE_CONTAINER, {"scope": "lake", "name": "box"})
    second = await mutate(client, CREATE_CONTAINER, {"scope": "lake", "name": "box"})
    assert (
        second
        == first
        == {
            "container": {
                "__typename": "DIDSuccess",
                "did": {"__typename": "Container", "id": "lake:box"},
            }
        }
    )


async def test_create_container_with_a_dataset_name_is_a_conflict(client):
    await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    data = await mutate(client, CREATE_CONTAINER, {"scope": "lake", "name": "night"})
    assert data == {
        "container": {
            "__typename": "ConflictError",
            "message": "lake:night is already registered as a DATASET",
        }
    }


async def test_create_dataset_with_a_bad_scope_is_invalid_input(client):
    data = await mutate(client, CREATE, {"scope": "no scope", "name": "night"})
    assert data["dataset"]["__typename"] == "InvalidInputError"
    assert data["dataset"]["message"].startswith("scope 'no scope' must be")


async def test_attach_counts_new_members_once(client):
    await mutate(client, CREATE_CONTAINER, {"scope": "lake", "name": "box"})
    await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    variables = {"parent": "lake:box", "children": ["lake:night"]}
    first = await mutate(client, ATTACH, variables)
    again = await mutate(client, ATTACH, variables)
    assert first == {
        "attach": {
            "__typename": "AttachSuccess",
            "changed": 1,
            "parent": {"id": "lake:box", "length": 1},
        }
    }
    assert again == {
        "attach": {
            "__typename": "AttachSuccess",
            "changed": 0,
            "parent": {"id": "lake:box", "length": 1},
        }
    }


async def test_detach_removes_the_member(client):
    await mutate(client, CREATE_CONTAINER, {"scope": "lake", "name": "box"})
    await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    variables = {"parent": "lake:box", "children": ["lake:night"]}
    await mutate(client, ATTACH, variables)
    data = await mutate(client, DETACH, variables)
    assert data == {
        "detach": {
            "__typename": "AttachSuccess",
            "changed": 1,
            "parent": {"id": "lake:box", "length": 0},
        }
    }


async def test_attach_making_a_cycle_is_an_attachment_error(client):
    for name in ("top", "middle"):
        await mutate(client, CREATE_CONTAINER, {"scope": "lake", "name": name})
    await mutate(client, ATTACH, {"parent": "lake:top", "children": ["lake:middle"]})
    data = await mutate(client, ATTACH, {"parent": "lake:middle", "children": ["lake:top"]})
    assert data == {
        "attach": {
            "__typename": "AttachmentError",
            "message": "attaching lake:top would make a cycle",
        }
    }


async def test_attach_a_missing_child_is_not_found(client):
    await mutate(client, CREATE_CONTAINER, {"scope": "lake", "name": "box"})
    data = await mutate(client, ATTACH, {"parent": "lake:box", "children": ["lake:nothing"]})
    assert data == {
        "attach": {"__typename": "NotFoundError", "message": "DID lake:nothing does not exist"}
    }


async def test_attach_a_child_written_without_scope_is_invalid_input(client):
    await mutate(client, CREATE_CONTAINER, {"scope": "lake", "name": "box"})
    data = await mutate(client, ATTACH, {"parent": "lake:box", "children": ["night"]})
    assert data == {
        "attach": {
            "__typename": "InvalidInputError",
            "message": "children[0]: DID 'night' must be written scope:name",
            "field": None,
        }
    }


async def test_attach_to_a_closed_dataset_is_an_attachment_error(client):
    await register(client, [file_input("a.fits")])
    await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    closed = await mutate(
        client,
        'mutation { closeDataset(did: "lake:night") { __typename '
        "... on DIDSuccess { did { ... on Dataset { isOpen } } } } }",
    )
    data = await mutate(client, ATTACH, {"parent": "lake:night", "children": ["lake:a.fits"]})
    assert closed == {"closeDataset": {"__typename": "DIDSuccess", "did": {"isOpen": False}}}
    assert data == {
        "attach": {
            "__typename": "AttachmentError",
            "message": "lake:night is closed; it takes no new content",
        }
    }


# -- metadata -------------------------------------------------------------------------------

SET_METADATA = """mutation($did: String!, $entries: [MetadataInput!]!, $mode: MetadataMode!) {
  setMetadata(did: $did, entries: $entries, mode: $mode) {
    __typename ... on DIDSuccess { did { metadata { key value type } } }
    ... on NotFoundError { message } ... on InvalidInputError { message } } }"""

TYPED = [
    {"key": "run", "value": 5},
    {"key": "seeing", "value": 0.7},
    {"key": "calibrated", "value": False},
    {"key": "observed", "value": "2024-05-01T10:00:00Z"},
    {"key": "filters", "value": ["g", "r"]},
    {"key": "observer", "value": "bob"},
]


async def set_metadata(client, entries, mode="MERGE", did="lake:night"):
    variables = {"did": did, "entries": entries, "mode": mode}
    return (await mutate(client, SET_METADATA, variables))["setMetadata"]


async def test_set_metadata_stores_typed_values(client):
    await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    result = await set_metadata(client, TYPED)
    assert result == {
        "__typename": "DIDSuccess",
        "did": {
            "metadata": [
                {"key": "calibrated", "value": False, "type": "boolean"},
                {"key": "filters", "value": ["g", "r"], "type": "list"},
                {"key": "observed", "value": "2024-05-01T10:00:00+00:00", "type": "datetime"},
                {"key": "observer", "value": "bob", "type": "string"},
                {"key": "run", "value": 5, "type": "integer"},
                {"key": "seeing", "value": 0.7, "type": "float"},
            ]
        },
    }


async def test_set_metadata_merge_keeps_the_other_keys(client):
    await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    await set_metadata(client, [{"key": "run", "value": 5}, {"key": "observer", "value": "bob"}])
    result = await set_metadata(client, [{"key": "run", "value": 6}])
    assert result["did"]["metadata"] == [
        {"key": "observer", "value": "bob", "type": "string"},
        {"key": "run", "value": 6, "type": "integer"},
    ]


async def test_set_metadata_replace_drops_the_other_keys(client):
    await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    await set_metadata(client, [{"key": "run", "value": 5}, {"key": "observer", "value": "bob"}])
    result = await set_metadata(client, [{"key": "run", "value": 6.5}], mode="REPLACE")
    assert result["did"]["metadata"] == [{"key": "run", "value": 6.5, "type": "float"}]


async def test_set_metadata_of_a_missing_did_is_not_found(client):
    result = await set_metadata(client, [{"key": "run", "value": 5}], did="lake:nothing")
    assert result == {"__typename": "NotFoundError", "message": "DID lake:nothing does not exist"}


async def test_set_metadata_with_an_object_value_is_invalid_input(client):
    await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    result = await set_metadata(client, [{"key": "nested", "value": {"a": 1}}])
    assert result == {
        "__typename": "InvalidInputError",
        "message": "metadata 'nested': dict values are not supported",
    }


async def test_later_mutations_of_one_request_see_the_earlier_writes(client):
    await mutate(client, CREATE, {"scope": "lake", "name": "night"})
    data = await mutate(
        client,
        """mutation {
          first: setMetadata(did: "lake:night", entries: [{key: "run", value: 1}]) {
            ... on DIDSuccess { did { metadata { key value } } } }
          second: setMetadata(did: "lake:night", entries: [{key: "run", value: 2}]) {
            ... on DIDSuccess { did { metadata { key value } } } }
        }""",
    )
    assert data == {
        "first": {"did": {"metadata": [{"key": "run", "value": 1}]}},
        "second": {"did": {"metadata": [{"key": "run", "value": 2}]}},
    }


# -- replicas -------------------------------------------------------------------------------

ADD_REPLICAS = f"""mutation($did: String!, $replicas: [ReplicaInput!]!) {{
  addReplicas(did: $did, replicas: $replicas) {{
    __typename
    ... on ReplicasSuccess {{ added file {{ ... on File {{ replicas {{ rse url state }} }} }} }}
    {PROBLEMS}
  }}
}}"""


async def add_replicas(client, replicas, did="lake:a.fits"):
    variables = {"did": did, "replicas": replicas}
    return (await mutate(client, ADD_REPLICAS, variables))["addReplicas"]


async def test_add_replicas_adds_a_copy_at_the_path_under_the_rse(client):
    await add_disk(client)
    await register(client, [file_input("a.fits")])
    result = await add_replicas(client, [{"rse": "DISK", "path": "n1/a.fits"}])
    assert result == {
        "__typename": "ReplicasSuccess",
        "added": 1,
        "file": {
            "replicas": [
                {
                    "rse": "DISK",
                    "url": "https://disk.example.org:443/lake/n1/a.fits",
                    "state": "AVAILABLE",
                }
            ]
        },
    }


async def test_add_the_same_replica_again_adds_nothing(client):
    await add_disk(client)
    await register(client, [file_input("a.fits")])
    await add_replicas(client, [{"rse": "DISK", "path": "n1/a.fits"}])
    result = await add_replicas(client, [{"rse": "DISK", "path": "n1/a.fits"}])
    assert (result["__typename"], result["added"]) == ("ReplicasSuccess", 0)
    assert len(result["file"]["replicas"]) == 1


async def test_add_a_replica_at_another_url_on_the_same_rse_is_a_conflict(client):
    await add_disk(client)
    await register(client, [file_input("a.fits")])
    await add_replicas(client, [{"rse": "DISK", "path": "n1/a.fits"}])
    result = await add_replicas(client, [{"rse": "DISK", "path": "n2/a.fits"}])
    assert result == {
        "__typename": "ConflictError",
        "message": "lake:a.fits already has a replica on DISK at "
        "https://disk.example.org:443/lake/n1/a.fits",
    }


async def test_add_a_replica_on_an_unknown_rse_is_not_found(client):
    await register(client, [file_input("a.fits")])
    result = await add_replicas(client, [{"rse": "NOPE"}])
    assert result == {
        "__typename": "NotFoundError",
        "message": "RSE 'NOPE' is not registered; "
        "add it first with `lakecat rse add NOPE BASE_URL`",
    }


async def test_set_replica_state_changes_the_state(client):
    await add_disk(client)
    await register(client, [file_input("a.fits", replicas=[{"rse": "DISK"}])])
    data = await mutate(
        client,
        """mutation { setReplicaState(did: "lake:a.fits", rse: "DISK", state: BAD) {
             __typename
             ... on ReplicasSuccess { file { ... on File { replicas { rse state } } } } } }""",
    )
    assert data == {
        "setReplicaState": {
            "__typename": "ReplicasSuccess",
            "file": {"replicas": [{"rse": "DISK", "state": "BAD"}]},
        }
    }


async def test_set_replica_state_where_there_is_no_replica_is_not_found(client):
    await add_disk(client)
    await register(client, [file_input("a.fits")])
    data = await mutate(
        client,
        """mutation { setReplicaState(did: "lake:a.fits", rse: "DISK", state: BAD) {
             __typename ... on NotFoundError { message } } }""",
    )
    assert data == {
        "setReplicaState": {
            "__typename": "NotFoundError",
            "message": "lake:a.fits has no replica on DISK",
        }
    }
