"""Web load benchmark: `vertebro serve --workers 2` on loopback beside the same work in-process.

    .venv/bin/python benchmarks/web_bench.py [--quick] [--duration S] [--workers N]
        [--concurrency 1,8,32] [--json FILE]

It seeds a temporary SQLite registry (the synthetic demo cohort, 300 patients at 3 sites),
gives the demo clinician ``clin-demo1`` an API token, starts ``vertebro serve --workers 2``
as a subprocess on a free loopback port (stopped at the end, whatever happens) and drives two
endpoints, each at 1, 8 and 32 concurrent clients (one keep-alive HTTP/1.1 connection each, on
asyncio streams: the request encoded once, the answer read by its Content-Length; uvloop
when installed; httpx only for the checks before the load):

* ``POST /api/assess``: the body is ``examples/aospine_case.json``;
* ``GET /api/registry/patients``: the clinician's patient list (100 patients), signed in
  with ``Authorization: Bearer``;

and, once at 8 concurrent, ``GET /api/health``: no service work, so its server CPU is the
fixed cost of one request through this HTTP stack (uvicorn, Starlette/FastAPI, vertebro's
middleware), a floor under every endpoint's cost.

Before the load, each endpoint's answer is checked against the library (the same JSON as
the in-process call); during the load every answer must be HTTP 200 with exactly those bytes.
Per (endpoint, concurrency) it reports throughput, p50/p95/p99 latency, the error count (any
other status or body, an answer without a Content-Length, any transport error) and the
server's CPU time per request: the user + system
time of the server's processes (supervisor and workers, from ``/proc/PID/stat``) before and
after the stage, divided by the requests of the stage. Beside it, in the same run, the CPU
time per request of the same work done in this process by the functions the routes call:

* assess: ``check_json`` + ``validate_json`` + ``assess`` (what ``_api._assess`` runs);
* patients: ``Accounts.token_user`` (the Bearer lookup) + ``Registry.list_patients``.

Encoding the answer as JSON is HTTP work and so not in the baseline; its cost is printed
beside it, and (floor + JSON + service) / service is printed as the least ratio this stack
allows. Goals (issue 11): 0 errors; server CPU per request <= 1.5x the
in-process CPU; p99 at 8 concurrent <= 4x its p50.

The load generator runs on the same machine as the server, so on a small machine the client
competes with the server for the cores: the script prints the load average and its own CPU
time per request to make that visible. Each stage runs ``--duration`` seconds (default 4;
``--quick``: 1.2) after a short warm-up, and the health floor runs once; the whole run stops
by itself: about 40 s of load and baseline by default, about 13 s with ``--quick``, plus the
seeding and the server's start-up (3 s on a quiet machine, 13 s at load 4 on 2 cores).
Exit status 0 when every goal holds, 1 otherwise. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic_core import to_json

from vertebro.assess import ENGINE_VERSION, assess, default_rulebook, validate_json
from vertebro.registry import Registry
from vertebro.registry.accounts import Accounts
from vertebro.registry.demo import seed
from vertebro.web._json import check_json

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "aospine_case.json"
USER = "clin-demo1"  # the demo clinician of site DEMO1: a third of the cohort
CLK_TCK = os.sysconf("SC_CLK_TCK")
GOAL_CPU = 1.5  # server CPU per request <= 1.5x in-process (issue 11)
GOAL_TAIL = 4.0  # p99 <= 4x p50 at 8 concurrent (issue 11)
TAIL_AT = 8
T = TypeVar("T")
STARTUP_ALLOWANCE = 10  # seconds kept for seeding and start-up within the 60 s


# ------------------------------------------------------------------ the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it (the uvicorn supervisor spawns its workers)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = [root], [root]
    while todo:
        pid = todo.pop()
        kids = [p for p, pp in parent.items() if pp == pid]
        found += kids
        todo += kids
    return found


def cpu_seconds(root: int) -> float:
    """User + system CPU time of ``root`` and its descendants, now (seconds)."""
    ticks = 0
    for pid in _descendants(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return ticks / CLK_TCK


@contextlib.contextmanager
def serving(env: dict[str, str], workers: int, log: Path,
            timeout: float = 120) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``vertebro serve --workers N`` on a free loopback port until the block ends; the
    whole process group is stopped on the way out, whatever happened."""
    port = free_port()
    exe = Path(sys.executable).parent / "vertebro"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(exe), "serve", "--port", str(port),
                                 "--workers", str(workers)],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start:\n" + log.read_text()[-2000:])
                time.sleep(0.2)
            yield base, proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


