"""Every public entry point under random arguments (Hypothesis), on
memory://: any value of any type either works or raises the documented
error — ``TypeError`` for a wrong type, ``InvalidArgumentError`` (a
``ValueError``) for a bad value — never anything else, never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ratewarden

CASES = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
ALLOWED = (TypeError, ratewarden.InvalidArgumentError)

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 127, 128, 10**9, 10**9 + 1, 2**53, 2**63, 2**64 - 1, 2**64, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(min_size=300, max_size=600),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
)
ids = st.one_of(st.text(max_size=80), st.just(""), st.text(min_size=250, max_size=400), anything)
notation = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"[0-9]{0,12}/[0-9]{0,4} ?(s|ms|us|second|minute|hour|day|week|fortnight)?", fullmatch=True),
    anything,
)

LIMITER = ratewarden.Limiter("memory://fuzz")


def attempt(f: Any, *args: Any, **kwargs: Any) -> None:
    try:
        f(*args, **kwargs)
    except ALLOWED:
        pass


@CASES
@given(ids, ids, anything, anything, anything)
def test_check_takes_anything(client: Any, endpoint: Any, capacity: Any, rate: Any, cost: Any) -> None:
    attempt(LIMITER.check, client, endpoint, capacity, rate, cost)
    attempt(LIMITER.is_allowed, client, endpoint, capacity, rate)
    attempt(LIMITER.peek, client, endpoint, capacity, rate)
    attempt(LIMITER.refund, client, endpoint, capacity, rate, cost)


@CASES
@given(ids, notation, anything, st.one_of(st.none(), st.sampled_from(["gcra", "fixed_window", "nope", ""]), anything))
def test_notation_and_algorithm_take_anything(client: Any, quota: Any, cost: Any, algorithm: Any) -> None:
    attempt(LIMITER.check, client, "/fuzz", quota=quota, cost=cost, algorithm=algorithm)
    attempt(ratewarden.Quota, quota)


@CASES
@given(
    st.sampled_from(
        ["timeout", "key_prefix", "max_in_flight", "algorithm", "failure_mode", "local_share",
         "breaker_threshold", "breaker_open_for", "deny_cache", "tls_root_cert_pem",
         "tls_client_cert_pem", "tls_client_key_pem"]
    ),
    anything,
)
def test_options_take_anything(name: str, value: Any) -> None:
    attempt(ratewarden.Limiter, "memory://fuzz-options", **{name: value})


@CASES
@given(notation, st.one_of(st.text(max_size=30), anything), anything, anything, anything, st.one_of(st.none(), anything))
def test_web_rules_and_client_addresses_take_anything(
    quota: Any, headers: Any, trusted: Any, subnet: Any, peer: Any, forwarded: Any
) -> None:
    attempt(ratewarden.Rule, quota, headers)
    try:
        client = ratewarden.ClientIp(trusted_proxies=trusted, ipv6_subnet=subnet)
    except ALLOWED:
        return
    attempt(client.key, peer, forwarded)
