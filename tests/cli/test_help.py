"""The command's own surface (issue 13.8): --version, -h, help without <bool>, whole lines."""

from __future__ import annotations

import re

import pytest

from tests._cli import run
from vertebro import __version__
from vertebro.cli import _MODULES, _entries


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out == f"vertebro {__version__}\n"


@pytest.mark.parametrize("args", [(), ("registry",), ("assess",), ("registry", "export")])
def test_h_is_help(args: tuple[str, ...]) -> None:
    code, short, _ = run(*args, "-h")
    assert code == 0 and short.startswith("Usage: vertebro")
    assert short == run(*args, "--help")[1]


@pytest.mark.parametrize(
    "args", [(), ("assess",), ("registry", "due"), ("analytics", "audit"), ("rules", "list")]
)
def test_help_shows_no_bool_metavar_and_no_padding(args: tuple[str, ...]) -> None:
    _, out, _ = run(*args, "--help")
    assert "<bool>" not in out and "BOOLEAN" not in out
    assert not [line for line in out.splitlines() if line != line.rstrip()]
    assert not re.search(r"\w\.\.\.\s*$", out, re.M), "no summary cut with '...'"


def test_every_command_is_routed_to_the_module_that_registers_it() -> None:
    for module, names in _MODULES.items():
        assert tuple(_entries([module])) == names, module


def test_a_typo_suggests_the_command() -> None:
    code, _, err = run("asess")
    assert code == 2 and "Did you mean 'assess'?" in err


def test_the_root_lists_every_command() -> None:
    _, out, _ = run("--help")
    listed = re.findall(r"^  (\w[\w-]*) ", out.split("Commands:")[1], re.M)
    assert listed == [n for names in _MODULES.values() for n in names]
