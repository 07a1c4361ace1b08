"""`vertebro serve`: uvicorn on localhost by default; several workers share the secret key."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from vertebro.cli import app
from vertebro.registry import Registry

from ..registry.conftest import populate_users


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append((a, k)))
    return calls


def test_serve_defaults_to_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _calls(monkeypatch)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    ((args, kwargs),) = calls
    assert args == ("vertebro.web:create_app",)
    assert kwargs == {"factory": True, "host": "127.0.0.1", "port": 8000, "workers": 1,
                      "proxy_headers": True, "forwarded_allow_ips": "127.0.0.1",
                      "server_header": False}


def test_serve_options(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _calls(monkeypatch)
    monkeypatch.setenv("VERTEBRO_SECRET_KEY", "k" * 32)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "9000",
                                      "--workers", "3", "--forwarded-allow-ips", "10.0.0.5"])
    assert result.exit_code == 0, result.output
    kwargs = calls[0][1]
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("0.0.0.0", 9000, 3)
    assert kwargs["forwarded_allow_ips"] == "10.0.0.5"
    assert kwargs.get("timeout_worker_healthcheck", 60) == 60


def test_workers_need_the_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _calls(monkeypatch)
    monkeypatch.delenv("VERTEBRO_SECRET_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 2 and not calls
    assert "VERTEBRO_SECRET_KEY" in result.output and "--workers" in result.output
    assert CliRunner().invoke(app, ["serve", "--workers", "0"]).exit_code == 2


def test_serve_help_says_localhost() -> None:
    out = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    words = " ".join(out.split())  # the help is wrapped to the terminal
    assert "127.0.0.1" in words and "this machine only" in words and "--workers" in words


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_two_workers_share_the_csrf_key(tmp_path: Path) -> None:
    """A real `vertebro serve --workers 2`: a CSRF token from one worker is good at the other
    (with a key per process, about half the sign-in attempts would be refused as CSRF)."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    reg = Registry.create(url)
    populate_users(reg)
    reg.close()
    port = _free_port()
    env = {**os.environ, "VERTEBRO_DATABASE_URL": url, "VERTEBRO_SECRET_KEY": "s" * 64,
           "VERTEBRO_ALLOWED_HOSTS": "127.0.0.1"}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "vertebro"), "serve", "--port", str(port),
         "--workers", "2"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 150  # workers import the CLI: slow on a busy machine
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        statuses = []
        for username in ["alice", "bob", "rita"] * 3:  # under the per-account throttle
            # a new connection each time, so that either worker may answer
            with httpx.Client(base_url=base, timeout=10) as c:
                page = c.get("/login")
                token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
                assert token, page.text[:300]
            with httpx.Client(base_url=base, timeout=10, cookies=c.cookies) as c2:
                r = c2.post("/login", data={"username": username, "password": "wrong password",
                                            "csrf_token": token.group(1)})
                statuses.append(r.status_code)
        assert statuses == [401] * 9  # wrong password, never a CSRF refusal (403)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
