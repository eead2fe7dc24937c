"""Against real redis-server processes: exactness across processes, threads
and asyncio, GIL release, fork safety, Redis down and back, logging."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

import ratewarden


def _hammer_process(url: str, client: str, threads: int, calls: int) -> int:
    lim = ratewarden.Limiter(url)
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(lambda: sum(lim.is_allowed(client, "/mp", 100, 1) for _ in range(calls)))
                   for _ in range(threads)]
        return sum(f.result() for f in futures)


def test_exact_with_4_processes_of_8_threads(redis_server) -> None:
    client = str(uuid.uuid4())
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        counts = pool.starmap(_hammer_process, [(redis_server.url, client, 8, 10)] * 4)
    assert sum(counts) == 100, counts


def test_32_threads_share_one_limiter_exactly(redis_server) -> None:
    lim = ratewarden.Limiter(redis_server.url)
    client = str(uuid.uuid4())
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _: lim.is_allowed(client, "/t", 200, 1), range(640)))
    assert sum(results) == 200


def test_gil_is_released_while_waiting(redis_server) -> None:
    lim = ratewarden.Limiter(redis_server.url, timeout=1.0)
    assert lim.is_allowed("gil", "/g", 5, 5)
    redis_server.pause()
    ticks = 0
    stop = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        with pytest.raises(ratewarden.TimeoutError) as info:
            lim.is_allowed("gil", "/g", 5, 5)
        assert info.value.outcome_unknown
    finally:
        stop.set()
        t.join()
        redis_server.resume()
    # Python code kept running during the 1 s wait: the GIL was released.
    assert ticks > 100, ticks


async def test_asyncio_gather_of_2000_admits_exactly_capacity(redis_server) -> None:
    lim = ratewarden.AsyncLimiter(redis_server.url)
    client = str(uuid.uuid4())
    results = await asyncio.gather(*(lim.is_allowed(client, "/a", 150, 1) for _ in range(2000)))
    assert sum(results) == 150
    d = await lim.check(client, "/a", 150, 1)
    assert not d.allowed and d.remaining == 0


def test_results_reach_their_loop_through_one_channel_per_loop(redis_server) -> None:
    """Answers are queued for the loop and drained on it: every one arrives,
    one channel per loop is made and closed with it (no descriptors leak
    across 200 short-lived loops), and a cancelled future is skipped."""
    lim = ratewarden.AsyncLimiter(redis_server.url)

    async def burst(n: int) -> list:
        return await asyncio.gather(*(lim.check(f"chan-{i}", "/c", 1000, 1000) for i in range(n)))

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    asyncio.run(burst(10))
    gc.collect()
    before = fds()
    for _ in range(200):
        assert all(d.allowed for d in asyncio.run(burst(5)))
    gc.collect()
    assert fds() - before < 10, "a delivery channel per loop must close with its loop"

    async def cancelled() -> None:
        fut = lim.check("chan-cancel", "/c", 1000, 1000)
        fut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fut
        assert (await lim.check("chan-cancel", "/c", 1000, 1000)).allowed
        loop = asyncio.get_running_loop()
        assert type(loop._ratewarden_channel).__name__ == "_Channel"

    asyncio.run(cancelled())


def test_async_limiter_on_uvloop(redis_server) -> None:
    """uvicorn[standard] runs apps on uvloop: the delivery channel works there."""
    import uvloop

    async def main() -> int:
        lim = ratewarden.AsyncLimiter(redis_server.url)
        results = await asyncio.gather(*(lim.is_allowed("uv", "/u", 100, 1) for _ in range(500)))
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        return sum(results)

    assert uvloop.run(main()) == 100


async def test_event_loop_keeps_running_while_redis_hangs(redis_server) -> None:
    lim = ratewarden.AsyncLimiter(redis_server.url, timeout=0.5)
    assert await lim.is_allowed("loop", "/l", 5, 5)
    redis_server.pause()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.ensure_future(ticker())
    try:
        started = time.monotonic()
        with pytest.raises(ratewarden.TimeoutError):
            await lim.is_allowed("loop", "/l", 5, 5)
        assert time.monotonic() - started < 1.5
    finally:
        task.cancel()
        redis_server.resume()
    assert ticks > 20, ticks


def test_limiter_used_before_fork_works_in_the_child(redis_server) -> None:
    lim = ratewarden.Limiter(redis_server.url)
    client = str(uuid.uuid4())
    assert lim.is_allowed(client, "/fork", 3, 1)
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            code = 0 if lim.is_allowed(client, "/fork", 3, 1) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    d = lim.check(client, "/fork", 3, 1)
    assert d.allowed and d.remaining == 0  # the child's admission counted


_INHERITED: dict = {}


def _fork_child_check(client: str) -> bool:
    return _INHERITED["lim"].is_allowed(client, "/mpfork", 10, 1)


def test_multiprocessing_fork_pool_inherits_a_used_limiter(redis_server) -> None:
    # Like gunicorn --preload: made and used in the parent, used in forked workers.
    _INHERITED["lim"] = lim = ratewarden.Limiter(redis_server.url)
    client = str(uuid.uuid4())
    assert lim.is_allowed(client, "/mpfork", 10, 1)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        results = pool.map(_fork_child_check, [client] * 4, chunksize=1)
    assert results == [True] * 4
    d = lim.check(client, "/mpfork", 10, 1)
    assert d.allowed and d.remaining == 4


def test_redis_down_raises_within_deadline_then_recovers(redis_server) -> None:
    lim = ratewarden.Limiter(redis_server.url, timeout=0.3)
    assert lim.is_allowed("down", "/d", 5, 5)
    redis_server.kill()
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises((ratewarden.ConnectionError, ratewarden.TimeoutError)):
            lim.is_allowed("down", "/d", 5, 5)
        assert time.monotonic() - started < 1.3
    redis_server.start()
    deadline = time.monotonic() + 5
    while True:
        try:
            assert lim.is_allowed("down", "/d", 5, 5)
            break
        except (ratewarden.ConnectionError, ratewarden.TimeoutError):
            assert time.monotonic() < deadline, "no recovery within 5 s"
            time.sleep(0.05)


def test_failures_are_logged_to_the_ratewarden_logger(closed_url, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="ratewarden")
    lim = ratewarden.Limiter(closed_url, timeout=0.3)
    with pytest.raises(ratewarden.ConnectionError):
        lim.is_allowed("log", "/l", 1, 1)
    records = [r for r in caplog.records if r.name.startswith("ratewarden")]
    assert any(r.levelno >= logging.WARNING for r in records), records


class _Recorder(logging.Handler):
    """Every record of the "ratewarden" logger, with the time it came."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[float, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((time.monotonic(), record.levelno, record.getMessage()))


