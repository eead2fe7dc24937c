"""The Python API on the embedded backend: types, errors, Decision."""

from __future__ import annotations

import uuid

import pytest

import ratewarden


def fresh() -> str:
    return f"memory://{uuid.uuid4()}"


def test_memory_is_the_default_and_keywords_work() -> None:
    lim = ratewarden.Limiter()
    cid = str(uuid.uuid4())
    assert lim.is_allowed(client_id=cid, api_endpoint="/k", capacity=2, rate_per_second=2)
    d = lim.check(client_id=cid, api_endpoint="/k", capacity=2, rate_per_second=2, cost=1)
    assert d.allowed and d.remaining == 0
    assert not lim.check(cid, "/k", 2, 2)
    assert repr(lim) == 'Limiter("memory://")'
    assert lim.timeout == 1.0


def test_decision_is_immutable_and_has_header_values() -> None:
    lim = ratewarden.Limiter(fresh())
    d = lim.check("c", "/e", 3, 1, cost=3)
    assert (d.allowed, d.limit, d.remaining, d.retry_after) == (True, 3, 0, 0.0)
    assert 2.9 < d.reset_after <= 3.0
    assert d.headers() == {"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "3"}
    denied = lim.check("c", "/e", 3, 1)
    assert not denied and 2.0 < denied.retry_after <= 3.0
    assert denied.retry_after_secs == 3
    assert denied.headers()["Retry-After"] == "3"
    assert repr(denied).startswith("Decision(allowed=False, limit=3, remaining=0")
    with pytest.raises(AttributeError):
        denied.allowed = True  # type: ignore[misc]
    assert denied == denied and hash(denied) == hash(denied)


def test_wrong_types_are_type_errors() -> None:
    lim = ratewarden.Limiter(fresh())
    for args in [(1, "/e", 1, 1), ("c", b"/e", 1, 1), ("c", "/e", "1", 1), ("c", "/e", 1, 1.5),
                 ("c", "/e", True, 1), ("c", "/e", None, 1)]:
        with pytest.raises(TypeError):
            lim.is_allowed(*args)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lim.check("c", "/e", 1, 1, cost="2")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ratewarden.Limiter(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "args",
    [("", "/e", 1, 1, 1), ("c", "", 1, 1, 1), ("x" * 513, "/e", 1, 1, 1), ("c", "/e", 0, 1, 1),
     ("c", "/e", 1, 0, 1), ("c", "/e", -5, 1, 1), ("c", "/e", 2**70, 1, 1), ("c", "/e", 5, 1, 0),
     ("c", "/e", 5, 1, 6), ("\ud800", "/e", 1, 1, 1)],
)
def test_bad_values_are_invalid_argument_errors(args: tuple) -> None:
    lim = ratewarden.Limiter(fresh())
    with pytest.raises(ratewarden.InvalidArgumentError) as info:
        lim.check(*args)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ratewarden.RateLimitError)
    assert info.value.kind == "invalid_argument"


def test_bad_urls_and_options() -> None:
    with pytest.raises(ratewarden.ConfigError):
        ratewarden.Limiter("http://example")
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Limiter("memory://", timeout=0)
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Limiter("memory://", timeout=float("nan"))
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Limiter("memory://", key_prefix="{tag}")
    # A TLS client certificate needs its key; TLS material a TLS URL.
    with pytest.raises(ratewarden.ConfigError, match="key"):
        ratewarden.Limiter("rediss://127.0.0.1:1", tls_client_cert_pem=b"cert")
    with pytest.raises(ratewarden.ConfigError):
        ratewarden.Limiter("redis+sentinel://127.0.0.1:1/m", tls_client_cert_pem="c", tls_client_key_pem="k")
    with pytest.raises(TypeError):
        ratewarden.Limiter("rediss://127.0.0.1:1", tls_client_key_pem=5)
    lim = ratewarden.Limiter("redis://user:secret@127.0.0.1:1")
    assert "secret" not in repr(lim)


