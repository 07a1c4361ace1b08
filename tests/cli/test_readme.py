"""The README's "start a real registry" path runs as written (issue 13 point 9)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vertebro.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _real_registry_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text.index("Start a real registry")
    block = re.search(r"```sh\n(.*?)```", text[head:], re.S)
    assert block is not None, "the README has lost its 'start a real registry' commands"
    commands = []
    for line in block[1].splitlines():
        for part in line.split(" # ")[0].split("&&"):
            argv = shlex.split(part)
            assert argv and argv[0] == "vertebro", part
            commands.append(argv[1:])
    return commands


def test_readme_start_a_real_registry_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("VERTEBRO_DATABASE_URL", "VERTEBRO_REGISTRY_KEY", "VERTEBRO_REGISTRY_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)
    shutil.copy(ROOT / "examples" / "aospine_case.json", tmp_path / "patient.json")
    commands = _real_registry_commands()
    names = [" ".join(c[:2]) for c in commands]
    # the README names the whole path: schema, users, a password, a patient, a backup
    for step in ("db init", "registry add-user", "registry set-password", "db backup"):
        assert step in names, step
    runner = CliRunner()
    for argv in commands:
        asks = argv[:2] == ["registry", "set-password"]
        typed = "a long enough password 1\n" * 2 if asks else None
        result = runner.invoke(app, argv, input=typed)
        assert result.exit_code == 0, (argv, result.stdout, result.stderr)
    assert (tmp_path / "vertebro.db").exists() and (tmp_path / "registry.bak").exists()