def test_an_outage_reaches_logging_in_order(redis_server) -> None:
    """Kill Redis and bring it back: a handler on the "ratewarden" logger at
    INFO gets the connection, the warnings while Redis is down (the same one
    at most once a second), the circuit opening and closing at INFO, and the
    reconnection after the warnings."""
    rec = _Recorder()
    log = logging.getLogger("ratewarden")
    old_level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(rec)
    try:
        lim = ratewarden.Limiter(redis_server.url, timeout=0.3)
        assert lim.is_allowed("logs", "/l", 1000, 1000)
        time.sleep(0.05)
        redis_server.kill()
        down = time.monotonic()
        while time.monotonic() - down < 2.5:
            with pytest.raises((ratewarden.ConnectionError, ratewarden.TimeoutError)):
                lim.is_allowed("logs", "/l", 1000, 1000)
            time.sleep(0.02)
        redis_server.start()
        deadline = time.monotonic() + 5
        while True:
            try:
                if lim.is_allowed("logs", "/l", 1000, 1000):
                    break
            except (ratewarden.ConnectionError, ratewarden.TimeoutError):
                assert time.monotonic() < deadline, "no recovery within 5 s"
                time.sleep(0.05)
        time.sleep(0.1)
    finally:
        log.removeHandler(rec)
        log.setLevel(old_level)
    seen = rec.seen
    for at, level, message in seen:
        print(f"  +{(at - down) * 1000:.0f} ms {logging.getLevelName(level)}: {message}")
    assert all(level >= logging.INFO for _, level, _ in seen)
    assert seen[0][1] == logging.INFO and "connected to Redis" in seen[0][2]
    warns = [(at, m) for at, level, m in seen if level == logging.WARNING]
    assert 2 <= len(warns) <= 4, warns
    assert all(at >= down for at, _ in warns)
    for i, (at, m) in enumerate(warns):
        for at0, m0 in warns[:i]:
            assert m0 != m or at - at0 >= 0.9, f"the same warning {at - at0:.3f} s apart: {m}"
    assert any(level == logging.INFO and "circuit open" in m for _, level, m in seen)
    last_warn = max(i for i, (_, level, _) in enumerate(seen) if level == logging.WARNING)
    assert any(
        level == logging.INFO and "connected to Redis" in m for _, level, m in seen[last_warn + 1 :]
    ), "the reconnection comes after the warnings"


