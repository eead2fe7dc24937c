"""Web middleware under real servers: FastAPI (uvicorn, 2 workers), Flask and
Django (gunicorn, 2 workers), real HTTP from httpx, real Redis.

The apps are in tests/webapps; their limits come from the environment set
here. Every client of a test gets its own address (X-Forwarded-For from the
trusted 127.0.0.1, or its own loopback source address), so tests do not
share budgets.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterator, List, Optional

import httpx
import pytest

from conftest import RedisServer, free_port

APPS = os.path.join(os.path.dirname(__file__), "webapps")
FRAMEWORKS = ["fastapi", "flask", "django"]
_ips = itertools.count(1)


def fresh_ip() -> str:
    n = next(_ips)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def command(framework: str, port: int, workers: bool = True) -> List[str]:
    py = sys.executable
    bind = f"127.0.0.1:{port}"
    # uvicorn's supervisor restarts workers that fail to boot; a single
    # process exits instead (what the startup test looks at)
    two = ["--workers", "2"] if workers else []
    return {
        "fastapi": [py, "-m", "uvicorn", "fastapi_app:app", "--host", "127.0.0.1", "--port", str(port),
                    *two, "--log-level", "warning"],
        "flask": [py, "-m", "gunicorn", "-w", "2", "-b", bind, "--log-level", "warning", "flask_app:app"],
        "django": [py, "-m", "gunicorn", "-w", "2", "-b", bind, "--log-level", "warning", "djangoapp.wsgi"],
    }[framework]


class Server:
    """One framework's app under its real server, on a free port."""

    def __init__(self, framework: str, env: Dict[str, str]) -> None:
        self.framework = framework
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            command(framework, self.port),
            cwd=APPS,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"{framework} exited: {self.log.read().decode()[-2000:]}")
            try:
                if httpx.get(self.base + "/pid", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{framework} did not start")
            time.sleep(0.1)

    def get(self, path: str, ip: Optional[str] = None, source: Optional[str] = None,
            headers: Optional[Dict[str, str]] = None) -> httpx.Response:
        h = dict(headers or {})
        if ip is not None:
            h["X-Forwarded-For"] = ip
        transport = httpx.HTTPTransport(local_address=source) if source else None
        with httpx.Client(transport=transport, timeout=10) as c:
            return c.get(self.base + path, headers=h)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=FRAMEWORKS)
def app(request: pytest.FixtureRequest, redis: RedisServer) -> Iterator[Server]:
    s = Server(request.param, {"RW_URL": redis.url, "RW_PREFIX": f"web-{request.param}:"})
    yield s
    s.stop()


STATE = re.compile(r'^"5/minute";r=(\d+);t=(\d+)$')


def check_headers(r: httpx.Response) -> int:
    """The draft-11 headers of a 5/minute response; returns r=."""
    assert r.headers["RateLimit-Policy"] == '"5/minute";q=5;w=60'
    m = STATE.match(r.headers["RateLimit"])
    assert m, r.headers["RateLimit"]
    remaining, t = int(m.group(1)), int(m.group(2))
    assert 1 <= t <= 60
    if r.status_code == 429:
        assert remaining == 0
        retry = int(r.headers["Retry-After"])
        assert 1 <= retry <= 60
        body = r.json()
        body = body.get("detail", body)  # FastAPI's HTTPException wraps it
        assert body == {"error": "rate_limited", "retry_after": retry}
    else:
        assert r.status_code == 200
        assert "Retry-After" not in r.headers
    return remaining


def test_exactly_five_across_both_workers(app: Server) -> None:
    ip = fresh_ip()
    with ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda _: app.get("/login", ip), range(20)))
    codes = [r.status_code for r in rs]
    assert codes.count(200) == 5 and codes.count(429) == 15, codes
    assert sorted(check_headers(r) for r in rs if r.status_code == 200) == [0, 1, 2, 3, 4]
    for r in rs:
        check_headers(r)
    # Two worker processes served this app (and so shared the budget above).
    with ThreadPoolExecutor(16) as ex:
        pids = {r.json()["pid"] for r in ex.map(lambda _: app.get("/pid"), range(200))}
    assert len(pids) == 2, pids


