"""The ``vertebro`` command.

Thin entry points only: each command parses its arguments, calls the library and formats the
result. Errors are mapped to exit codes here, in one place: :class:`~vertebro.errors.InvalidInput`
exits 2 (every problem listed on stderr, grouped by cause), as does a
:class:`~vertebro.errors.DatabaseError` (one line); any other
:class:`~vertebro.errors.VertebroError` exits 1.

Start-up: each group module registers its commands on a Typer of its own; the root lists them
all for ``--help`` from their names and help texts, and turns only the command that runs into
a Click command (Typer otherwise converts all of them, about 50 signatures, on every run).
Heavy libraries are imported by the commands that use them (``_lazy.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from importlib import import_module
from inspect import getdoc
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo, DefaultPlaceholder, TyperInfo

from vertebro._version import __version__
from vertebro.errors import DatabaseError, InvalidInput, VertebroError

from ._output import err_console

__all__ = ["app", "main"]

# Each module owns its groups (or top-level commands), listed in this order. A command that
# runs needs only its own module; ``--help`` imports them all (tests/cli keeps this in step).
_MODULES = {
    "_assess": ("assess",),
    "_score": ("score",),
    "_rules": ("rules",),
    "_evidence": ("evidence",),
    "_registry": ("registry", "db", "demo"),
    "_analytics": ("analytics",),
    "_serve": ("serve",),
}


def _typer(**settings: Any) -> typer.Typer:
    # Plain Click help: it wraps to any width, pipes without padding or box drawing, and
    # shows no type for a flag (Typer's rich help prints <bool> beside every one).
    return typer.Typer(
        pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None, **settings
    )


def _entries(
    modules: Iterable[str] = _MODULES, *, listing: bool = False
) -> dict[str, CommandInfo | TyperInfo]:
    """The top-level commands and groups of ``modules`` by name, as they register them.

    ``listing``: only what ``vertebro --help`` shows (a module whose commands are costly to
    define offers ``register_listing``, its groups without their commands)."""
    found: dict[str, CommandInfo | TyperInfo] = {}
    for module in modules:
        holder = _typer()
        mod = import_module(f"{__name__}.{module}")
        (getattr(mod, "register_listing", mod.register) if listing else mod.register)(holder)
        infos: list[CommandInfo | TyperInfo] = [
            *holder.registered_commands, *holder.registered_groups
        ]
        for info in infos:
            assert isinstance(info.name, str), f"{module}: register every command with its name"
            found[info.name] = info
    return found


def _given(value: Any) -> str | None:
    return None if isinstance(value, DefaultPlaceholder) else value


def _summary(text: str | None) -> str | None:
    """The first paragraph of a help text, whole: Click would cut it at the column with "..."."""
    return " ".join(text.split("\n\n")[0].split()) if text else None


def _listing(name: str, info: CommandInfo | TyperInfo) -> TyperCommand:
    """What ``vertebro --help`` shows of a command: its name and help, nothing parsed."""
    if isinstance(info, TyperInfo):
        assert info.typer_instance is not None
        text = _given(info.help) or _given(info.typer_instance.info.help)
    else:
        text = info.help or getdoc(info.callback)
    return TyperCommand(name=name, help=text, short_help=_summary(text))


def _whole_summaries(command: Any) -> None:
    for sub in getattr(command, "commands", {}).values():
        sub.short_help = sub.short_help or _summary(sub.help)
        _whole_summaries(sub)


def _build(info: CommandInfo | TyperInfo) -> Any:
    """The Click command of one entry, converted by Typer on its own."""
    holder = _typer()
    if isinstance(info, TyperInfo):
        holder.registered_groups.append(info)
    else:
        holder.registered_commands.append(info)
    command = typer.main.get_group(holder).commands[str(info.name)]
    _whole_summaries(command)
    return command


# Commands that write (a file or the registry): only their refusals say "nothing was written".
_WRITE_OPTIONS = {
    "--out", "--batch", "--plot", "--forest", "--funnel", "--baujat", "--km-plot", "--love-plot"
}
_WRITE_COMMANDS = {
    "registry": {"add-site", "add-user", "set-password", "add-patient", "assess",
                 "add-procedure", "add-complication", "add-follow-up", "import"},
    "db": {"init", "upgrade", "backup", "restore"},
    "demo": {"seed"},
}


def _writes(args: list[str]) -> bool:
    if _WRITE_OPTIONS.intersection(a.split("=", 1)[0] for a in args):
        return True
    return len(args) > 1 and args[1] in _WRITE_COMMANDS.get(args[0], ())


class _Group(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._loaded: dict[str, CommandInfo | TyperInfo] = {}
        self._built: set[str] = set()
        self._args: list[str] = []

    def _load(self, modules: Iterable[str]) -> None:
        todo = [m for m in modules if not set(_MODULES[m]) <= self._loaded.keys()]
        self._loaded.update(_entries(todo, listing=True))

    def list_commands(self, ctx: Any) -> list[str]:
        return [name for names in _MODULES.values() for name in names]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        # for --help and typo suggestions: every module, listed by name and help only
        if cmd_name not in self.commands:
            self._load(_MODULES)
            for name, info in self._loaded.items():
                self.commands.setdefault(name, _listing(name, info))
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        self._args = list(args)
        module = next((m for m, names in _MODULES.items() if args and args[0] in names), None)
        if module is not None and args[0] not in self._built:
            self._loaded.update(_entries([module]))  # in full: the command runs
            self.commands[args[0]] = _build(self._loaded[args[0]])
            self._built.add(args[0])
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            note = " (nothing was written)" if _writes(self._args) else ""
            err_console().print(f"[bold red]invalid input[/]{note}:")
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


app = _typer(
    cls=_Group,
    name="vertebro",
    help=(
        "Decision support, outcomes registry and evidence synthesis for vertebral augmentation "
        "in cancer-related vertebral compression fractures. Decision support for clinicians, "
        "not a medical device and not a decision."
    ),
    no_args_is_help=True,
    # help as wide as the terminal (Click stops at 80 by default), up to a readable 120
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"vertebro {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """The root's options (its help is the Typer's above)."""


def main() -> None:
    app()