ALGORITHMS = ["sliding_window_log", "sliding_window_counter", "fixed_window", "token_bucket", "gcra", "leaky_bucket"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_on_redis_per_limiter_and_per_call(redis_server, algorithm: str) -> None:
    client = str(uuid.uuid4())
    by_limiter = ratewarden.Limiter(redis_server.url, algorithm=algorithm)
    assert by_limiter.algorithm == ("gcra" if algorithm == "leaky_bucket" else algorithm)
    # capacity 3, one more per 100 s: exactly 3 pass, from 32 threads.
    with ThreadPoolExecutor(32) as pool:
        passed = sum(pool.map(lambda _: by_limiter.is_allowed(client, "/a", 3, 1), range(64)))
    assert passed == 3
    d = by_limiter.check(client, "/a", 3, 1)
    assert not d.allowed and d.retry_after > 0
    # The same scope and algorithm named per call on a default limiter
    # shares that state.
    other = ratewarden.Limiter(redis_server.url)
    assert not other.check(client, "/a", 3, 1, algorithm=algorithm).allowed
    if algorithm != "sliding_window_log":
        assert other.check(client, "/a", 3, 1).allowed  # the default log has its own state


async def test_async_algorithms_and_multi_limit_on_redis(redis_server) -> None:
    lim = ratewarden.AsyncLimiter(redis_server.url, algorithm="token_bucket")
    client = str(uuid.uuid4())
    limits = [ratewarden.Limit("/x", 10, 1), ratewarden.Limit("*", 4, 1, algorithm="fixed_window")]
    results = await asyncio.gather(*(lim.check_all(client, limits) for _ in range(20)))
    assert sum(bool(r) for r in results) == 4
    refused = [r for r in results if not r]
    assert all(r.limiting == 1 and r.decisions[0].allowed for r in refused)
    # Nothing was spent on "/x" by the 16 refusals.
    d = await lim.check(client, "/x", 10, 1)
    assert d.allowed and d.remaining == 5
    d = await lim.check(client, "/x", 10, 1, algorithm="gcra")
    assert d.allowed and d.remaining == 9  # GCRA keeps its own state


def test_multi_limit_is_atomic_across_threads(redis_server) -> None:
    lim = ratewarden.Limiter(redis_server.url)
    client = str(uuid.uuid4())

    def call(i: int) -> bool:
        scope = "/a" if i % 2 else "/b"
        return bool(lim.check_all(client, [ratewarden.Limit(scope, 10, 1), ratewarden.Limit("*", 12, 1)]))

    with ThreadPoolExecutor(16) as pool:
        assert sum(pool.map(call, range(200))) == 12


def _watch_policy(url: str, endpoint: str, want: int, q) -> None:
    lim = ratewarden.Limiter(url)
    q.put(("ready", lim.policies()[endpoint].capacity))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        d = lim.check_policy(str(uuid.uuid4()), endpoint)
        if d.limit == want:
            q.put(("seen", time.time()))
            return
        time.sleep(0.005)
    q.put(("timeout", time.time()))


def test_policy_change_reaches_three_processes_within_a_second(redis_server) -> None:
    admin = ratewarden.Limiter(redis_server.url)
    endpoint = "/p-" + str(uuid.uuid4())
    admin.set_policy(endpoint, 10, 10)
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_watch_policy, args=(redis_server.url, endpoint, 77, q)) for _ in range(3)]
    for p in procs:
        p.start()
    try:
        assert [q.get(timeout=30) for _ in procs] == [("ready", 10)] * 3
        time.sleep(0.2)  # every process is deciding by the old policy now
        changed = time.time()
        admin.set_policy(endpoint, 77, 7, algorithm="gcra")
        seen = [q.get(timeout=15) for _ in procs]
        assert all(kind == "seen" for kind, _ in seen), seen
        assert max(t for _, t in seen) - changed < 1.0, seen
    finally:
        for p in procs:
            p.join(timeout=10)


