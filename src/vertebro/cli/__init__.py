"""The ``vertebro`` command.

Thin entry points only: each command parses its arguments, calls the library and formats the
result. Errors are mapped to exit codes here, in one place: :class:`~vertebro.errors.InvalidInput`
exits 2 (every problem listed on stderr, grouped by cause), as does a
:class:`~vertebro.errors.DatabaseError` (one line); any other
:class:`~vertebro.errors.VertebroError` exits 1.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from vertebro.errors import DatabaseError, InvalidInput, VertebroError

from ._output import err_console

__all__ = ["app", "main"]


class _Group(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            err_console().print("[bold red]invalid input[/] (nothing was written):")
            for line in exc.grouped():
                err_console().print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except DatabaseError as exc:
            err_console().print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except VertebroError as exc:
            err_console().print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except Exception as exc:
            # a database error the registry did not translate: one line, not a traceback
            # (matched by module so that start-up does not import SQLAlchemy)
            if not type(exc).__module__.startswith("sqlalchemy."):
                raise
            first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
            err_console().print(f"[bold red]database error:[/] {first}", highlight=False,
                                soft_wrap=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Group,
    name="vertebro",
    help=(
        "Decision support, outcomes registry and evidence synthesis for vertebral augmentation "
        "in cancer-related vertebral compression fractures. Decision support for clinicians, "
        "not a medical device and not a decision."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    # Imported here so that `vertebro --help` lists every group; each module owns one group.
    from . import _analytics, _assess, _db_roles, _evidence, _registry, _rules, _score, _serve

    _assess.register(app)
    _score.register(app)
    _rules.register(app)
    _evidence.register(app)
    _registry.register(app)
    _db_roles.register(app)
    _analytics.register(app)
    _serve.register(app)


_register()


def main() -> None:
    app()
