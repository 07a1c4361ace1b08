"""`vertebro demo seed --demo-passwords`: demo users get random passwords, shown once."""

from __future__ import annotations

import re

from tests._cli import run
from vertebro.registry import Registry
from vertebro.registry.accounts import Accounts, SignInRefused


def _passwords(out: str) -> dict[str, str]:
    return dict(re.findall(r"^  (\S+)\s+(\S{16})$", out, flags=re.M))


def _signs_in(url: str, username: str, password: str) -> bool:
    reg = Registry(url)
    try:
        Accounts(reg).sign_in(username, password, "127.0.0.1")
        return True
    except SignInRefused:
        return False
    finally:
        reg.close()


def test_demo_passwords(db_url: str) -> None:
    args = ("demo", "seed", "--patients", "4", "--sites", "2", "--seed", "1", "--if-empty",
            "--demo-passwords", "--db", db_url)
    code, out, err = run(*args)
    assert code == 0, err
    assert "DEMO-ONLY" in out and "http://127.0.0.1:8000/login" in out
    first = _passwords(out)
    assert set(first) == {"admin", "clin-demo1", "clin-demo2", "researcher"}
    assert len(set(first.values())) == 4
    assert _signs_in(db_url, "clin-demo1", first["clin-demo1"])

    # a second run skips the seeding but sets (and shows) new passwords
    code, out, err = run(*args)
    assert code == 0, err
    assert "demo seed skipped" in out
    second = _passwords(out)
    assert set(second) == set(first) and not set(second.values()) & set(first.values())
    assert not _signs_in(db_url, "admin", first["admin"])
    assert _signs_in(db_url, "admin", second["admin"])


def test_no_demo_passwords_with_real_patients(db_url: str) -> None:
    code, out, err = run("demo", "seed", "--patients", "3", "--db", db_url)
    assert code == 0, err
    assert "DEMO-ONLY" not in out  # only when asked
    code, out, err = run("registry", "add-patient", "REAL1", "--as", "clin-demo1", "--db", db_url)
    assert code == 0, err
    code, out, err = run("demo", "seed", "--patients", "3", "--if-empty", "--demo-passwords",
                         "--db", db_url)
    assert code == 2
    assert "not synthetic" in err and "--demo-passwords" in err
    reg = Registry(db_url)
    try:
        assert not Accounts(reg).has_password("admin")
    finally:
        reg.close()
