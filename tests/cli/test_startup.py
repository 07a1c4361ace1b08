"""Start-up (issue 13.5): the light commands never import the heavy libraries.

Each command runs in a fresh interpreter, as from a shell; afterwards the test reads which
modules were really loaded (a module bound lazily, ``cli/_lazy.py``, but never used does not
count). Timing is benchmarks/startup_bench.py's job, not a test's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "aospine_case.json"
HEAVY = ("scipy", "statsmodels", "matplotlib", "sqlalchemy", "numpy", "pandas", "alembic",
         "fastapi", "uvicorn", "jinja2", "weasyprint")

_PROBE = """
import json, sys
heavy = set(json.loads(sys.argv[2]))
sys.argv = ["vertebro", *json.loads(sys.argv[1])]
from vertebro.cli import main
try:
    main()
except SystemExit:
    pass
finally:
    loaded = sorted(
        name for name, module in list(sys.modules.items())
        if (name in heavy or name.split(".")[0] in heavy)
        and type(module).__name__ != "_LazyModule"
    )
    sys.__stderr__.write("\\nLOADED " + json.dumps(loaded) + "\\n")
"""


def _loaded(*args: str, heavy: tuple[str, ...] = HEAVY) -> tuple[list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(heavy)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    marker = proc.stderr.rsplit("LOADED ", 1)
    assert len(marker) == 2, proc.stderr
    return json.loads(marker[1]), proc.stdout


@pytest.mark.parametrize(
    "args",
    [("--help",), ("-h",), ("--version",), ("assess", str(EXAMPLE)),
     ("assess", str(EXAMPLE), "--format", "json"), ("rules", "list"), ("score", "kps", "70"),
     ("registry", "--help"), ("evidence", "--help")],
)
def test_light_commands_import_no_heavy_library(args: tuple[str, ...]) -> None:
    loaded, out = _loaded(*args)
    assert out, "the command printed something"
    roots = sorted({m.split(".")[0] for m in loaded})
    assert loaded == [], f"vertebro {' '.join(args)} imported {roots}"


def test_the_probe_sees_a_heavy_import() -> None:
    # the same probe on a command that needs SciPy: it must report it, or the test above
    # would pass for the wrong reason
    loaded, _ = _loaded("evidence", "reproduce", "--format", "json")
    assert "scipy" in loaded


# What the root's help needs is its commands' names and help: not the score tables (YAML, via
# vertebro.scores: the score commands' option help is built from them), not rich's console.
LISTING_ONLY = ("yaml", "vertebro.scores", "rich.console", "rich.progress")


@pytest.mark.parametrize("args", [("--help",), ("-h",), ("--version",)])
def test_the_root_help_loads_no_score_table_or_console(args: tuple[str, ...]) -> None:
    loaded, out = _loaded(*args, heavy=LISTING_ONLY)
    assert out and loaded == [], f"vertebro {' '.join(args)} imported {loaded}"


def test_the_listing_probe_sees_the_score_tables() -> None:
    loaded, _ = _loaded("score", "--help", heavy=LISTING_ONLY)
    assert "vertebro.scores" in loaded and "yaml" in loaded


def test_assess_json_lays_out_no_report() -> None:
    report = ("vertebro.assess._view", "vertebro.assess._report")
    loaded, out = _loaded("assess", str(EXAMPLE), "--format", "json", heavy=report)
    assert out and loaded == []
    loaded, _ = _loaded("assess", str(EXAMPLE), heavy=report)  # the probe sees the text path
    assert loaded == ["vertebro.assess._report", "vertebro.assess._view"]
