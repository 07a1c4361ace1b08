# placeholder until sign-in lands (issue 11)
"""The sign-in interface the pages code against; the real module replaces this one.

``current_user`` answers 401 (nobody can sign in yet), ``optional_user`` answers ``None``
(anonymous: nothing is stored), and ``csrf_field`` adds nothing to a form.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request
from markupsafe import Markup

__all__ = ["Principal", "csrf_field", "current_user", "optional_user"]


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    site: str | None


def current_user(request: Request) -> Principal:
    raise HTTPException(status_code=401, detail="sign-in is not available yet")


def optional_user(request: Request) -> Principal | None:
    return None


def csrf_field(request: Request) -> Markup:
    return Markup("")
