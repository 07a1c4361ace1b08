"""The README's "Running behind a TLS proxy" names only settings and options that exist."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vertebro.cli import app
from vertebro.settings import Settings
from vertebro.web._guard import MAX_BODY

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text()
    start = text.index("### Running behind a TLS proxy")
    return text[start:text.index("\n### ", start + 1)]


ENV_NAMES = sorted(set(re.findall(r"\bVERTEBRO_[A-Z_]+\b", _section())))
OPTIONS = sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", _section())))


def test_the_section_names_settings_and_options() -> None:
    assert {"VERTEBRO_ALLOWED_HOSTS", "VERTEBRO_SECRET_KEY", "VERTEBRO_COOKIE_SECURE"} \
        <= set(ENV_NAMES)
    assert {"--workers", "--forwarded-allow-ips"} <= set(OPTIONS)


@pytest.mark.parametrize("name", ENV_NAMES)
def test_each_variable_sets_its_settings_field(name: str, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    field = name.removeprefix("VERTEBRO_").lower()
    assert field in {f.name for f in dataclasses.fields(Settings)}, name
    monkeypatch.delenv(name, raising=False)
    before = getattr(Settings(), field)
    monkeypatch.setenv(name, "7")  # a value every field's parser takes
    assert getattr(Settings(), field) != before, f"{name} does not change Settings.{field}"


def test_each_option_is_an_option_of_serve() -> None:
    out = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    for option in OPTIONS:
        assert re.search(rf"{option}\b", out), f"vertebro serve has no {option}"


def test_the_proxy_body_limit_is_the_apps() -> None:
    size = re.search(r"client_max_body_size (\d+)k;", _section())
    assert size and int(size.group(1)) * 1024 == MAX_BODY
