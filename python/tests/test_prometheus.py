"""ratewarden.prometheus through the real prometheus_client: a registry's
text output carries the values of stats() after a known sequence of
decisions, with the names and labels of the core's own text format."""

import uuid

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import ratewarden
from ratewarden.prometheus import RatewardenCollector


def samples(text: str) -> set:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_one_limiter_scrapes_as_the_core_writes(redis_server) -> None:
    lim = ratewarden.Limiter(redis_server.url)
    client = str(uuid.uuid4())
    # 2 admitted, 1 refused by Redis, 2 refused by the deny cache.
    assert [lim.check(client, "/p", quota="2/hour").allowed for _ in range(5)] == [True, True, False, False, False]
    reg = CollectorRegistry()
    RatewardenCollector(lim, registry=reg)
    text = generate_latest(reg).decode()
    stats = lim.stats()
    assert (stats["allowed"], stats["denied"], stats["cache_hits"], stats["errors"]) == (2, 3, 2, 0)
    got = samples(text)
    assert got == samples(stats["prometheus"]), text
    assert ("ratewarden_decisions_total", (("result", "allowed"),), 2.0) in got
    assert ("ratewarden_decisions_total", (("result", "denied"),), 3.0) in got
    assert ("ratewarden_deny_cache_hits_total", (), 2.0) in got
    assert ("ratewarden_circuit_open", (), 0.0) in got
    # 3 decisions went to Redis (the cache answered the other 2).
    assert ("ratewarden_decision_seconds_count", (), 3.0) in got
    assert ("ratewarden_decision_seconds_bucket", (("le", "+Inf"),), 3.0) in got
    assert stats["latency_count"] == 3


def test_several_limiters_carry_a_limiter_label(redis_server, closed_url) -> None:
    up = ratewarden.Limiter(redis_server.url)
    down = ratewarden.Limiter(closed_url, timeout=0.3, failure_mode="allow")
    assert up.is_allowed(str(uuid.uuid4()), "/p", 5, 5)
    assert down.is_allowed("x", "/p", 5, 5)  # the failure mode's answer
    with pytest.raises(ratewarden.ConnectionError):
        ratewarden.Limiter(closed_url, timeout=0.3).is_allowed("x", "/p", 5, 5)
    reg = CollectorRegistry()
    RatewardenCollector({"up": up, "down": down}, registry=reg, namespace="app_rl")
    got = samples(generate_latest(reg).decode())
    assert ("app_rl_decisions_total", (("limiter", "up"), ("result", "allowed")), 1.0) in got
    assert ("app_rl_decisions_total", (("limiter", "down"), ("result", "allowed")), 1.0) in got
    assert ("app_rl_fallbacks_total", (("limiter", "down"),), 1.0) in got
    assert ("app_rl_fallbacks_total", (("limiter", "up"),), 0.0) in got
    assert ("app_rl_errors_total", (("limiter", "down"),), float(down.stats()["errors"])) in got


def test_bad_arguments_are_type_errors() -> None:
    with pytest.raises(TypeError):
        RatewardenCollector("memory://", registry=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RatewardenCollector({1: ratewarden.Limiter()}, registry=None)  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        RatewardenCollector({}, registry=None)
    with pytest.raises(TypeError):
        RatewardenCollector(ratewarden.Limiter(), namespace="", registry=None)
    # Registered twice in one registry: prometheus_client refuses the duplicate names.
    reg = CollectorRegistry()
    RatewardenCollector(ratewarden.Limiter(), registry=reg)
    with pytest.raises(ValueError):
        RatewardenCollector(ratewarden.Limiter(), registry=reg)