def test_error_hierarchy() -> None:
    errors = ratewarden.errors
    for cls in [errors.InvalidArgumentError, errors.ConfigError, errors.ConnectionError, errors.TimeoutError,
                errors.ServerError, errors.UsageError, errors.InternalError]:
        assert issubclass(cls, ratewarden.RateLimitError)
    assert issubclass(ratewarden.TimeoutError, TimeoutError)
    assert issubclass(ratewarden.ConnectionError, ConnectionError)
    assert "ConnectionError" not in ratewarden.__all__


async def test_async_on_memory() -> None:
    lim = ratewarden.AsyncLimiter(fresh())
    assert await lim.is_allowed("c", "/e", 1, 1)
    d = await lim.check("c", "/e", 1, 1)
    assert not d.allowed and d.retry_after > 0
    await lim.ping()
    with pytest.raises(ratewarden.InvalidArgumentError):
        await lim.check("", "/e", 1, 1)
    with pytest.raises(TypeError):
        await lim.check("c", "/e", "x", 1)  # type: ignore[arg-type]


def test_algorithms_limits_and_multi_decisions_in_memory() -> None:
    lim = ratewarden.Limiter(f"memory://{fresh()}", algorithm="gcra")
    assert lim.algorithm == "gcra"
    assert lim.check("a", "/e", 2, 1, cost=2).remaining == 0
    assert not lim.check("a", "/e", 2, 1, algorithm="gcra")
    assert lim.check("a", "/e", 2, 1, algorithm="fixed_window")
    limit = ratewarden.Limit("/e", 3, 1, cost=2, algorithm="leaky_bucket")
    assert (limit.api_endpoint, limit.capacity, limit.rate_per_second, limit.cost, limit.algorithm) == ("/e", 3, 1, 2, "gcra")
    assert limit == ratewarden.Limit("/e", 3, 1, cost=2, algorithm="gcra")
    m = lim.check_all("b", [ratewarden.Limit("/e", 3, 1), ratewarden.Limit("*", 1, 1)])
    assert m and m.allowed and len(m) == 2 and m.limiting == 1
    assert [d.remaining for d in m.decisions] == [2, 0]
    m = lim.check_all("b", [ratewarden.Limit("/e", 3, 1), ratewarden.Limit("*", 1, 1)])
    assert not m and m.limiting == 1 and m.decisions[0].allowed and not m.decisions[1].allowed
    assert not m.decision.allowed and m.decision.retry_after > 0
    assert "MultiDecision(allowed=False" in repr(m)


