"""The web part: a REST API and server-rendered pages for the assessment.

Thin entry points only, like the CLI: each route parses, calls :func:`vertebro.assess` and
formats (JSON, or HTML from the same report view as the text report). Nothing is stored or
logged. Registry routes are deliberately absent: the registry has roles but no
authentication, so an HTTP endpoint would expose patient data to anyone who can reach it.

>>> from vertebro.web import create_app
>>> app = create_app()   # then: uvicorn, or `vertebro serve`
"""

from __future__ import annotations

from ._app import create_app

__all__ = ["create_app"]
