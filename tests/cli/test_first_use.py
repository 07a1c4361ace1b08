"""First use (issue 13 points 1 and 3): a database URL that is wrong in any way is one line
and exit 2, never a traceback; no command but ``db init``/``db upgrade`` creates a registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._cli import run

BAD_URLS = {
    "points nowhere": ("postgresql+psycopg://x@127.0.0.1:1/none", "cannot use the registry"),
    "unknown dialect": ("mysql://a@b/c", "not supported"),
    "not a URL": ("notaurl", "not a URL"),
}
READ_COMMANDS = [("db", "current"), ("registry", "summary", "--as", "researcher")]


@pytest.mark.parametrize("case", sorted(BAD_URLS))
@pytest.mark.parametrize("args", READ_COMMANDS)
def test_a_bad_database_url_is_one_line_and_exit_2(
    case: str, args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, says = BAD_URLS[case]
    for how in ("--db", "env"):
        if how == "env":
            monkeypatch.setenv("VERTEBRO_DATABASE_URL", url)
            code, out, err = run(*args)
        else:
            code, out, err = run(*args, "--db", url)
        assert code == 2, (how, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], (how, err)
        assert "Traceback" not in err + out


@pytest.mark.parametrize("args", READ_COMMANDS)
def test_a_read_command_creates_no_database_or_folder(args: tuple[str, ...], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VERTEBRO_DATABASE_URL", raising=False)
    code, _, err = run(*args)  # the default ./vertebro.db of an empty folder
    assert code == 2 and "no registry" in err and "db init" in err
    missing = tmp_path / "nonexistent" / "dir"
    code, _, err = run(*args, "--db", f"sqlite:///{missing / 'x.db'}")
    assert code == 2 and "no registry" in err
    assert list(tmp_path.iterdir()) == [], "nothing is created"
