"""benchmarks/web_bench.py: a short real run against `vertebro serve` (about 10 s),
and the bound on a run's length."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "web_bench.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("web_bench", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("web_bench", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_short_run_has_no_errors_and_stops_its_server(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        # one worker: half the start-up of two (each worker imports the app), so that the
        # test stays well under 20 s on a quiet machine; the benchmark itself runs two
        [sys.executable, str(SCRIPT), "--duration", "0.3", "--concurrency", "1,8",
         "--workers", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    # exit 1 is a goal that failed on this machine (CPU ratio, tail): not this test's subject
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    stages = {(s["endpoint"], s["concurrency"]): s for s in result["stages"]}
    assert set(stages) == {("assess", 1), ("assess", 8), ("patients", 1), ("patients", 8),
                           ("health", 8)}
    for s in stages.values():
        assert s["requests"] > 0 and s["errors"] == 0, s
        assert s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"]
        assert s["server_cpu_ms"] > 0  # the server's processes were found and read
    assert set(result["baseline"]) == {"assess", "patients"}
    assert "goals (issue 11):" in proc.stdout and "0 errors: 0 errors -> holds" in proc.stdout
    assert not os.path.exists(f"/proc/{result['server_pid']}")  # stopped at the end


@pytest.mark.parametrize("argv", [["--duration", "8"], ["--duration", "0"],
                                  ["--concurrency", "1,2,4,8,16,32"],
                                  ["--concurrency", "x"], ["--concurrency", "0"],
                                  ["--workers", "0"]])
def test_a_run_is_bounded(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        _bench()._args(argv)
    assert stop.value.code == 2
    assert "--" in capsys.readouterr().err


def test_the_default_and_quick_runs_fit_in_a_minute() -> None:
    bench = _bench()
    assert bench._args([]).seconds == 4.0
    assert bench._args(["--quick"]).seconds < 2
