"""Browser tests: a real ``vertebro serve`` driven by Debian's chromium through Playwright.

The contract other browser tests code against:

* ``live_server`` (session): ``vertebro serve`` in a subprocess on a free loopback port, over a
  temporary SQLite registry made with ``vertebro db init`` and seeded with sites ``A`` and
  ``B`` and the users ``admin`` (admin, site A), ``clin-a`` (clinician, A), ``clin-b``
  (clinician, B) and ``researcher``; each user's password is :func:`password` (``"pw-" +
  username + "-2026"``). It has ``.url``, ``.db_url``, ``.log`` (the server's output) and
  ``.registry()`` (a :class:`~vertebro.registry.Registry` on the same store, for setting up
  records a test does not enter through the pages).
* ``browser`` (session) and ``page`` (function: a fresh context, so no cookies are shared,
  1280x900, base URL the server's).
* ``sign_in``: ``sign_in(page, username)`` signs that user in through the login form and
  returns the page, on the page the sign-in led to.
* ``shot``: ``shot(page, name)`` saves a full-page screenshot at 1280 px and at 390 px (a
  phone) to ``screenshot_dir`` (``VERTEBRO_SCREENSHOTS`` or a temporary folder) and returns
  the two paths; it fails if the page scrolls sideways at 390 px.

Playwright drives the system chromium (``/usr/bin/chromium``, or ``VERTEBRO_CHROMIUM``); it
never downloads a browser (no ``playwright install``). When playwright or chromium is missing
the tests here are skipped with the reason, unless ``VERTEBRO_REQUIRE_BROWSER=1`` (as in CI):
then they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from vertebro.registry import Registry

CHROMIUM = os.environ.get("VERTEBRO_CHROMIUM", "/usr/bin/chromium")
REQUIRE = os.environ.get("VERTEBRO_REQUIRE_BROWSER", "") == "1"
#: Users seeded into the live server: (username, role, site).
USERS: tuple[tuple[str, str, str | None], ...] = (
    ("clin-a", "clinician", "A"),
    ("clin-b", "clinician", "B"),
    ("researcher", "researcher", None),
)
STARTUP_TIMEOUT = 60.0  # seconds; a loaded CI machine starts uvicorn slowly
_HERE = Path(__file__).resolve().parent


def password(username: str) -> str:
    """The test password of a seeded user."""
    return f"pw-{username}-2026"


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; never `playwright install`)"
    if not Path(CHROMIUM).is_file():
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def _skip_or_fail() -> None:
    reason = _unavailable()
    if reason is None:
        return
    if REQUIRE:
        pytest.fail(f"VERTEBRO_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"browser tests: {reason}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _unavailable()
    if reason is None or REQUIRE:
        return  # with REQUIRE, the fixtures fail each test with the reason
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=f"browser tests: {reason}"))


# ------------------------------------------------------------------ the server
def _vertebro() -> list[str]:
    exe = Path(sys.executable).parent / "vertebro"
    return [str(exe)] if exe.is_file() else [sys.executable, "-c",
                                             "from vertebro.cli import main; main()"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    db_url: str
    log: Path
    env: dict[str, str] = field(repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @contextmanager
    def registry(self) -> Iterator[Registry]:
        """The server's registry, opened in this process (same key, same store)."""
        from vertebro.registry import Registry

        reg = Registry(self.db_url)
        try:
            yield reg
        finally:
            reg.close()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n"
                           f"{done.stderr}")


def _seed(server: LiveServer) -> None:
    _run([*_vertebro(), "db", "init", "--admin", "admin", "--site", "A",
          "--site-name", "Site A", "--db", server.db_url], server.env)
    from vertebro.registry.accounts import Accounts

    with server.registry() as reg:
        reg.add_site("admin", "B", "Site B")
        for username, role, site in USERS:
            reg.add_user("admin", username, role, site)
        accounts = Accounts(reg)
        for username in ("admin", *(u for u, _, _ in USERS)):
            accounts.set_password(username, password(username))


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    assert server.process is not None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"vertebro serve exited ({server.process.returncode}):\n"
                               + server.output())
        try:
            with urllib.request.urlopen(server.url + "/api/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"vertebro serve did not answer in {STARTUP_TIMEOUT:.0f} s:\n"
                       + server.output())


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _skip_or_fail()
    root = tmp_path_factory.mktemp("live")
    port = _free_port()
    env = {
        **os.environ,
        "VERTEBRO_DATABASE_URL": f"sqlite:///{root / 'registry.db'}",
        "VERTEBRO_SECRET_KEY": "browser-test-secret-not-a-secret",
        "VERTEBRO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "VERTEBRO_COOKIE_SECURE": "auto",
        # tests/conftest.py sets VERTEBRO_REGISTRY_KEY, which the server inherits
    }
    server = LiveServer(url=f"http://127.0.0.1:{port}", db_url=env["VERTEBRO_DATABASE_URL"],
                        log=root / "server.log", env=env)
    _seed(server)
    with server.log.open("wb") as log:
        server.process = subprocess.Popen(
            [*_vertebro(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
        try:
            _wait_until_up(server)
            yield server
        finally:
            server.process.terminate()
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=15)


# ------------------------------------------------------------------ the browser
@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    _skip_or_fail()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def sign_in(live_server: LiveServer) -> Callable[[Page, str], Page]:
    def do(pg: Page, username: str, secret: str | None = None) -> Page:
        pg.context.clear_cookies()  # whoever was signed in on this page is signed out
        pg.goto(live_server.url + "/login")
        pg.fill("input[name=username]", username)
        pg.fill("input[name=password]", secret if secret is not None else password(username))
        with pg.expect_navigation():
            pg.click("button[type=submit]:has-text('Sign in')")
        if "/login" in pg.url:
            raise AssertionError(f"sign-in of {username} failed: {pg.inner_text('body')[:500]}")
        return pg

    return do


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("VERTEBRO_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        return Path(wanted)
    return tmp_path_factory.mktemp("screenshots")


def _scroll_width(pg: Page) -> Any:
    return pg.evaluate("() => document.documentElement.scrollWidth")


@pytest.fixture
def shot(screenshot_dir: Path) -> Callable[[Page, str], tuple[Path, Path]]:
    def take(pg: Page, name: str) -> tuple[Path, Path]:
        size = pg.viewport_size or {"width": 1280, "height": 900}
        paths = []
        try:
            for width in (1280, 390):
                pg.set_viewport_size({"width": width, "height": 900})
                path = screenshot_dir / f"{name}-{width}.png"
                pg.screenshot(path=str(path), full_page=True)
                paths.append(path)
                if width == 390:
                    wide = _scroll_width(pg)
                    assert wide <= 390, f"{name}: the page is {wide} px wide at a 390 px screen"
        finally:
            pg.set_viewport_size(size)
        return paths[0], paths[1]

    return take


def keep_screenshot(path: Path, name: str) -> None:
    """Copy a screenshot into docs/img (when ``VERTEBRO_DOC_SCREENSHOTS=1``), for the docs."""
    if os.environ.get("VERTEBRO_DOC_SCREENSHOTS") == "1":
        target = Path(__file__).resolve().parents[2] / "docs" / "img" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