def test_sequence_counts_down_and_retry_after_is_right(app: Server) -> None:
    ip = fresh_ip()
    seen = [check_headers(app.get("/login", ip)) for _ in range(5)]
    assert seen == [4, 3, 2, 1, 0]
    r = app.get("/login", ip)
    assert r.status_code == 429
    # the first admission was under a second ago: it leaves the window in 60 s
    assert int(r.headers["Retry-After"]) in (59, 60)


def test_routes_clients_and_skip_are_independent(app: Server) -> None:
    a, b = fresh_ip(), fresh_ip()
    for _ in range(5):
        assert app.get("/login", a).status_code == 200
    assert app.get("/login", a).status_code == 429
    assert check_headers(app.get("/other", a)) == 4  # another route, its own budget
    assert check_headers(app.get("/login", b)) == 4  # another client
    for _ in range(3):  # skipped requests pass uncounted and carry no headers
        r = app.get("/login", a, headers={"X-Skip": "1"})
        assert r.status_code == 200 and "RateLimit" not in r.headers


def test_a_cost_function_counts_units(app: Server) -> None:
    ip = fresh_ip()
    r = app.get("/upload", ip, headers={"X-Cost": "3"})
    assert check_headers(r) == 2
    assert app.get("/upload", ip, headers={"X-Cost": "3"}).status_code == 429  # 3 > 2 left: nothing spent
    assert check_headers(app.get("/upload", ip, headers={"X-Cost": "2"})) == 0


def test_ipv6_clients_are_grouped_by_64(app: Server) -> None:
    n = next(_ips)
    for i in range(5):
        assert app.get("/login", f"2001:db8:{n:x}:7::{i + 1}").status_code == 200
    assert app.get("/login", f"2001:db8:{n:x}:7:ffff::9").status_code == 429
    assert app.get("/login", f"2001:db8:{n:x}:8::1").status_code == 200


