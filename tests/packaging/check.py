"""The installed ratewarden package, as a user's script would use it: a
memory:// and a Redis limiter (sync and asyncio), a quota in the notation,
the typed-package marker and the extension's location.

Usage: python check.py REDIS_URL RUN_ID
"""

import asyncio
import pathlib
import sys

import ratewarden


def admitted(limiter: ratewarden.Limiter, client: str) -> int:
    return sum(limiter.check(client, "/pkg", quota="3/minute").allowed for _ in range(5))


async def admitted_async(url: str, client: str) -> int:
    limiter = ratewarden.AsyncLimiter(url)
    return sum([(await limiter.check(client, "/pkg-async", quota="3/minute")).allowed for _ in range(5)])


def main() -> None:
    url, run = sys.argv[1], sys.argv[2]
    package = pathlib.Path(ratewarden.__file__).parent
    assert "site-packages" in str(package), f"not the installed package: {package}"
    assert (package / "py.typed").exists() and (package / "_native.pyi").exists(), "typing files"
    on_memory = admitted(ratewarden.Limiter("memory://"), f"py-{run}")
    on_redis = admitted(ratewarden.Limiter(url, timeout=2.0), f"py-{run}")
    on_redis_async = asyncio.run(admitted_async(url, f"py-{run}"))
    try:
        ratewarden.Limiter("memory://").check("c", "/x", quota="3/fortnight")
        raise SystemExit("a bad quota was accepted")
    except ratewarden.InvalidArgumentError:
        pass
    print(
        f"check.py (ratewarden {ratewarden.__version__} from {package}): memory:// {on_memory} of 5, "
        f"Redis {on_redis} of 5, asyncio {on_redis_async} of 5"
    )
    assert (on_memory, on_redis, on_redis_async) == (3, 3, 3)


if __name__ == "__main__":
    main()
