"""The five web integrations answer one request sequence with the same bytes.

FastAPI (uvicorn), Flask and Django (gunicorn), Express and Fastify (node)
run the same test app (python/tests/webapps, node/test/webapps) on one
real redis-server, each under its own key prefix. The same sequence of
requests goes to each; the status codes, the RateLimit-Policy, RateLimit
and Retry-After header values and the refusal bodies must be identical
byte for byte (the core renders them all).

Usage: python tests/cross/web_headers.py REDIS_URL
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APPS = os.path.join(ROOT, "python", "tests", "webapps")
SEQUENCE = ["/login"] * 6 + ["/multi"] * 3 + ["/app/a", "/app/b", "/app/c", "/app/d"] + ["/other"]
HEADERS = ["ratelimit-policy", "ratelimit", "retry-after"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(framework: str, url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    py = sys.executable
    bind = f"127.0.0.1:{port}"
    cmd, cwd = {
        "fastapi": ([py, "-m", "uvicorn", "fastapi_app:app", "--host", "127.0.0.1", "--port", str(port),
                     "--log-level", "warning"], APPS),
        "flask": ([py, "-m", "gunicorn", "-w", "1", "-b", bind, "--log-level", "warning", "flask_app:app"], APPS),
        "django": ([py, "-m", "gunicorn", "-w", "1", "-b", bind, "--log-level", "warning", "djangoapp.wsgi"], APPS),
        "express": (["node", "tests/cross/web_server.js", "express", str(port), url, "cross-express:"], ROOT),
        "fastify": (["node", "tests/cross/web_server.js", "fastify", str(port), url, "cross-fastify:"], ROOT),
    }[framework]
    env = {**os.environ, "RW_URL": url, "RW_PREFIX": f"cross-{framework}:"}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/pid", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"{framework} did not start")
        time.sleep(0.1)


def run(base: str) -> list[tuple]:
    out = []
    with httpx.Client(headers={"X-Forwarded-For": "203.0.113.50"}, timeout=10) as c:
        for path in SEQUENCE:
            r = c.get(base + path)
            body = r.json() if r.status_code != 200 else None
            if isinstance(body, dict) and "detail" in body:  # FastAPI's HTTPException envelope
                body = body["detail"]
            out.append((path, r.status_code, *(r.headers.get(h) for h in HEADERS), body))
    return out


def main() -> None:
    url = sys.argv[1]
    results = {}
    for framework in ["fastapi", "flask", "django", "express", "fastify"]:
        proc, base = start(framework, url)
        try:
            results[framework] = run(base)
        finally:
            proc.terminate()
            proc.wait(10)
    reference = results["fastapi"]
    for row in reference:
        print(*row, sep=" | ")
    bad = [f for f, rows in results.items() if rows != reference]
    for f in bad:
        for a, b in zip(reference, results[f]):
            if a != b:
                print(f"{f} differs: {b} (fastapi: {a})", file=sys.stderr)
    if bad:
        raise SystemExit(f"headers differ between languages: {bad}")
    statuses = [row[1] for row in reference]
    assert statuses == [200] * 5 + [429] + [200, 200, 429] + [200] * 3 + [429] + [200], statuses
    print(f"fastapi, flask, django, express and fastify answered {len(SEQUENCE)} requests with identical headers")


if __name__ == "__main__":
    main()
