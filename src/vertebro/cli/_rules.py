"""`vertebro rules`: list, show and check the rulebook, for clinical review."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vertebro.errors import InvalidInput

from ._lazy import lazy_module
from ._output import Format, console, print_json, print_table

if TYPE_CHECKING:
    import vertebro.assess as engine
else:  # the rulebook is loaded by the rules commands, not for `vertebro --help`
    engine = lazy_module("vertebro.assess")

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    rules = typer.Typer(
        help="Review the rulebook: the clinical rules as data, each with its source.",
        no_args_is_help=True,
    )
    app.add_typer(rules, name="rules")

    @rules.command("list")
    def list_cmd(
        source: Annotated[
            str | None, typer.Option(help="Only rules of this source, e.g. SNIS-2014.")
        ] = None,
        format: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    ) -> None:
        """List every rule: id, what it does, its source."""
        rb = engine.default_rulebook()
        chosen = [r for r in rb.rules if source is None or r.source.id.lower() == source.lower()]
        if source is not None and not chosen:
            raise InvalidInput.field(
                "--source", f"{source!r} is not a source ({', '.join(rb.sources)})"
            )
        if format is Format.json:
            print_json({"rulebook_version": rb.version, "rules": [r.as_dict() for r in chosen]})
            return
        print_table(
            ["id", "effect", "source"],
            [[r.id, r.effect_text(), f"{r.source.id}, {r.section}"] for r in chosen],
            title=f"rulebook {rb.version}: {len(chosen)} rules",
        )

    @rules.command("show")
    def show_cmd(
        rule_id: Annotated[
            str,
            typer.Argument(
                help="Rule id, e.g. snis2014.contraindication.absolute.spinal_infection"
            ),
        ],
        format: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    ) -> None:
        """Show one rule in full: condition, effect, statement and source."""
        rb = engine.default_rulebook()
        try:
            r = rb.rule(rule_id)
        except KeyError:
            near = difflib.get_close_matches(rule_id, [x.id for x in rb.rules], n=1, cutoff=0.5)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise InvalidInput.field("RULE_ID", f"{rule_id!r} is not a rule{hint}") from None
        d = r.as_dict()
        if format is Format.json:
            print_json(d)
            return
        from rich.text import Text  # with rich.console, not for `vertebro --help`

        c = console()
        c.print(Text(r.id, style="bold"))
        for label, value in (
            ("says", r.says),
            ("when", d["when"]),
            ("then", r.effect_text()),
            ("kind", f"{r.kind} ({r.scope} scope)"),
            ("profiles", ", ".join(r.profiles) if r.profiles else "all"),
            ("source", r.cite),
            ("citation", r.source.citation),
            ("file", f"vertebro/rulebook/{r.file}"),
        ):
            c.print(Text.assemble((f"{label:>9}: ", "dim"), value))

    @rules.command("check")
    def check_cmd(
        directory: Annotated[
            Path, typer.Argument(help="A rulebook folder (index.yaml + source files).")
        ],
    ) -> None:
        """Validate a rulebook folder (e.g. a reviewer's edited copy); exit 1 if invalid."""
        if not directory.is_dir():
            what = "is a file, not a folder" if directory.exists() else "no such folder"
            raise InvalidInput.field("DIRECTORY", f"{str(directory)!r}: {what}")
        rb = engine.load_rulebook(directory)
        console().print(
            f"rulebook {rb.version}: {len(rb.rules)} rules from {len(rb.sources)} sources, valid"
        )
