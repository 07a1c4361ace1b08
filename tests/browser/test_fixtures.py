"""The browser fixtures themselves: the live server answers, its users can sign in."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_seeded_users_sign_in_and_out(
    page: Page, sign_in: Callable[[Page, str], Page], live_server: LiveServer
) -> None:
    for username in ("admin", "clin-a", "clin-b", "researcher"):
        sign_in(page, username)
        page.goto(live_server.url + "/account")
        assert username in page.inner_text("nav.main")
        with page.expect_navigation():
            page.click("nav.main button:has-text('Sign out')")
        assert page.url.endswith("/login")
    with live_server.registry() as reg:
        users = {u["username"]: (u["role"], u["site"]) for u in reg.list_users("admin")}
    assert users == {"admin": ("admin", "A"), "clin-a": ("clinician", "A"),
                     "clin-b": ("clinician", "B"), "researcher": ("researcher", None)}


def test_wrong_password_stays_on_the_login_page(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "clin-a")
    page.fill("input[name=password]", "not-the-password")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/login" in page.url
    assert "wrong" in page.inner_text("[role=alert]").lower()
