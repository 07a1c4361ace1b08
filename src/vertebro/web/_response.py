"""A JSON answer encoded by pydantic's Rust core instead of the ``json`` module.

Starlette's ``JSONResponse`` encodes with ``json.dumps``; for the 32 kB answer of
``/api/assess`` that was 0.22 ms, as much CPU as the assessment itself (docs/web.md, "Load
benchmark"). ``pydantic_core.to_json`` writes the same compact UTF-8 JSON, key for key, about
four times faster. Non-finite floats are the one difference (``json.dumps(allow_nan=False)``
refuses them; ``to_json`` would write ``NaN``, which is not JSON): such an answer is encoded
again by ``JSONResponse``, so it is refused as before instead of sent broken.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from starlette.responses import JSONResponse

__all__ = ["FastJSONResponse"]


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        body = to_json(content, inf_nan_mode="constants")
        # what to_json writes for nan and +-inf; text inside a string may match too, which
        # merely costs the slow path
        if b"NaN" in body or b"Infinity" in body:
            return super().render(content)  # json.dumps(allow_nan=False): ValueError for nan
        return body
