"""The web examples run as they are: examples/fastapi (uvicorn),
examples/flask (flask run) and examples/express (node), each on memory://;
the sixth POST /login within a minute is a 429 with the IETF headers.

Usage: python tests/cross/examples.py   (the Python venv of scripts/test.sh,
the built Node package in node/)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(name: str, cmd: list[str], cwd: str, port: int, env: dict[str, str]) -> None:
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{name} example did not start")
                time.sleep(0.1)
        codes = [httpx.post(base + "/login").status_code for _ in range(6)]
        assert codes == [200] * 5 + [429], (name, codes)
        r = httpx.post(base + "/login")
        assert '"5/minute";q=5;w=60' in r.headers["RateLimit-Policy"], (name, r.headers)
        assert '"5/minute";r=0;t=' in r.headers["RateLimit"], (name, r.headers)
        assert int(r.headers["Retry-After"]) >= 59, (name, r.headers)
        print(f"examples/{name}: 5 x 200, then 429 with {r.headers['RateLimit']!r}")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    py = sys.executable
    port = free_port()
    check("fastapi", [py, "-m", "uvicorn", "app:app", "--port", str(port), "--log-level", "warning"],
          os.path.join(ROOT, "examples", "fastapi"), port, {})
    port = free_port()
    check("flask", [py, "-m", "flask", "--app", "app", "run", "--port", str(port)],
          os.path.join(ROOT, "examples", "flask"), port, {})
    # `npm install` in examples/express links ../../node; here the built
    # package and the repository's express stand in for it.
    with tempfile.TemporaryDirectory() as mods:
        os.symlink(os.path.join(ROOT, "node"), os.path.join(mods, "ratewarden"))
        port = free_port()
        node_path = os.pathsep.join([mods, os.path.join(ROOT, "node", "node_modules")])
        check("express", ["node", "app.js"], os.path.join(ROOT, "examples", "express"), port,
              {"PORT": str(port), "NODE_PATH": node_path})


if __name__ == "__main__":
    main()
