"""Decisions/s of ratewarden's Python API against one Redis, and, in the same
run, the `limits` package's MovingWindowRateLimiter (its exact sliding log) on
the same Redis as the peer baseline.

    pip install ./python "limits[redis]"
    python python/bench/bench.py --url redis://127.0.0.1:6379 [--duration 5]

Phases (each --duration seconds, keys spread over --keys clients, 100/s each):
  sync 1 thread, sync 32 threads on one Limiter, asyncio with 64 in flight;
  limits sync 1 thread, limits.aio with 64 tasks (redis-py asyncio).
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from typing import Callable

import ratewarden

CAP = 100


def run_threads(n_threads: int, duration: float, call: Callable[[int], bool]) -> float:
    counts = [0] * n_threads
    stop = time.monotonic() + duration

    def worker(t: int) -> None:
        i = t * 7919
        n = 0
        while time.monotonic() < stop:
            call(i)
            i += 1
            n += 1
        counts[t] = n

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    start = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(counts) / (time.monotonic() - start)


async def run_tasks(n_tasks: int, duration: float, call) -> float:
    counts = [0] * n_tasks
    stop = time.monotonic() + duration

    async def worker(t: int) -> None:
        i = t * 7919
        n = 0
        while time.monotonic() < stop:
            await call(i)
            i += 1
            n += 1
        counts[t] = n

    start = time.monotonic()
    await asyncio.gather(*(worker(t) for t in range(n_tasks)))
    return sum(counts) / (time.monotonic() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="redis://host:port")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--keys", type=int, default=10_000)
    args = ap.parse_args()
    clients = [f"bench-py-{i}" for i in range(args.keys)]
    k = len(clients)
    results: dict[str, float] = {}

    lim = ratewarden.Limiter(args.url)
    lim.ping()
    results["ratewarden sync, 1 thread"] = run_threads(
        1, args.duration, lambda i: lim.is_allowed(clients[i % k], "/bench", CAP, CAP))
    results["ratewarden sync, 32 threads"] = run_threads(
        32, args.duration, lambda i: lim.is_allowed(clients[i % k], "/bench", CAP, CAP))

    async def ours_async() -> float:
        alim = ratewarden.AsyncLimiter(args.url)
        return await run_tasks(64, args.duration, lambda i: alim.is_allowed(clients[i % k], "/bench", CAP, CAP))

    results["ratewarden asyncio, 64 in flight"] = asyncio.run(ours_async())

    try:
        import limits
        import limits.aio.storage
        import limits.aio.strategies
        import limits.storage
        import limits.strategies
    except ImportError:
        print("limits is not installed: pip install 'limits[redis]' for the peer baseline")
    else:
        item = limits.RateLimitItemPerSecond(CAP)
        peer = limits.strategies.MovingWindowRateLimiter(limits.storage.RedisStorage(args.url))
        results["limits MovingWindow sync, 1 thread"] = run_threads(
            1, args.duration, lambda i: peer.hit(item, clients[i % k], "/bench"))
        results["limits MovingWindow sync, 32 threads"] = run_threads(
            32, args.duration, lambda i: peer.hit(item, clients[i % k], "/bench"))

        async def peer_async() -> float:
            storage = limits.aio.storage.RedisStorage("async+" + args.url, implementation="redispy")
            apeer = limits.aio.strategies.MovingWindowRateLimiter(storage)
            return await run_tasks(64, args.duration, lambda i: apeer.hit(item, clients[i % k], "/bench"))

        results["limits.aio MovingWindow, 64 tasks"] = asyncio.run(peer_async())

    for name, rate in results.items():
        print(f"{name:<40} {rate:>10.0f} decisions/s")
    if "limits.aio MovingWindow, 64 tasks" in results:
        print(
            "ratios: asyncio 64 / limits.aio 64 = {:.2f}; sync 32 threads / limits sync 1 thread = {:.2f}; "
            "sync 32 threads / limits sync 32 threads = {:.2f}".format(
                results["ratewarden asyncio, 64 in flight"] / results["limits.aio MovingWindow, 64 tasks"],
                results["ratewarden sync, 32 threads"] / results["limits MovingWindow sync, 1 thread"],
                results["ratewarden sync, 32 threads"] / results["limits MovingWindow sync, 32 threads"],
            )
        )


if __name__ == "__main__":
    main()
