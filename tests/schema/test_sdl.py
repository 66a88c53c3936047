from pathlib import Path

from schema.graphql import schema

SDL = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_committed_sdl_equals_the_running_schema():
    # Regenerate with: .venv/bin/lakecat graphql-schema --output schema/schema.graphql
    assert SDL.read_text(encoding="utf-8") == schema.as_str() + "\n"


def test_units_reach_the_sdl_descriptions():
    text = SDL.read_text(encoding="utf-8")
    assert '"""Radius (deg)."""' in text
    assert "Unit: deg. UCD: pos.eq.ra." in text
    assert '"""Shortest wavelength (m)."""' in text
    assert '"""Start, MJD (d)."""' in text