def test_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(app: Server) -> None:
    source = f"127.0.{next(_ips) % 250}.{9 + next(_ips) % 200}"  # not the trusted 127.0.0.1
    codes = [app.get("/login", fresh_ip(), source=source).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2


def test_several_quotas_per_route_are_all_or_nothing(app: Server) -> None:
    ip = fresh_ip()
    rs = [app.get("/multi", ip) for _ in range(3)]
    assert [r.status_code for r in rs] == [200, 200, 429]
    assert rs[0].headers["RateLimit-Policy"] == '"2/second";q=2;w=1, "3/minute";q=3;w=60'
    assert re.match(r'^"2/second";r=1;t=1, "3/minute";r=2;t=60$', rs[0].headers["RateLimit"])
    # refused by the second quota: nothing was spent on the minute
    assert re.match(r'^"2/second";r=0;t=1, "3/minute";r=1;t=60$', rs[2].headers["RateLimit"])
    assert rs[2].headers["Retry-After"] == "1"
    time.sleep(1.1)
    assert app.get("/multi", ip).status_code == 200  # the minute's third
    time.sleep(1.1)
    r = app.get("/multi", ip)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 56


def test_app_wide_default_is_one_budget_across_routes(app: Server) -> None:
    ip = fresh_ip()
    codes = [app.get(f"/app/{i}", ip).status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = app.get("/app/x", ip)
    assert r.headers["RateLimit-Policy"] == '"3/minute";q=3;w=60'


MODES = {"fastapi": "allow", "flask": "deny", "django": "error"}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_redis_stopped_mid_test_follows_the_failure_mode_and_recovers(framework: str) -> None:
    redis = RedisServer()
    mode = MODES[framework]
    server = Server(framework, {"RW_URL": redis.url, "RW_FAILURE_MODE": mode, "RW_TIMEOUT": "0.3"})
    try:
        ip = fresh_ip()
        assert check_headers(server.get("/login", ip)) == 4
        redis.kill()
        for _ in range(3):
            start = time.monotonic()
            r = server.get("/login", ip)
            assert time.monotonic() - start < 3, "no hang beyond the deadline"
            if mode == "allow":
                assert r.status_code == 200
                assert r.headers["RateLimit-Policy"] == '"5/minute";q=5;w=60'
                assert "RateLimit" not in r.headers  # no counts Redis did not give
            elif mode == "deny":
                assert r.status_code == 503
                assert "RateLimit" not in r.headers
                body = json.loads(r.text)
                assert body == {"error": "rate_limiter_unavailable", "retry_after": int(r.headers["Retry-After"])}
            else:
                assert r.status_code == 500
        redis.start()
        deadline = time.monotonic() + 10
        while True:
            r = server.get("/login", ip)
            if r.status_code == 200 and "RateLimit" in r.headers:
                break
            assert time.monotonic() < deadline, f"did not recover: {r.status_code} {r.headers}"
            time.sleep(0.2)
        # the restarted Redis is empty: counting starts again
        assert check_headers(r) == 4
    finally:
        server.stop()
        redis.stop()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_unparsable_quota_fails_at_startup(framework: str) -> None:
    var = "RW_APP_QUOTA" if framework == "django" else "RW_LOGIN_QUOTA"
    port = free_port()
    proc = subprocess.run(
        command(framework, port, workers=False), cwd=APPS, env={**os.environ, var: "5/fortnight"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
    )
    assert proc.returncode != 0
    assert b"unknown period unit" in proc.stderr and b"fortnight" in proc.stderr


def test_bad_configuration_is_refused_where_it_is_written() -> None:
    from ratewarden import AsyncLimiter, InvalidArgumentError, Limiter
    from ratewarden.asgi import RateLimitMiddleware, limit
    from ratewarden.flask import RateLimiter

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        pass

    alim, lim = AsyncLimiter("memory://web-bad"), Limiter("memory://web-bad")
    with pytest.raises(InvalidArgumentError, match="fortnight"):
        RateLimitMiddleware(app, limiter=alim, quota="5/fortnight")
    with pytest.raises(TypeError, match="key must be callable"):
        RateLimitMiddleware(app, limiter=alim, quota="5/minute", key="ip")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AsyncLimiter"):
        RateLimitMiddleware(app, limiter=lim, quota="5/minute")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="trusted proxy"):
        limit("5/minute", limiter=alim, trusted_proxies=["10.0.0.0/33"])
    with pytest.raises(InvalidArgumentError, match="header set"):
        limit("5/minute", limiter=alim, headers="draft-12")
    with pytest.raises(TypeError, match="cost"):
        RateLimitMiddleware(app, limiter=alim, quota="5/minute", cost=0)
    rl = RateLimiter(limiter=lim)
    with pytest.raises(InvalidArgumentError, match="must be at least 1"):
        rl.limit("0/minute")
    with pytest.raises(TypeError, match="ratewarden.Limiter"):
        RateLimiter(limiter=alim)  # type: ignore[arg-type]


async def test_pure_asgi_legacy_headers_and_on_limited() -> None:
    """The middleware on a bare ASGI app (no framework), driven by ASGI messages."""
    from ratewarden import AsyncLimiter
    from ratewarden.asgi import RateLimitMiddleware

    async def inner(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def teapot(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    mw = RateLimitMiddleware(inner, limiter=AsyncLimiter("memory://web-asgi"), quota="1/minute",
                             headers=["draft-11", "draft-06"], on_limited=lambda req, v: teapot)

    async def call() -> List[dict]:
        sent: List[dict] = []

        async def send(m: dict) -> None:
            sent.append(m)

        async def receive() -> dict:
            return {"type": "http.request"}

        scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": ("192.0.2.1", 1)}
        await mw(scope, receive, send)
        return sent

    first = await call()
    assert first[0]["status"] == 200
    assert first[0]["headers"] == [
        (b"x-app", b"1"),
        (b"ratelimit-policy", b'"1/minute";q=1;w=60'),
        (b"ratelimit", b'"1/minute";r=0;t=60'),
        (b"ratelimit-limit", b"1"),
        (b"ratelimit-remaining", b"0"),
        (b"ratelimit-reset", b"60"),
    ]
    assert (await call())[0]["status"] == 418


def test_headers_of_two_limits_on_one_request_combine_as_lists() -> None:
    from ratewarden._web import merged

    pairs = [("RateLimit-Policy", "a"), ("RateLimit", "x"), ("RateLimit-Limit", "5"),
             ("RateLimit-Policy", "b"), ("RateLimit", "y"), ("RateLimit-Limit", "3"), ("Retry-After", "2")]
    assert merged(pairs) == [("RateLimit-Policy", "a, b"), ("RateLimit", "x, y"), ("RateLimit-Limit", "3"),
                             ("Retry-After", "2")]
