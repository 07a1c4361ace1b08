"""The one Jinja2 environment of the web app, with its template globals."""

from __future__ import annotations

import re

import jinja2
from fastapi.templating import Jinja2Templates

from vertebro.registry.vocab import INTERVAL_LABELS

__all__ = ["env", "field_id", "templates"]

env = jinja2.Environment(
    loader=jinja2.PackageLoader("vertebro.web", "templates"),
    autoescape=True,  # every value is patient-entered or derived from it
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["interval_labels"] = INTERVAL_LABELS


def field_id(name: str) -> str:
    """An HTML id for an input path: ``levels[0].escc`` -> ``f-levels-0-escc``."""
    return "f-" + re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")


env.filters["field_id"] = field_id

templates = Jinja2Templates(env=env)