async def test_async_check_policy(redis_server) -> None:
    ratewarden.Limiter(redis_server.url).set_policy("*", 1, 1, algorithm="fixed_window")
    lim = ratewarden.AsyncLimiter(redis_server.url)
    client = str(uuid.uuid4())
    assert (await lim.check_policy(client, "/any")).allowed
    assert not (await lim.check_policy(client, "/any")).allowed
    with pytest.raises(ratewarden.InvalidArgumentError):
        await ratewarden.AsyncLimiter(redis_server.url, key_prefix="other:").check_policy(client, "/any")


def test_failure_modes_and_stats_while_redis_is_down(redis_server) -> None:
    url = redis_server.url
    local = ratewarden.Limiter(url, timeout=0.2, failure_mode="local", local_share=0.5)
    deny = ratewarden.Limiter(url, timeout=0.2, failure_mode="deny")
    assert local.check("c", "/up", 4, 1)
    redis_server.kill()
    try:
        assert sum(bool(local.check("c", "/down", 4, 1)) for _ in range(6)) == 2  # half of 4
        d = deny.check("c", "/down", 4, 1)
        assert not d and d.retry_after > 0
        s = local.stats()
        assert s["fallbacks"] == 6 and s["allowed"] == 3 and s["circuit_open"]
        assert 'ratewarden_fallbacks_total 6' in s["prometheus"]
        with pytest.raises(ratewarden.ConnectionError):
            ratewarden.Limiter(url, timeout=0.2).check("c", "/down", 4, 1)
    finally:
        redis_server.start()
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Limiter(url, failure_mode="sometimes")
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Limiter(url, local_share=0.0)


def _hammer_until_killed(url: str, client: str, started, q) -> None:
    lim = ratewarden.Limiter(url)
    started.set()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if lim.is_allowed(client, "/kill", 300, 1):  # 300 per 300 s: nothing refills
            q.put(1)
        time.sleep(0.001)


def test_four_processes_one_killed_mid_run_the_global_limit_holds(redis_server) -> None:
    client = str(uuid.uuid4())
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    events = [ctx.Event() for _ in range(4)]
    procs = [ctx.Process(target=_hammer_until_killed, args=(redis_server.url, client, e, q)) for e in events]
    for p in procs:
        p.start()
    for e in events:
        assert e.wait(30)
    time.sleep(0.3)
    os.kill(procs[0].pid, 9)  # SIGKILL one instance mid-run
    for p in procs[1:]:
        p.join(timeout=30)
        assert p.exitcode == 0, "the other instances carry on"
    procs[0].join(timeout=5)
    admitted = 0
    while not q.empty():
        admitted += q.get()
    # The survivors used up the quota (demand is far above it) and never
    # more: Redis holds exactly 300 admissions. (A SIGKILLed process may lose
    # reports still buffered in its queue, so the reported count is a floor.)
    assert 0 < admitted <= 300
    check = ratewarden.Limiter(redis_server.url).check(client, "/kill", 300, 1)
    assert not check.allowed and check.remaining == 0


def test_redis_cluster_exact_per_client_from_threads_and_asyncio(redis_cluster) -> None:
    lim = ratewarden.Limiter(redis_cluster.url)
    clients = [f"py-{i}" for i in range(60)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda c: lim.is_allowed(c, "/cluster", 5, 1), clients * 8))
    admitted = {c: 0 for c in clients}
    for c, ok in zip(clients * 8, results):
        admitted[c] += ok
    assert set(admitted.values()) == {5}, admitted
    # The clients live on every master.
    sizes = [int(n.command("DBSIZE").split(b":")[1]) for n in redis_cluster.nodes]
    assert all(s > 0 for s in sizes) and sum(sizes) == 60, sizes
    # Multi-limit and the async limiter route the same way.
    limits = [ratewarden.Limit("/a", 3, 1), ratewarden.Limit("*", 2, 1, algorithm="gcra")]
    assert [lim.check_all("multi", limits).allowed for _ in range(3)] == [True, True, False]

    async def gathered() -> int:
        alim = ratewarden.AsyncLimiter(redis_cluster.url)
        got = await asyncio.gather(*[alim.is_allowed("async-one", "/c", 50, 1) for _ in range(200)])
        return sum(got)

    assert asyncio.run(gathered()) == 50
