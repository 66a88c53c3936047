"""The lake every Rucio test starts from, built with the rucio client, and reading it back."""

from __future__ import annotations

from typing import Any

from tests.bridges.rucio.conftest import HTTPS, LOCAL, RucioServer

REGION = "CIRCLE ICRS 10.5 -3.25 0.1"


def checksum(i: int) -> tuple[str, str]:
    """adler32 (with leading zeros, which Rucio may strip) and md5 of file number i."""
    return f"00{i:02x}beef", f"{i:032x}"


def file(scope: str, name: str, i: int, pfn: str | None = None) -> dict[str, Any]:
    adler32, md5 = checksum(i)
    entry = {"scope": scope, "name": name, "bytes": 1000 + i, "adler32": adler32, "md5": md5}
    if pfn:
        entry["pfn"] = pfn
    return entry


def https_pfn(scope: str, name: str) -> str:
    return f"https://store.example.org:443/lake/{scope}/{name}"


def populate(rucio: RucioServer, scope: str, user: str) -> None:
    """Two scopes; six files with replicas on both RSEs; two datasets (one closed, one
    holding a file of the other scope); a container; JSON and DID-column metadata."""
    local = [file(scope, f"f{i}.fits", i) for i in (1, 2, 3)] + [file(user, "u5.fits", 5)]
    https = [
        file(scope, n, i, https_pfn(scope, n))
        for i, n in ((1, "f1.fits"), (2, "f2.fits"), (4, "f4.fits"))
    ]
    rucio.calls(
        ("add_scope", ["root", scope], {}),
        ("add_scope", ["root", user], {}),
        ("add_replicas", [LOCAL, local], {}),
        ("add_replicas", [HTTPS, https], {}),
        ("add_replicas", [LOCAL, [file(scope, "lone.fits", 6)]], {}),
        ("add_dataset", [scope, "ds_a"], {}),
        (
            "attach_dids",
            [scope, "ds_a", [{"scope": scope, "name": f"f{i}.fits"} for i in (1, 2, 3)]],
            {},
        ),
        ("add_dataset", [scope, "ds_b"], {}),
        (
            "attach_dids",
            [
                scope,
                "ds_b",
                [{"scope": scope, "name": "f4.fits"}, {"scope": user, "name": "u5.fits"}],
            ],
            {},
        ),
        ("close", [scope, "ds_b"], {}),
        ("add_container", [scope, "c1"], {}),
        (
            "attach_dids",
            [scope, "c1", [{"scope": scope, "name": "ds_a"}, {"scope": scope, "name": "ds_b"}]],
            {},
        ),
        (
            "set_metadata_bulk",
            [
                scope,
                "f1.fits",
                {
                    "obs_collection": "LOTSS",
                    "s_ra": 10.5,
                    "s_dec": -3.25,
                    "s_region": REGION,
                    "t_min": 59000.5,
                    "dataproduct_type": "image",
                    "calib_level": 2,
                    "tags": ["deep", "north"],
                    "pointing": {"id": 7, "mode": "drift"},
                },
            ],
            {},
        ),
        ("set_metadata_bulk", [scope, "f2.fits", {"obs_collection": "LOTSS", "seeing": 1.25}], {}),
        ("set_metadata", [scope, "f2.fits", "run_number", 42], {}),
        ("set_metadata", [scope, "ds_a", "project", "lofar"], {}),
        ("set_metadata_bulk", [scope, "ds_a", {"release": "dr2"}], {}),
        ("set_metadata_bulk", [user, "u5.fits", {"owner": "alice"}], {}),
    )


def snapshot(rucio: RucioServer, scopes: list[str]) -> dict[str, Any]:
    """Everything Rucio says about the scopes, read with its own client."""
    listed = rucio.calls(
        *[("list_dids", [s, {}], {"did_type": "all", "long": True}) for s in scopes]
    )
    dids = [(d["scope"], d["name"], d["did_type"]) for found in listed for d in found]
    calls: list[Any] = []
    for scope, name, did_type in dids:
        calls += [
            ("get_did", [scope, name], {}),
            ("get_metadata", [scope, name], {"plugin": "JSON"}),
            ("get_metadata", [scope, name], {"plugin": "DID_COLUMN"}),
        ]
        if did_type != "FILE":
            calls.append(("list_content", [scope, name], {}))
    files = [{"scope": s, "name": n} for s, n, t in dids if t == "FILE"]
    # sort=random: Rucio's default GeoIP order tries a download per file (docs/rucio.md)
    calls.append(("list_replicas", [files], {"all_states": True, "sort": "random"}))
    *answers_list, replicas = rucio.calls(*calls)
    by_file = {f"{r['scope']}:{r['name']}": r for r in replicas}
    answers = iter(answers_list)
    found: dict[str, Any] = {}
    for scope, name, did_type in dids:
        entry = {"did": next(answers), "json": next(answers), "columns": next(answers)}
        if did_type == "FILE":
            entry["replicas"] = [by_file[f"{scope}:{name}"]] if f"{scope}:{name}" in by_file else []
        else:
            entry["content"] = next(answers)
        found[f"{scope}:{name}"] = entry
    rses = rucio.calls(("list_rses", [], {}))[0]
    info = rucio.calls(
        *[
            c
            for r in rses
            for c in (("get_rse", [r["rse"]], {}), ("list_rse_attributes", [r["rse"]], {}))
        ]
    )
    found["__rses__"] = {r["rse"]: (info[2 * i], info[2 * i + 1]) for i, r in enumerate(rses)}
    return found
