"""Moderators written as an R model formula: ``"~ ablat + factor(alloc)"`` to a design matrix.

The part of R's model formulae (Wilkinson & Rogers, Appl Stat 1973;22:392; R's
``model.matrix``) that a meta-regression in metafor uses: terms joined by ``+``; a numeric
column enters as it is; ``factor(col)``, or a column of text, enters as treatment contrasts (one
0/1 column per level but the first, levels sorted as R sorts them: numerically for numbers,
else alphabetically) named as R names them (``factor(alloc)random``). The intercept is always
in the model, as metafor's default. Text levels are sorted by code point, as R does in the C
locale; R in another locale may order mixed-case labels ("b" < "C") differently, and with
that choose another reference level (the fit is the same, the coefficients are contrasts
against another level). Interactions, transformations and ``- 1`` are refused with
a message instead of being read differently from R.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vertebro.errors import EvidenceError

__all__ = ["Design", "model_matrix"]

FloatArray = NDArray[np.float64]

_NAME = r"[A-Za-z.][A-Za-z0-9._]*"
_FACTOR = re.compile(rf"^factor\(\s*({_NAME})\s*\)$")
_PLAIN = re.compile(rf"^{_NAME}$")


@dataclass(frozen=True)
class Design:
    """The moderator columns of a formula (the intercept not included) and their names."""

    formula: str
    names: tuple[str, ...]
    X: FloatArray


def _missing(x: object) -> bool:
    if x is None:
        return True
    if isinstance(x, float):
        return math.isnan(x)
    return isinstance(x, str) and x.strip() in ("", "NA")


def _number(x: object) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, int | float):
        return float(x)
    try:
        return float(str(x))
    except ValueError:
        return None


def _level_label(x: object) -> str:
    """A level as R prints it: 2 not 2.0; text stripped."""
    n = _number(x)
    if n is not None and not isinstance(x, str):
        return str(int(n)) if n.is_integer() else repr(n)
    return str(x).strip()


def _terms(formula: str) -> list[str]:
    f = formula.strip()
    if not f.startswith("~"):
        raise EvidenceError(
            f"mods: {formula!r} must start with '~' (e.g. '~ ablat + factor(alloc)')"
        )
    body = f[1:].strip()
    if not body:
        raise EvidenceError(f"mods: {formula!r} has no terms after '~'")
    terms = [t.strip() for t in body.split("+")]
    for t in terms:
        if not (_FACTOR.match(t) or _PLAIN.match(t)):
            raise EvidenceError(
                f"mods: term {t!r} of {formula!r} is not supported (a column name or "
                "factor(column), joined by '+'; no interactions, transformations or '- 1')"
            )
    return terms


def model_matrix(formula: str, data: Mapping[str, Sequence[object]]) -> Design:
    """The design of ``formula`` on the columns of ``data`` (all of one length, k).

    Raises :class:`~vertebro.errors.EvidenceError` naming the term and the reason: a column
    that is absent, a missing value (with its row, 1-based), a factor with one level, or terms
    that are collinear (the coefficients would not be identifiable).
    """
    names: list[str] = []
    cols: list[FloatArray] = []
    seen: set[str] = set()
    for term in _terms(formula):
        m = _FACTOR.match(term)
        col = m.group(1) if m else term
        if col not in data:
            raise EvidenceError(
                f"mods: {col!r} (in {formula!r}) is not a column ({', '.join(sorted(data))})"
            )
        if term in seen:
            continue
        seen.add(term)
        values = list(data[col])
        for i, x in enumerate(values, start=1):
            if _missing(x):
                raise EvidenceError(f"mods: {col!r} has no value in row {i}")
        nums = [_number(x) for x in values]
        if m is None and all(n is not None for n in nums):
            names.append(col)
            cols.append(np.array(nums, float))
            continue
        # factor: treatment contrasts against the first level in R's order
        numeric = all(n is not None for n in nums)
        labels = [_level_label(x) for x in values]
        key = {lab: (n if numeric else 0.0, lab) for lab, n in zip(labels, nums, strict=True)}
        levels = sorted(set(labels), key=lambda lab: key[lab])
        if len(levels) < 2:
            raise EvidenceError(f"mods: {term!r} has one level only ({levels[0]!r})")
        for lev in levels[1:]:
            names.append(f"{term}{lev}")
            cols.append(np.array([float(lab == lev) for lab in labels]))
    k = len(cols[0])
    X = np.column_stack(cols)
    full = np.column_stack([np.ones(k), X])
    rank = int(np.linalg.matrix_rank(full))
    if rank < full.shape[1]:
        raise EvidenceError(
            f"mods: the terms of {formula!r} are collinear ({full.shape[1]} coefficients, "
            f"rank {rank}): a column is constant or a combination of the others"
        )
    return Design(formula=formula, names=tuple(names), X=X)
