"""Decisions/s and client CPU per decision of ratewarden's Python API against
one Redis, and, in alternating rounds of the same run, the `limits`
package's MovingWindowRateLimiter (its exact sliding log) on the same Redis
as the peer baseline.

    pip install "./python[test]"          # includes limits[redis]
    python python/bench/bench.py --url redis://127.0.0.1:6379 [--duration 3] [--rounds 3]

For each capacity (default 100000 and 10; rate = capacity per second, keys
spread over --keys clients) and each round, in turn:
  ratewarden asyncio (64 in flight) | limits.aio (64 tasks, redis-py asyncio)
  ratewarden sync, 32 threads on one Limiter | limits sync, 32 threads
Medians over the rounds are printed with the ratios, and the client's CPU
(this process: user + system) per decision.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from typing import Any, Awaitable, Callable, Dict, List, Tuple

import ratewarden

Result = Tuple[float, float]  # decisions/s, client CPU µs per decision


def run_threads(n_threads: int, duration: float, call: Callable[[int], Any]) -> Result:
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
    cpu, start = time.process_time(), time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    total = sum(counts)
    return total / (time.monotonic() - start), (time.process_time() - cpu) * 1e6 / max(total, 1)


async def run_tasks(n_tasks: int, duration: float, call: Callable[[int], Awaitable[Any]]) -> Result:
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

    cpu, start = time.process_time(), time.monotonic()
    await asyncio.gather(*(worker(t) for t in range(n_tasks)))
    total = sum(counts)
    return total / (time.monotonic() - start), (time.process_time() - cpu) * 1e6 / max(total, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="redis://host:port")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per phase and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--capacity", default="100000,10", help="comma-separated capacities (rate = capacity/s)")
    args = ap.parse_args()
    import limits
    import limits.aio.storage
    import limits.aio.strategies
    import limits.storage
    import limits.strategies

    clients = [f"bench-py-{i}" for i in range(args.keys)]
    k = len(clients)
    lim = ratewarden.Limiter(args.url)
    lim.ping()
    peer_sync = limits.strategies.MovingWindowRateLimiter(limits.storage.RedisStorage(args.url))

    for cap in (int(c) for c in args.capacity.split(",")):
        item = limits.RateLimitItemPerSecond(cap)
        phases: Dict[str, List[Result]] = {}

        async def ours_async() -> Result:
            alim = ratewarden.AsyncLimiter(args.url)
            await alim.ping()
            return await run_tasks(64, args.duration, lambda i: alim.is_allowed(clients[i % k], "/bench", cap, cap))

        async def peer_async() -> Result:
            storage = limits.aio.storage.RedisStorage("async+" + args.url, implementation="redispy")
            apeer = limits.aio.strategies.MovingWindowRateLimiter(storage)
            return await run_tasks(64, args.duration, lambda i: apeer.hit(item, clients[i % k], "/bench"))

        runs: List[Tuple[str, Callable[[], Result]]] = [
            ("ratewarden asyncio, 64 in flight", lambda: asyncio.run(ours_async())),
            ("limits.aio MovingWindow, 64 tasks", lambda: asyncio.run(peer_async())),
            ("ratewarden sync, 32 threads", lambda: run_threads(
                32, args.duration, lambda i: lim.is_allowed(clients[i % k], "/bench", cap, cap))),
            ("limits MovingWindow sync, 32 threads", lambda: run_threads(
                32, args.duration, lambda i: peer_sync.hit(item, clients[i % k], "/bench"))),
        ]
        for _ in range(args.rounds):
            for name, run in runs:
                phases.setdefault(name, []).append(run())
        print(f"capacity = rate = {cap}/s, {k} keys, {args.rounds} rounds x {args.duration:.0f} s (medians):")
        med: Dict[str, Result] = {}
        for name, results in phases.items():
            rate = statistics.median(r[0] for r in results)
            cpu = statistics.median(r[1] for r in results)
            med[name] = (rate, cpu)
            print(f"  {name:<40} {rate:>9.0f} decisions/s  {cpu:>6.1f} us client CPU/decision")
        print(
            "  ratios: asyncio / limits.aio = {:.2f}; 32 threads / limits 32 threads = {:.2f}".format(
                med["ratewarden asyncio, 64 in flight"][0] / med["limits.aio MovingWindow, 64 tasks"][0],
                med["ratewarden sync, 32 threads"][0] / med["limits MovingWindow sync, 32 threads"][0],
            )
        )


if __name__ == "__main__":
    main()
