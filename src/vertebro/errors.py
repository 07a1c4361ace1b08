"""One error family for the whole product.

Every error a user can cause is an :class:`InvalidInput`; the CLI maps it to exit code 2 in
one place (``vertebro.cli``). Messages name the field, the value and what was expected::

    levels[1].level: 'T13' is not a vertebra (C1-C7, T1-T12, L1-L5, S1-S5)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = [
    "ConcurrencyError",
    "DatabaseError",
    "EvidenceError",
    "FieldError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "RegistryError",
    "RulebookError",
    "VertebroError",
]


class VertebroError(Exception):
    """Root of every error vertebro raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: where (``levels[0].escc``, ``line 3``), and why."""

    field: str
    reason: str
    where: str = ""  # e.g. "line 12" or "row 4" for files with many records
    #: what rows with the same problem share, when ``reason`` names a per-row value
    #: (errors are grouped by ``field`` and ``cause or reason``)
    cause: str = dataclasses.field(default="", compare=False)
    #: how to fix it, said once per group
    hint: str = dataclasses.field(default="", compare=False)

    def __str__(self) -> str:
        prefix = f"{self.where}: " if self.where else ""
        return f"{prefix}{self.field}: {self.reason}" if self.field else f"{prefix}{self.reason}"


class InvalidInput(VertebroError):
    """Input that is not valid. Carries every problem found, not just the first."""

    def __init__(self, errors: list[FieldError] | FieldError | str) -> None:
        if isinstance(errors, str):
            errors = [FieldError("", errors)]
        elif isinstance(errors, FieldError):
            errors = [errors]
        self.errors: list[FieldError] = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))

    @classmethod
    def field(cls, field: str, reason: str, *, hint: str = "") -> InvalidInput:
        return cls([FieldError(field, reason, hint=hint)])

    def grouped(self, first: int = 3) -> list[str]:
        """The errors as lines, grouped by cause: the first ``first`` rows of each cause,
        then "... and N more rows with the same problem", then the cause's hint once."""
        groups: dict[tuple[str, str], list[FieldError]] = {}
        for e in self.errors:
            groups.setdefault((e.field, e.cause or e.reason), []).append(e)
        lines: list[str] = []
        for errs in groups.values():
            lines.extend(str(e) for e in errs[:first])
            if len(errs) > first:
                lines.append(f"... and {len(errs) - first} more rows with the same problem")
            hint = next((e.hint for e in errs if e.hint), "")
            if hint:
                lines.append(f"hint: {hint}")
        return lines


class RulebookError(VertebroError):
    """The rulebook (clinical rules as data) is malformed: a bug in the data, not user input."""


class RegistryError(VertebroError):
    """A registry operation was refused (permissions, missing records, integrity)."""


class NotFound(RegistryError):
    """No such record visible to the acting user: another site's record is reported exactly
    like one that does not exist (HTTP 404)."""


class Forbidden(RegistryError):
    """The acting user may not do this: their role or site does not allow it (HTTP 403)."""


class DatabaseError(VertebroError):
    """The registry database cannot be used as asked: a bad or unreachable URL, no registry
    (or an older schema) there, a lock held too long, a full disk. Exit code 2."""


class ConcurrencyError(DatabaseError):
    """Another writer held the registry's lock past the timeout, or a concurrent change
    conflicted with this one: nothing was written, and the same operation may succeed if
    tried again. Exit code 2 (one line)."""


class EvidenceError(VertebroError):
    """An evidence-synthesis computation cannot be done as asked."""
