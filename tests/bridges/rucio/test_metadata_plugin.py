"""lakecat as a Rucio metadata plugin: a Rucio server that keeps generic metadata in lakecat.

A second gunicorn serves the same Rucio database with ``[metadata] plugins =
bridges.rucio.metadata_plugin.LakecatDidMetaPlugin`` and lakecat's source tree on its
PYTHONPATH; a live ``lakecat serve`` holds the metadata. Everything goes through Rucio's own
client and CLI.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bridges.rucio.metadata_plugin import FilterError, region_input, translate
from bridges.rucio.sync import SyncOptions, run_sync
from catalogue.config import Settings
from catalogue.models import DIDKey
from catalogue.service import open_catalogue
from tests.bridges.rucio.conftest import LOCAL, RucioServer
from tests.bridges.rucio.scenario import file, populate
from tests.support.live import free_port, lakecat

ROOT = Path(__file__).resolve().parents[3]


def _wait(url: str, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} did not answer:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A live lakecat on a fresh SQLite store."""
    directory = tmp_path_factory.mktemp("plugin-lake")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{directory / 'lake.sqlite'}", data_dir=directory
    )
    port = free_port()
    env = {
        **os.environ,
        "LAKECAT_DATABASE_URL": settings.database_url or "",
        "LAKECAT_DATA_DIR": str(directory),
        "LAKECAT_AUTH_LOCAL_ISSUER": "true",  # writes need a token: the plugin's is minted here
    }
    token = subprocess.run(
        lakecat("token", "rucio-metadata-plugin", "--scope", "lake.admin"),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    log = directory / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            lakecat("serve", "--port", str(port)), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait(f"http://127.0.0.1:{port}/health", process, "lakecat serve", log)
        yield settings.model_copy(
            update={"public_url": f"http://127.0.0.1:{port}/graphql", "rucio_token": token}
        )
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def plugin_rucio(
    rucio: RucioServer, lake: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RucioServer]:
    """The same Rucio, served again with lakecat as its metadata plugin."""
    directory = tmp_path_factory.mktemp("plugin-rucio")
    port = free_port()
    text = rucio.config.read_text()
    text = re.sub(r"(rucio_host|auth_host) = .*", rf"\1 = http://127.0.0.1:{port}", text)
    text += (
        "\n[metadata]\nplugins = bridges.rucio.metadata_plugin.LakecatDidMetaPlugin\n"
        f"lakecat_url = {lake.public_url}\nlakecat_token = {lake.rucio_token}\n"
    )
    config = directory / "rucio.cfg"
    config.write_text(text)
    log = directory / "gunicorn.log"
    env = {**os.environ, "RUCIO_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(rucio.venv / "bin" / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--no-control-socket",
                "rucio.web.rest.flaskapi.v1.main:application",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = replace(rucio, url=f"http://127.0.0.1:{port}", config=config, _side=None)
    try:
        _wait(f"{server.url}/ping", process, "the plugin's Rucio server", log)
        yield server
    finally:
        server.close()
        process.terminate()
        process.wait(timeout=20)


def rucio_cli(server: RucioServer, *args: str) -> str:
    done = subprocess.run(
        [str(server.venv / "bin" / "rucio"), *args],
        capture_output=True,
        text=True,
        env=server.env(),
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_rucio_keeps_and_searches_metadata_in_lakecat(
    rucio: RucioServer, plugin_rucio: RucioServer, lake: Settings, scopes: tuple[str, str]
) -> None:
    scope, user = scopes
    populate(rucio, scope, user)
    async with open_catalogue(lake) as catalogue, rucio.client() as client:
        await run_sync(catalogue, client, SyncOptions(scopes=list(scopes), margin=timedelta(0)))
    got = plugin_rucio.calls(
        ("set_metadata", [scope, "f2.fits", "quality", "good"], {}),
        ("set_metadata_bulk", [scope, "f3.fits", {"quality": "fair", "tags": ["x", "y"]}], {}),
        ("set_metadata_bulk", [scope, "f4.fits", {"quality": "bad", "seeing": 0.9}], {}),
        ("get_metadata", [scope, "f3.fits"], {"plugin": "LAKECAT"}),
        ("list_dids", [scope, {"quality": "good"}], {"did_type": "file"}),
        ("list_dids", [scope, {"quality.in": "good|fair"}], {"did_type": "file"}),
        ("list_dids", [scope, {"tags.contains": "x"}], {"did_type": "file"}),
        ("list_dids", [scope, {"seeing.exists": "true"}], {"did_type": "file"}),
        ("list_dids", [scope, [{"quality": "bad"}, {"quality": "good"}]], {"did_type": "all"}),
        ("list_dids", [scope, {"quality.ne": "good", "name": "f*"}], {"did_type": "file"}),
        ("list_dids", [scope, {"region": "CIRCLE ICRS 10.5 -3.25 0.1"}], {"did_type": "file"}),
        ("list_dids", [scope, {"region": "CIRCLE ICRS 200 40 1"}], {"did_type": "file"}),
        ("delete_metadata", [scope, "f2.fits", "quality"], {}),
        ("get_metadata", [scope, "f2.fits"], {"plugin": "LAKECAT"}),
        ("!set_metadata", [scope, "f2.fits", "bad key!", 1], {}),
    )
    assert got[3] == {"quality": "fair", "tags": ["x", "y"]}
    assert sorted(got[4]) == ["f2.fits"]
    assert sorted(got[5]) == ["f2.fits", "f3.fits"]
    assert sorted(got[6]) == ["f3.fits"]
    assert sorted(got[7]) == ["f2.fits", "f4.fits"]  # f2's came from Rucio's JSON by the sync
    assert sorted(got[8]) == ["f2.fits", "f4.fits"]
    assert sorted(got[9]) == ["f3.fits", "f4.fits"]
    assert sorted(got[10]) == ["f1.fits"]  # its coverage: the sync mapped s_region
    assert got[11] == []
    assert got[13] == {"obs_collection": "LOTSS", "run_number": 42, "seeing": 1.25}  # synced
    assert got[14] == "InvalidMetadata"
    region = "region=CIRCLE ICRS 10.5 -3.25 0.1"  # collections whose members' extent meets it
    listed = rucio_cli(plugin_rucio, "did", "list", f"{scope}:*", "--filter", region, "--short")
    assert sorted(listed.split()) == [f"{scope}:c1", f"{scope}:ds_a"]
    async with open_catalogue(lake) as catalogue:
        detail = await catalogue.get_did(DIDKey(scope, "f3.fits"))
    assert detail is not None
    assert detail.metadata["quality"] == "fair"


async def test_the_rucio_cli_filters_through_lakecat(
    rucio: RucioServer, plugin_rucio: RucioServer, lake: Settings, scopes: tuple[str, str]
) -> None:
    scope, user = scopes
    populate(rucio, scope, user)
    got = plugin_rucio.calls(
        ("add_replicas", [LOCAL, [file(scope, "new.fits", 30)]], {}),
        ("add_dataset", [scope, "ds_new"], {}),
        ("set_metadata_bulk", [scope, "new.fits", {"band": "r", "tags": ["deep"]}], {}),
        ("set_metadata_bulk", [scope, "ds_new", {"band": "r", "tags": ["deep", "wide"]}], {}),
        ("set_metadata_bulk", [scope, "ds_a", {"band": "g", "tags": ["deep"]}], {}),
        ("list_dids", [scope, {"band": "r"}], {"did_type": "all"}),
    )
    assert sorted(got[-1]) == ["ds_new", "new.fits"]
    # Rucio's CLI lists collections (its filter parser keeps `type` as a DID-column key)
    wanted = "band.in=r|i,tags.contains=deep"
    listed = rucio_cli(plugin_rucio, "did", "list", f"{scope}:*", "--filter", wanted, "--short")
    assert listed.split() == [f"{scope}:ds_new"]
    async with open_catalogue(lake) as catalogue:
        registered = await catalogue.get_did(DIDKey(scope, "new.fits"))
    assert registered is not None  # registered from Rucio's record on first use
    assert registered.did.adler32 == "001ebeef"


def test_filters_translate_into_lakecats_language() -> None:
    text, region = translate(
        [
            {"run.gte": 5, "name": "f*", "tags.contains": "deep", "q.in": "a|b"},
            {"seeing.exists": "false", "obs_id.like": "L1%"},
        ]
    )
    assert text == "run>=5,name=f*,tags contains deep,q in (a|b);seeing !exists,obs_id like L1%"
    assert region is None
    assert translate([{"region.enclosed": "POLYGON ICRS 1 2 3 4 5 6"}]) == (
        None,
        {"polygon": {"vertices": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}, "intersect": "ENCLOSED"},
    )
    assert region_input("circle 10 20 1") == {
        "cone": {"ra": 10.0, "dec": 20.0, "radius": 1.0},
        "intersect": "OVERLAPS",
    }
    with pytest.raises(FilterError, match="same region in every OR group"):
        translate([{"region": "CIRCLE 1 2 3", "a": 1}, {"b": 2}])
    with pytest.raises(FilterError, match="unknown operator 'near'"):
        translate([{"a.near": 1}])