# ------------------------------------------------------------------ the load
@dataclass
class Stage:
    endpoint: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    server_cpu_ms: float  # per request
    client_cpu_ms: float  # per request, this process

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]

    def request(self, host: str) -> bytes:
        """The whole HTTP/1.1 request, encoded once per stage."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"host: {host}",
                 *(f"{k}: {v}" for k, v in self.headers.items())]
        if self.body is not None:
            lines.append(f"content-length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (self.body or b"")


class Refused(Exception):
    """An answer that is not the expected one (status, framing or body)."""


class Connection:
    """One keep-alive HTTP/1.1 connection that sends a pre-encoded request and reads the
    answer by its Content-Length: the least client CPU per request, because the client
    shares the machine's cores with the server (httpx spent 1-3 ms per request here)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or parts[0] != b"HTTP/1.1" or not parts[1].isdigit():
            raise Refused(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
        length = None
        for line in header_lines:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                self.close()  # after this answer
        if length is None:
            raise Refused(f"HTTP {int(parts[1])} without a Content-Length")
        assert self.reader is not None
        return int(parts[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _drive(base: tuple[str, int], ep: Endpoint, expected: bytes, concurrency: int,
                 seconds: float) -> tuple[list[float], int, list[str]]:
    """``concurrency`` clients, each on its own keep-alive connection, sending ``ep`` back to
    back for ``seconds``; each finishes the request it is in. Every answer must be HTTP 200
    with exactly the ``expected`` body (the answer checked against the library before the
    load; comparing bytes costs about a microsecond). Latencies in seconds, the error count
    (any other answer, any transport error), a few error samples."""
    latencies: list[float] = []
    errors = 0
    samples: list[str] = []
    request = ep.request(f"{base[0]}:{base[1]}")
    stop = time.perf_counter() + seconds

    async def one_client() -> None:
        nonlocal errors
        conn = Connection(*base)
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    status, body = await conn.exchange(request)
                    why = (None if status == 200 and body == expected else
                           f"HTTP {status}: {body[:200]!r}" if status != 200 else
                           f"HTTP 200 with another body ({len(body)} bytes, expected "
                           f"{len(expected)}): {body[:200]!r}")
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        Refused, ValueError) as exc:
                    why = f"{type(exc).__name__}: {exc}"
                    conn.close()  # a new connection for the next request
                latencies.append(time.perf_counter() - t0)
                if why is not None:
                    errors += 1
                    if len(samples) < 3:
                        samples.append(why)
        finally:
            conn.close()

    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return latencies, errors, samples


def _pct(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    if len(sorted_ms) == 1:
        return sorted_ms[0]
    return statistics.quantiles(sorted_ms, n=100, method="inclusive")[round(q) - 1]


async def run_stage(base: tuple[str, int], server_pid: int, ep: Endpoint, expected: bytes,
                    concurrency: int, seconds: float, warmup: float) -> tuple[Stage, list[str]]:
    await _drive(base, ep, expected, concurrency, warmup)  # workers warm
    cpu0, own0, t0 = cpu_seconds(server_pid), time.process_time(), time.perf_counter()
    latencies, errors, samples = await _drive(base, ep, expected, concurrency, seconds)
    wall = time.perf_counter() - t0
    cpu1, own1 = cpu_seconds(server_pid), time.process_time()
    n = len(latencies)
    ms = sorted(x * 1000 for x in latencies)
    return Stage(ep.name, concurrency, n, errors, wall, _pct(ms, 50), _pct(ms, 95),
                 _pct(ms, 99), (cpu1 - cpu0) * 1000 / max(n, 1),
                 (own1 - own0) * 1000 / max(n, 1)), samples


# ------------------------------------------------------------------ in-process
def in_process_ms(work: Callable[[], object], seconds: float) -> float:
    """CPU time per call of ``work`` in this process (ms), over about ``seconds``."""
    work()  # warm
    calls, cpu0 = 0, time.process_time()
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        work()
        calls += 1
    return (time.process_time() - cpu0) * 1000 / calls


def _json_bytes(value: object) -> bytes:
    # how the server encodes these answers: pydantic's Rust core (web/_response.py for
    # assess, FastAPI's response-model serializer for the patient list)
    return to_json(value)


# ------------------------------------------------------------------ report
def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _verdict(ok: bool) -> str:
    return "holds" if ok else "FAILS"


def report(stages: list[Stage], baseline: dict[str, Baseline]) -> list[str]:
    """Print the table, the baseline and the goals; return the goals that failed."""
    print()
    print(f"{'endpoint':<9} {'conc':>4} {'req':>6} {'req/s':>7} {'err':>4} "
          f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'srv cpu ms':>10} {'in-proc ms':>10} "
          f"{'ratio':>6} {'client ms':>9}")
    for s in stages:
        b = baseline.get(s.endpoint)
        shown = f"{s.server_cpu_ms / b.cpu_ms:>5.2f}x" if b else f"{'-':>6}"
        print(f"{s.endpoint:<9} {s.concurrency:>4} {s.requests:>6} {s.throughput:>7.0f} "
              f"{s.errors:>4} {s.p50_ms:>7.2f} {s.p95_ms:>7.2f} {s.p99_ms:>7.2f} "
              f"{s.server_cpu_ms:>10.3f} {f'{b.cpu_ms:.3f}' if b else '-':>10} {shown} "
              f"{s.client_cpu_ms:>9.3f}")
    print("  srv cpu ms: CPU time of the server's processes (supervisor + workers) per request\n"
          "  in-proc ms: the same service calls in this process, CPU per call; ratio = srv / "
          "in-proc\n  client ms: this process's CPU per request while it drove the load (it "
          "shares the machine's cores)")
    for name, b in baseline.items():
        print(f"  in-process {name}: {b.what}: {b.cpu_ms:.3f} ms; encoding the answer as JSON "
              f"(HTTP's work, not in the ratio) costs {b.json_ms:.3f} ms more")
    floor = [s for s in stages if s.endpoint == FLOOR.name]
    if floor:
        print(f"  {FLOOR.name}: {FLOOR.method} {FLOOR.path}, no service work: the fixed cost "
              f"of one request through this HTTP stack, {floor[0].server_cpu_ms:.3f} ms")
    failed = []
    errors = sum(s.errors for s in stages)
    print("\ngoals (issue 11):")
    print(f"  0 errors: {errors} errors -> {_verdict(not errors)}")
    if errors:
        failed.append("errors")
    for name, b in baseline.items():
        mine = [s for s in stages if s.endpoint == name]
        worst = max(mine, key=lambda s: s.server_cpu_ms)
        ratio = worst.server_cpu_ms / b.cpu_ms
        print(f"  server CPU per request <= {GOAL_CPU}x in-process, {name}: worst {ratio:.2f}x "
              f"(at {worst.concurrency} concurrent) -> {_verdict(ratio <= GOAL_CPU)}")
        if ratio > GOAL_CPU:
            failed.append(f"cpu {name}")
        if floor:
            # what any server built on this stack must spend: the fixed cost of a request
            # plus encoding this answer, on top of the service work itself
            least = (floor[0].server_cpu_ms + b.json_ms + b.cpu_ms) / b.cpu_ms
            print(f"    least ratio this HTTP stack allows ({FLOOR.name} floor + JSON + "
                  f"service) / service: about {least:.2f}x")
    for s in stages:
        if s.concurrency == TAIL_AT and s.endpoint in baseline:
            tail = s.p99_ms / s.p50_ms
            print(f"  p99 <= {GOAL_TAIL}x p50 at {TAIL_AT} concurrent, {s.endpoint}: "
                  f"{s.p99_ms:.2f} / {s.p50_ms:.2f} ms = {tail:.2f}x -> "
                  f"{_verdict(tail <= GOAL_TAIL)}")
            if tail > GOAL_TAIL:
                failed.append(f"tail {s.endpoint}")
    return failed


# ------------------------------------------------------------------ main
@dataclass(frozen=True)
class Baseline:
    what: str
    cpu_ms: float
    json_ms: float


FLOOR = Endpoint("health", "GET", "/api/health", None, {})


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="1.2 s per stage (about 15 s in all, plus the server's start-up)")
    ap.add_argument("--duration", type=float,
                    help="seconds of load per stage (default 4; --quick 1.2)")
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (2)")
    ap.add_argument("--concurrency", default="1,8,32",
                    help="concurrent clients per stage, comma-separated (1,8,32)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = ap.parse_args(argv)
    args.seconds = args.duration if args.duration is not None else (1.2 if args.quick else 4.0)
    try:
        args.levels = [int(c) for c in args.concurrency.split(",")]
    except ValueError:
        ap.error(f"--concurrency: {args.concurrency!r} is not a list of numbers")
    if not all(0 < c <= 256 for c in args.levels):
        ap.error("--concurrency: each count must be in 1..256")
    if not 1 <= args.workers <= 8:
        ap.error("--workers: 1..8")
    # the load stages (two endpoints at each level, the floor once) and the baseline
    planned = (2 * len(args.levels) + 1) * (args.seconds + warmup_of(args.seconds)) \
        + 2 * 1.5 * max(0.5, args.seconds / 2)
    # plus the seeding and the server's start-up, a few seconds on a quiet machine
    if args.seconds <= 0 or planned + STARTUP_ALLOWANCE > 60:
        ap.error(f"--duration/--concurrency: the run would take {planned:.0f} s plus the "
                 f"server's start-up; at most {60 - STARTUP_ALLOWANCE} s")
    return args


def warmup_of(seconds: float) -> float:
    return min(0.5, seconds / 3)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    # SIGTERM ends the run like Ctrl-C: the server is stopped on the way out in any case
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    shown = argv if argv is not None else sys.argv[1:]
    print(f"web_bench: python benchmarks/web_bench.py {' '.join(shown)}".rstrip())
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {_load()}; Python "
          f"{sys.version.split()[0]}; server: vertebro serve --workers {args.workers} "
          f"(uvicorn {_version('uvicorn')}, {_http_impl()}), loopback; client: "
          f"asyncio streams on {_client_loop()}, keep-alive, pre-encoded requests, in this "
          "process")
    with tempfile.TemporaryDirectory(prefix="web_bench.") as tmp:
        url = f"sqlite:///{Path(tmp) / 'registry.db'}"
        reg = Registry.create(url)
        try:
            stages, baseline, server_pid = _run(args, reg, url, Path(tmp))
        finally:
            reg.close()
    failed = report(stages, baseline)
    print(f"\nwhole run {time.perf_counter() - started:.1f} s; {_load()}")
    if args.json:
        args.json.write_text(json.dumps({
            "stages": [asdict(s) | {"throughput": s.throughput} for s in stages],
            "baseline": {k: asdict(v) for k, v in baseline.items()},
            "failed": failed, "server_pid": server_pid}, indent=2))
    return 1 if failed else 0


def _run(args: argparse.Namespace, reg: Registry, url: str, tmp: Path
         ) -> tuple[list[Stage], dict[str, Baseline], int]:
    seed(reg, 300, sites=3, seed=1)  # the synthetic demo cohort
    accounts = Accounts(reg)
    token = accounts.create_token(USER, "web_bench")
    body = EXAMPLE.read_bytes()

    def assess_work() -> dict[str, Any]:
        check_json(body)  # what vertebro.web._api._assess runs
        return assess(validate_json(body))

    def patients_work() -> list[dict[str, Any]]:
        who = accounts.token_user(token)  # the Bearer lookup of every registry request
        assert who is not None
        rows: list[dict[str, Any]] = reg.list_patients(who.username)
        return rows[:100]  # the route's default page

    assess_ep = Endpoint("assess", "POST", "/api/assess", body,
                         {"content-type": "application/json"})
    patients_ep = Endpoint("patients", "GET", "/api/registry/patients", None,
                           {"authorization": f"Bearer {token}"})
    env = {**os.environ, "VERTEBRO_DATABASE_URL": url,
           "VERTEBRO_SECRET_KEY": secrets.token_hex(32), "VERTEBRO_ALLOWED_HOSTS": "127.0.0.1"}
    t0 = time.perf_counter()
    stages: list[Stage] = []
    with serving(env, args.workers, tmp / "serve.log") as (base, proc):
        print(f"server up in {time.perf_counter() - t0:.1f} s at {base} (pid {proc.pid}, "
              f"{len(_descendants(proc.pid)) - 1} child processes)")
        # the server answers what the library answers: checked once, before any timing;
        # these bytes are then the answer every request of the load must get
        got = httpx.post(f"{base}{assess_ep.path}", content=body,
                         headers=assess_ep.headers, timeout=30)
        if got.status_code != 200 or got.json() != json.loads(_json_bytes(assess_work())):
            raise SystemExit(f"/api/assess differs from vertebro.assess: {got.text[:300]}")
        listed = httpx.get(f"{base}{patients_ep.path}", headers=patients_ep.headers,
                           timeout=30)
        if listed.status_code != 200 or listed.json()["patients"] != patients_work():
            raise SystemExit(f"the patient list differs: {listed.text[:300]}")
        health = httpx.get(f"{base}{FLOOR.path}", timeout=30)
        if health.status_code != 200 or health.json() != {
                "status": "ok", "engine_version": ENGINE_VERSION,
                "rulebook_version": default_rulebook().version}:
            raise SystemExit(f"/api/health differs: {health.text[:300]}")
        expected = {assess_ep.name: got.content, patients_ep.name: listed.content,
                    FLOOR.name: health.content}
        address = (_host(base), int(base.rsplit(":", 1)[1]))
        plan = [(ep, c) for ep in (assess_ep, patients_ep) for c in args.levels]
        plan.append((FLOOR, TAIL_AT if TAIL_AT in args.levels else args.levels[0]))
        for ep, c in plan:
            stage, samples = _run_loop(run_stage(address, proc.pid, ep, expected[ep.name], c,
                                                 args.seconds, warmup_of(args.seconds)))
            stages.append(stage)
            print(f"  {ep.name} x{c}: {stage.requests} requests, {stage.errors} errors"
                  + "".join(f"\n    e.g. {x}" for x in samples), flush=True)
    print(f"server stopped; {_load()}")
    # the baseline: same machine, same run, with the server stopped
    spend = max(0.5, args.seconds / 2)
    answer, rows = assess_work(), patients_work()
    baseline = {
        "assess": Baseline("check_json + validate_json + assess",
                           in_process_ms(assess_work, spend),
                           in_process_ms(lambda: _json_bytes(answer), spend / 2)),
        "patients": Baseline("Accounts.token_user + Registry.list_patients",
                             in_process_ms(patients_work, spend),
                             in_process_ms(lambda: _json_bytes({"patients": rows}), spend / 2)),
    }
    return stages, baseline, proc.pid


def _host(base: str) -> str:
    return base.split("://", 1)[1].rsplit(":", 1)[0]


def _run_loop(job: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed (as the server uses it): the client's
    own CPU per request, which it takes from the server's cores, is then smaller."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(job)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(job)


def _client_loop() -> str:
    import importlib.util

    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def _http_impl() -> str:
    # uvicorn's "auto" picks httptools and uvloop when they are installed, h11 and asyncio
    # otherwise: say which, as the numbers depend on it
    import importlib.util

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{http} + {loop}"


if __name__ == "__main__":
    sys.exit(main())
