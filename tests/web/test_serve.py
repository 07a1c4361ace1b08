"""`vertebro serve`: uvicorn on localhost by default."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from vertebro.cli import app


def test_serve_defaults_to_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append((a, k)))
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    ((args, kwargs),) = calls
    assert args == ("vertebro.web:create_app",)
    assert kwargs == {"factory": True, "host": "127.0.0.1", "port": 8000}


def test_serve_options(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append(k))
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "9000"])
    assert result.exit_code == 0, result.output
    assert calls[0]["host"] == "0.0.0.0" and calls[0]["port"] == 9000


def test_serve_help_says_localhost() -> None:
    out = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    words = " ".join(out.split())  # the help is wrapped to the terminal
    assert "127.0.0.1" in words and "this machine only" in words
