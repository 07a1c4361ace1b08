"""The web part: the assessment and the registry as server-rendered pages and a JSON API.

Thin entry points only, like the CLI: each route parses, calls the library
(:func:`vertebro.assess`, :class:`vertebro.registry.Registry` as the signed-in user) and
formats (JSON, or HTML from the same views the text output uses). Registry routes need a
signed-in user (``_auth``); the assessment routes store nothing. See docs/web.md.

>>> from vertebro.web import create_app
>>> app = create_app()   # then: uvicorn, or `vertebro serve`
"""

from __future__ import annotations

from ._app import create_app

__all__ = ["create_app"]
