"""Running the `vertebro` command in-process, as a user would from a shell."""

from __future__ import annotations

from typer.testing import CliRunner

from vertebro.cli import app

_runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``vertebro ARGS``; an unexpected exception is raised
    (not turned into exit code 1) so that a crash fails the test with its traceback."""
    result = _runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr
