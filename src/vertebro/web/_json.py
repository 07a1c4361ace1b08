"""JSON bodies that cannot hurt: the web-level limits in front of the library's validation.

Python's ``json`` module turns some inputs into crashes or into values nothing downstream
expects: nesting thousands deep (RecursionError), integers of thousands of digits (ValueError
from the int-conversion limit), invalid UTF-8, lone surrogates (which later fail to encode
when shown on a page), ``NaN``/``Infinity`` and overflowing floats like ``1e309``, and
containers with so many members that listing their errors costs seconds. :func:`check_json`
refuses each with the field it is in; anything else is left to the validation of the
route (for the assessment, :func:`vertebro.assess.validate_json`, whose messages the CLI
gives too). Written by hand because no JSON library offers these limits together.
"""

from __future__ import annotations

import json
import math
from typing import Any

from vertebro.errors import FieldError, InvalidInput

__all__ = ["MAX_DEPTH", "MAX_DIGITS", "MAX_MEMBERS", "check_json", "load_json"]

MAX_DEPTH = 32  # an assessment nests 4 deep, a registry record 3
MAX_MEMBERS = 1000  # members of one object or array; an assessment has a few dozen
MAX_DIGITS = 20  # no count, year or score in vertebro needs more


class _Huge(str):
    """An integer literal too long to be a real value (kept as text to name its field)."""


def _int(text: str) -> int | _Huge:
    return _Huge(text) if len(text.lstrip("-")) > MAX_DIGITS else int(text)


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _walk(value: Any, path: str, depth: int, errors: list[FieldError]) -> None:
    # iterative in effect: depth is bounded by MAX_DEPTH before recursing further
    if depth > MAX_DEPTH:
        errors.append(FieldError(path or "(json)", f"nested more than {MAX_DEPTH} deep"))
        return
    if isinstance(value, dict):
        if len(value) > MAX_MEMBERS:
            errors.append(FieldError(path or "(json)", f"more than {MAX_MEMBERS} members"))
            return
        for k, v in value.items():
            if not _encodable(k):
                errors.append(FieldError(path or "(json)", "a key is not valid Unicode text"))
                continue
            _walk(v, _path(path, k), depth + 1, errors)
    elif isinstance(value, list):
        if len(value) > MAX_MEMBERS:
            errors.append(FieldError(path or "(json)", f"more than {MAX_MEMBERS} items"))
            return
        for i, v in enumerate(value):
            _walk(v, _path(path, i), depth + 1, errors)
    elif isinstance(value, _Huge):
        errors.append(FieldError(path or "(json)", f"a number of {len(value)} digits is not "
                                 "a plausible value"))
    elif isinstance(value, str):
        if not _encodable(value):
            errors.append(FieldError(path or "(json)", "not valid Unicode text (a lone "
                                     "surrogate escape)"))
    elif isinstance(value, float) and not math.isfinite(value):
        errors.append(FieldError(path or "(json)", f"{value!r} is not a finite number"))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_json(body: bytes | str) -> None:
    """Refuse (with :class:`InvalidInput`) what would crash or mislead later; a body that is
    simply not JSON passes, for the route's own validation to report in its words."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput.field("(json)", f"not UTF-8 text (byte {exc.start})") from None
    if not _encodable(body):
        raise InvalidInput.field("(json)", "not valid Unicode text")
    # cheap pre-check: brackets outside strings can only nest as deep as their count
    if body.count("[") + body.count("{") > MAX_DEPTH and _bracket_depth(body) > MAX_DEPTH:
        raise InvalidInput.field("(json)", f"nested more than {MAX_DEPTH} deep")
    try:
        value = json.loads(body, parse_int=_int)
    except (ValueError, RecursionError):
        return
    errors: list[FieldError] = []
    _walk(value, "", 0, errors)
    if errors:
        raise InvalidInput(errors)


def load_json(body: bytes | str) -> Any:
    """:func:`check_json`, then the parsed value; malformed JSON is a ``(json)`` error."""
    check_json(body)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidInput.field("(json)", f"not valid JSON: {exc}") from None


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest
