import json
import shutil

import pytest
from click.testing import CliRunner

from schema.cli import main
from tests.conftest import DATA
from tests.support.records import file_record, square


@pytest.fixture
def lakecat(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKECAT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LAKECAT_DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


def test_ingest_into_unregistered_rse_says_how_to_register_it(lakecat, tmp_path):
    result = lakecat("ingest", "fits", str(DATA / "images"), "--scope", "s", "--rse", "NOPE")
    assert result.exit_code == 1
    assert "RSE 'NOPE' is not registered" in result.output
    assert "lakecat rse add NOPE" in result.output


def test_rse_add_rejects_a_base_url_without_scheme(lakecat):
    result = lakecat("rse", "add", "SITE", "eos.example.org/lake")
    assert result.exit_code == 2
    assert "scheme://host:port/prefix" in result.output


def test_fits_walk_registers_good_files_and_names_the_corrupt_one(lakecat, tmp_path):
    tree = tmp_path / "rse" / "plates"
    tree.mkdir(parents=True)
    for image in (DATA / "images").iterdir():
        shutil.copy(image, tree / image.name)
    (tree / "broken.fits").write_bytes(b"SIMPLE  =   garbage")
    assert lakecat("rse", "add", "SITE", "root://eos.example.org:1094/lake").exit_code == 0
    args = (
        "ingest",
        "fits",
        str(tmp_path / "rse"),
        "--scope",
        "survey",
        "--rse",
        "SITE",
        "--dataset",
        "plates",
    )
    first = lakecat(*args)
    assert first.exit_code == 1
    assert "registered 2, unchanged 0, skipped 0, failed 1" in first.output
    assert "broken.fits" in first.output
    second = lakecat(*args)
    assert "registered 0, unchanged 2" in second.output
    shown = lakecat("show", "survey:plates/horsehead.fits")
    assert shown.exit_code == 0
    assert "root://eos.example.org:1094/lake/plates/horsehead.fits" in shown.output
    assert "s_region" in shown.output
    listed = lakecat("ls", "survey:", "--cone", "85.27,-2.46,0.1")
    assert "survey:plates/horsehead.fits" in listed.output
    assert "survey:plates\n" in listed.output or "survey:plates " in listed.output


def test_bad_manifest_reports_each_line_and_writes_nothing(lakecat, tmp_path):
    assert lakecat("rse", "add", "SITE", "https://dcache.example.org:2880/lake").exit_code == 0
    lines = [
        json.dumps(
            file_record(
                "good.fits", obscore={"s_region": square(10, 10)}, replicas=[{"rse": "SITE"}]
            )
        ),
        "{not json",
        json.dumps(file_record("bad-level.fits", obscore={"calib_level": 7})),
    ]
    path = tmp_path / "outputs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = lakecat("ingest", "manifest", str(path))
    assert result.exit_code == 2
    assert "line 2: not JSON" in result.output
    assert "line 3: calib_level 7 is not one of [0, 1, 2, 3, 4]" in result.output
    assert "nothing was written" in result.output
    assert "0 DIDs" in lakecat("ls").output


def test_manifest_then_show_prints_metadata_and_moc(lakecat, tmp_path):
    assert lakecat("rse", "add", "SITE", "https://dcache.example.org:2880/lake").exit_code == 0
    path = tmp_path / "m.jsonl"
    path.write_text(
        json.dumps(
            file_record(
                "f.fits",
                obscore={"s_region": square(10, 10)},
                metadata={"run": 5},
                replicas=[{"rse": "SITE"}],
                dataset="ds",
            )
        )
        + "\n"
    )
    assert lakecat("ingest", "manifest", str(path)).exit_code == 0
    shown = lakecat("show", "lake:ds", "--moc", "ascii")
    assert "DATASET" in shown.output
    assert "length" in shown.output
    assert "10/" in shown.output  # the MOC at order 10
    assert "lake:f.fits" in lakecat("ls", "--filter", "run=5").output


def test_did_commands_build_and_close_a_container(lakecat):
    assert lakecat("did", "add", "lake:c", "--type", "CONTAINER").exit_code == 0
    assert lakecat("did", "add", "lake:d", "--type", "DATASET").exit_code == 0
    assert "attached 1" in lakecat("did", "attach", "lake:c", "lake:d").output
    assert lakecat("did", "close", "lake:c").exit_code == 0
    refused = lakecat("did", "attach", "lake:c", "lake:d2")
    assert refused.exit_code == 1


def test_demo_builds_once_and_is_reused(lakecat):
    first = lakecat("demo", "--no-serve")
    assert "demo lake: registered" in first.output
    second = lakecat("demo", "--no-serve")
    assert "reusing the demo lake" in second.output