def test_bad_algorithms_and_limits() -> None:
    lim = ratewarden.Limiter()
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Limiter(algorithm="leaky")
    with pytest.raises(TypeError):
        ratewarden.Limiter(algorithm=3)  # type: ignore[arg-type]
    with pytest.raises(ratewarden.InvalidArgumentError):
        lim.check("a", "/e", 1, 1, algorithm="nope")
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Limit("/e", 1, 1, algorithm="nope")
    with pytest.raises(TypeError):
        ratewarden.Limit(3, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lim.check_all("a", "not a list")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lim.check_all("a", [("/e", 1, 1)])  # type: ignore[list-item]
    with pytest.raises(ratewarden.InvalidArgumentError):
        lim.check_all("a", [])
    with pytest.raises(ratewarden.InvalidArgumentError):
        lim.check_all("a", [ratewarden.Limit("/e", 1, 1)] * 2)
    with pytest.raises(ratewarden.InvalidArgumentError):
        lim.check_all("a", [ratewarden.Limit("/e", 1, 1, cost=2)])


def test_policies_in_memory() -> None:
    lim = ratewarden.Limiter(f"memory://{fresh()}")
    with pytest.raises(ratewarden.InvalidArgumentError):
        lim.check_policy("a", "/users")
    lim.set_policy("/users", 1, 1, algorithm="gcra")
    assert lim.check_policy("a", "/users")
    assert not lim.check_policy("a", "/users")
    assert lim.policies()["/users"] == ratewarden.Limit("/users", 1, 1, algorithm="gcra")
    lim.delete_policy("/users")
    assert lim.policies() == {}
    with pytest.raises(TypeError):
        lim.set_policy(1, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(ratewarden.InvalidArgumentError):
        lim.set_policy("/x", 0, 1)


def test_options_are_checked_by_the_core_and_typed_here() -> None:
    lim = ratewarden.Limiter(fresh(), timeout=0.25, breaker_threshold=5, breaker_open_for=0.1, deny_cache=0)
    assert lim.timeout == 0.25
    with pytest.raises(TypeError):
        ratewarden.Limiter(fresh(), timeot=1.0)  # a typo is an unknown keyword
    with pytest.raises(TypeError):
        ratewarden.Limiter(fresh(), timeoutMs=5)  # the JavaScript spelling is not Python's
    with pytest.raises(TypeError):
        ratewarden.Limiter(fresh(), max_in_flight="8")
    with pytest.raises(TypeError):
        ratewarden.Limiter(fresh(), breaker_threshold=True)
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Limiter(fresh(), breaker_threshold=0)
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Limiter(fresh(), local_share=1.5)
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.AsyncLimiter(fresh(), breaker_open_for=0)


def test_seconds_and_headers_come_from_the_core() -> None:
    lim = ratewarden.Limiter(fresh())
    lim.check("c", "/h", 2, 1, cost=2)
    d = lim.check("c", "/h", 2, 1)
    assert not d.allowed and d.retry_after_secs == 2 and d.reset_after_secs == 2
    assert 1.9 < d.retry_after <= 2.0
    assert d.headers("x-ratelimit") == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "2",
        "Retry-After": "2",
    }
    assert d.headers() == d.headers("draft-06")
    with pytest.raises(ratewarden.InvalidArgumentError):
        d.headers("draft-99")
    assert d.ietf_headers("login", 120.0) == {
        "RateLimit-Policy": '"login";q=2;w=120',
        "RateLimit": '"login";r=0;t=2',
        "Retry-After": "2",
    }
    with pytest.raises(ratewarden.InvalidArgumentError):
        d.ietf_headers("", 1.0)
    with pytest.raises(ratewarden.InvalidArgumentError):
        d.ietf_headers("x", -1.0)


async def test_async_policies_round_trip() -> None:
    lim = ratewarden.AsyncLimiter(fresh())
    await lim.set_policy("/p", 2, 1, algorithm="gcra")
    policies = await lim.policies()
    assert policies["/p"] == ratewarden.Limit("/p", 2, 1, algorithm="gcra")
    assert (await lim.check_policy("u", "/p")).limit == 2
    await lim.delete_policy("/p")
    assert "/p" not in await lim.policies()
    with pytest.raises(TypeError):
        await lim.set_policy("/p", "2", 1)


def test_inspection_operations() -> None:
    lim = ratewarden.Limiter(fresh(), failure_mode="local")
    assert lim.failure_mode == "local" and lim.algorithm == "sliding_window_log"
    assert lim.redis_key("c", "/e", 1, 1) is None  # memory:// has no Redis keys
    remote = ratewarden.Limiter("redis://127.0.0.1:1")
    key = remote.redis_key("c", "/e", 1, 1)
    assert key is not None and key.startswith(b"ratewarden:{") and key.endswith(b":c:/e")
    lim.set_policy("*", 5, 5)
    assert lim.resolved_policy("/anything") == ratewarden.Limit("/anything", 5, 5)
    with pytest.raises(ratewarden.InvalidArgumentError):
        ratewarden.Limiter(fresh()).resolved_policy("/none")


async def test_async_inspection_operations() -> None:
    lim = ratewarden.AsyncLimiter(fresh(), failure_mode="deny")
    assert lim.failure_mode == "deny"
    await lim.set_policy("/r", 3, 1)
    assert (await lim.resolved_policy("/r")).capacity == 3
    assert lim.redis_key("c", "/e", 1, 1) is None
