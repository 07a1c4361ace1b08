"""The one Jinja2 environment of the pages: autoescaped, strict, with the sign-in helpers."""

from __future__ import annotations

import re

import jinja2
from fastapi.templating import Jinja2Templates

from ._auth import csrf_field

__all__ = ["field_id", "templates"]


def field_id(name: str) -> str:
    """An HTML id for an input path: ``levels[0].escc`` -> ``f-levels-0-escc``."""
    return "f-" + re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")


templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.PackageLoader("vertebro.web", "templates"),
        autoescape=True,  # every value is patient-entered or derived from it
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
templates.env.globals["csrf_field"] = csrf_field
templates.env.filters["field_id"] = field_id
