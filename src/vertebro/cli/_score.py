"""``vertebro score``: compute one clinical score from the command line.

The group is light; its commands (``_score_commands.py``) are imported only when a ``score``
command runs, because their option help is built from the score tables (YAML): ``vertebro
--help`` lists the group by its help alone (``register_listing``).
"""

from __future__ import annotations

from importlib import import_module

import typer

__all__ = ["register", "register_listing", "score_app"]

score_app = typer.Typer(
    name="score",
    help="Compute one clinical score: SINS, ESCC, Genant, KPS/ECOG, ODI, RDQ, MCID responder, "
    "and the prognostic scores (Tokuhashi, Tomita, modified Bauer, NESMS).",
    no_args_is_help=True,
)


def register_listing(app: typer.Typer) -> None:
    """The group without its commands: enough for the root's ``--help``."""
    app.add_typer(score_app, name="score")


def register(app: typer.Typer) -> None:
    import_module(f"{__package__}._score_commands")  # its decorators fill score_app
    app.add_typer(score_app, name="score")
