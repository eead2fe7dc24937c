"""A Python process that exits while the library still works in the
background — a connection being made, a call in flight, a server that does
not answer, a script that raises — exits silently: no library thread touches
the finalizing interpreter (which used to print a Rust panic from the
logging bridge on every such exit)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import RedisServer

# Printed by a Rust panic, a crash or a hang in finalization.
FORBIDDEN = ("panicked", "stack backtrace", "Fatal Python error", "Segmentation", "Aborted", "RUST_BACKTRACE")

SCRIPTS = {
    # The reproduction: a Redis limiter, then exit before it connected.
    "construct": "ratewarden.Limiter(URL)",
    "construct_logging": """
        logging.basicConfig(level=logging.DEBUG)
        ratewarden.Limiter(URL)
    """,
    # A call still in flight on a daemon thread at exit.
    "pending_sync": """
        logging.basicConfig(level=logging.DEBUG)
        lim = ratewarden.Limiter(URL, timeout=2.0)
        threading.Thread(target=lambda: lim.check("c", "/e", quota="5/second"), daemon=True).start()
        time.sleep(0.005)
    """,
    # An asyncio call still pending when the loop and the interpreter end.
    "pending_async": """
        logging.basicConfig(level=logging.DEBUG)
        async def main():
            lim = ratewarden.AsyncLimiter(URL, timeout=2.0)
            asyncio.ensure_future(lim.check("c", "/e", quota="5/second"))
            await asyncio.sleep(0)
        asyncio.run(main())
    """,
    # Decisions made, then the script raises.
    "raises": """
        logging.basicConfig(level=logging.DEBUG)
        lim = ratewarden.Limiter(URL, timeout=2.0)
        for i in range(20):
            lim.check(f"c{i}", "/e", quota="5/second")
        raise RuntimeError("boom")
    """,
}


def run(body: str, url: str) -> subprocess.CompletedProcess[str]:
    code = "import asyncio, logging, threading, time, ratewarden\n"
    code += f"URL = {url!r}\n" + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_exit_is_silent_with_redis_up(redis_server: RedisServer, name: str) -> None:
    for _ in range(5):
        p = run(SCRIPTS[name], redis_server.url)
        for word in FORBIDDEN:
            assert word not in p.stderr, f"{name}: {p.stderr}"
        if name == "raises":
            assert p.returncode == 1 and "RuntimeError: boom" in p.stderr, p.stderr
        else:
            assert p.returncode == 0, f"{name}: rc {p.returncode}: {p.stderr}"
        if name == "construct":
            assert p.stderr == "", p.stderr


@pytest.mark.parametrize("name", ["construct_logging", "pending_sync", "pending_async"])
def test_exit_is_silent_with_redis_down(closed_url: str, name: str) -> None:
    # Connection refused: warnings are logged from the runtime threads while
    # the interpreter exits.
    for _ in range(5):
        p = run(SCRIPTS[name], closed_url)
        for word in FORBIDDEN:
            assert word not in p.stderr, f"{name}: {p.stderr}"
        assert p.returncode == 0, f"{name}: rc {p.returncode}: {p.stderr}"
