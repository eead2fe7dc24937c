"""Quotas over any period (``quota=``) and peek / refund / block / reset, on
memory:// and on a real Redis, blocking and asyncio; bad input."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import ratewarden


def fresh() -> str:
    return f"memory://{uuid.uuid4()}"


def _exercise(lim: ratewarden.Limiter) -> None:
    cid = str(uuid.uuid4())
    start = time.monotonic()
    for i in range(5):
        d = lim.check(cid, "/login", quota="5/minute")
        assert d.allowed and d.limit == 5 and d.remaining == 4 - i
    d = lim.check(cid, "/login", quota=ratewarden.Quota(5, 60))
    spent = time.monotonic() - start
    assert not d.allowed and d.limit == 5
    assert 60 - spent - 0.05 <= d.retry_after <= 60
    assert lim.redis_key(cid, "/login", 5, 5) is None or isinstance(lim.redis_key(cid, "/login", 5, 5), bytes)

    for _ in range(1000):
        p = lim.peek(cid, "/peek", quota="3/hour")
        assert p.allowed and p.remaining == 2
    assert sum(lim.check(cid, "/peek", quota="3/hour").allowed for _ in range(6)) == 3

    assert lim.refund(cid, "/peek", quota="3/hour", cost=1).allowed
    assert lim.check(cid, "/peek", quota="3/hour").allowed
    assert not lim.check(cid, "/peek", quota="3/hour").allowed

    b = lim.block(cid, "/block", quota="50/second", duration=0.3)
    assert not b.allowed and abs(b.retry_after - 0.3) < 1e-9
    d = lim.check(cid, "/block", quota="50/second")
    assert not d.allowed
    time.sleep(d.retry_after + 0.02)
    assert lim.check(cid, "/block", quota="50/second").allowed

    lim.reset(cid, "/login")
    d = lim.check(cid, "/login", quota="5/minute;20/hour")
    assert d.allowed and d.remaining == 4

    # Seed numbers and the notation are one limit.
    lim.check(cid, "/same", 2, 2)
    assert lim.check(cid, "/same", quota="2/second").remaining == 0


def test_quotas_and_operations_on_memory() -> None:
    _exercise(ratewarden.Limiter(fresh()))


def test_quotas_and_operations_on_redis(redis_server) -> None:
    _exercise(ratewarden.Limiter(redis_server.url))


@pytest.mark.parametrize(
    "text", ["0/minute", "10/fortnight", "-1/s", "1e99/day", "", "5/", "/minute"]
)
def test_bad_notation_is_an_invalid_argument_naming_the_part(text: str) -> None:
    lim = ratewarden.Limiter(fresh())
    for call in (
        lambda: lim.check("c", "/x", quota=text),
        lambda: lim.peek("c", "/x", quota=text),
        lambda: lim.refund("c", "/x", quota=text),
        lambda: lim.block("c", "/x", quota=text, duration=1),
        lambda: ratewarden.Quota.parse(text),
    ):
        with pytest.raises(ratewarden.InvalidArgumentError):
            call()
    with pytest.raises(ratewarden.InvalidArgumentError, match="fortnight"):
        lim.check("c", "/x", quota="10/fortnight")


def test_bad_quota_arguments() -> None:
    lim = ratewarden.Limiter(fresh())
    with pytest.raises(ratewarden.InvalidArgumentError, match="not both"):
        lim.check("c", "/x", 5, 5, quota="5/minute")
    with pytest.raises(ratewarden.InvalidArgumentError, match="no quota"):
        lim.check("c", "/x")
    with pytest.raises(TypeError):
        lim.check("c", "/x", quota=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ratewarden.Quota(5, "60")  # type: ignore[arg-type]
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Quota(0, 60)
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Quota(5, 0)
    with pytest.raises(ratewarden.InvalidArgumentError, match="refund"):
        lim.refund("c", "/x", quota="5/minute", cost=0)
    with pytest.raises(ratewarden.InvalidArgumentError, match="capacity"):
        lim.refund("c", "/x", quota="5/minute", cost=6)
    with pytest.raises(ratewarden.InvalidArgumentError):
        lim.block("c", "/x", quota="5/minute", duration=0)
    with pytest.raises(ratewarden.InvalidArgumentError):
        lim.block("c", "/x", quota="5/minute", duration=1e30)
    with pytest.raises(ratewarden.InvalidArgumentError, match="duration"):
        lim.block("c", "/x", quota="5/minute")
    with pytest.raises(TypeError):
        lim.block("c", "/x", quota="5/minute", duration="1")  # type: ignore[arg-type]


def test_quota_objects_and_policies() -> None:
    q = ratewarden.Quota.parse("5/15 minutes")
    assert q.capacity == 5 and q.period == 900.0 and str(q) == "5/15 minutes"
    assert q == ratewarden.Quota(5, 900) and hash(q) == hash(ratewarden.Quota(5, 900))
    lim = ratewarden.Limiter(fresh())
    lim.set_policy("/login", quota="5/minute;20/hour")
    p = lim.resolved_policy("/login")
    assert p.quota == "5/minute;20/hour" and p.capacity == 5
    assert lim.check_policy("u", "/login").remaining == 4


async def test_async_operations() -> None:
    lim = ratewarden.AsyncLimiter(fresh())
    assert (await lim.check("a", "/e", quota="2/minute")).remaining == 1
    assert (await lim.peek("a", "/e", quota="2/minute")).remaining == 0
    assert (await lim.refund("a", "/e", quota="2/minute")).remaining == 1
    b = await lim.block("a", "/e", quota="2/minute", duration=60)
    assert not b.allowed and b.retry_after == 60
    assert not (await lim.check("a", "/e", quota="2/minute")).allowed
    await lim.reset("a", "/e")
    assert (await lim.check("a", "/e", quota=ratewarden.Quota(2, 60))).allowed
    results = await asyncio.gather(*(lim.check("g", "/e", quota="20/minute") for _ in range(50)))
    assert sum(r.allowed for r in results) == 20
