"""``/login``, ``/logout`` and ``/account`` (the user's API tokens)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vertebro.errors import InvalidInput
from vertebro.registry.accounts import Principal, SignInRefused

from ._auth import (
    SESSION_COOKIE,
    CurrentUser,
    accounts,
    client_address,
    cookie_secure,
    optional_user,
)
from ._templates import templates

__all__ = ["home_for", "router"]

router = APIRouter(include_in_schema=False)


def _local(target: str | None) -> str:
    """A redirect target on this site only (no ``//host`` or scheme: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/registry"
    return target


def home_for(who: Principal) -> str:
    return "/registry/admin" if who.role == "admin" else "/registry"


def _login_page(request: Request, *, next_: str, username: str = "", error: str = "",
                status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "login.html",
        {"next": next_, "username": username, "error": error, "principal": None},
        status_code=status)


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, who: Annotated[Principal | None, Depends(optional_user)],
    next: str | None = None,
) -> Response:
    if who is not None:
        return RedirectResponse(_local(next) if next else home_for(who), status_code=303)
    return _login_page(request, next_=_local(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        token = accounts(request).sign_in(username, password, client_address(request))
    except SignInRefused as exc:
        status = 429 if "too many" in str(exc) else 401
        return _login_page(request, next_=_local(next), username=username[:64], error=str(exc),
                           status=status)
    response = RedirectResponse(_local(next) if next else "/registry", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=cookie_secure(request), path="/")
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts(request).sign_out(token, client_address(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=cookie_secure(request))
    return response


def _account_page(request: Request, who: Principal, **extra: Any) -> HTMLResponse:
    context = {"principal": who, "tokens": accounts(request).list_tokens(who.username),
               "new_token": None, "errors": [], **extra}
    return templates.TemplateResponse(request, "account.html", context,
                                      status_code=422 if context["errors"] else 200)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, who: CurrentUser) -> HTMLResponse:
    return _account_page(request, who)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(request: Request, who: CurrentUser,
                 label: Annotated[str, Form(max_length=200)] = "") -> HTMLResponse:
    try:
        token = accounts(request).create_token(who.username, label)
    except InvalidInput as exc:
        return _account_page(request, who, errors=[{"field": e.field, "reason": e.reason}
                                                   for e in exc.errors])
    return _account_page(request, who, new_token=token)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, who: CurrentUser, token_id: int) -> Response:
    accounts(request).revoke_token(who.username, token_id)  # not theirs: 404
    return RedirectResponse("/account", status_code=303)
