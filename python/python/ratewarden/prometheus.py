"""A ``prometheus_client`` collector over one or more limiters.

The metrics have the names, types and labels of the core's text format
(``stats()["prometheus"]``)::

    ratewarden_decisions_total{result="allowed"|"denied"}  counter
    ratewarden_errors_total                                 counter
    ratewarden_fallbacks_total                              counter
    ratewarden_deny_cache_hits_total                        counter
    ratewarden_circuit_open                                 gauge (0/1)
    ratewarden_decision_seconds                             histogram

With several limiters (a mapping of names to limiters), each sample also
carries ``limiter="<name>"``. Values are read from ``stats()`` at each scrape;
nothing is counted twice. ``prometheus_client`` is an optional dependency:
``pip install prometheus-client``.

>>> import ratewarden
>>> from prometheus_client import CollectorRegistry, generate_latest
>>> from ratewarden.prometheus import RatewardenCollector
>>> limiter = ratewarden.Limiter("memory://doc-prometheus")
>>> registry = CollectorRegistry()
>>> _ = RatewardenCollector(limiter, registry=registry)
>>> _ = limiter.is_allowed("alice", "/search", 1, 1)
>>> b'ratewarden_decisions_total{result="allowed"} 1.0' in generate_latest(registry)
True
"""

from __future__ import annotations

from typing import Any, Iterator, List, Mapping, Optional, Tuple, Union

try:
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        Metric,
    )
    from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError(
        "ratewarden.prometheus needs prometheus_client: pip install prometheus-client"
    ) from e

from ._native import AsyncLimiter, Limiter

__all__ = ["RatewardenCollector"]

_Limiter = Union[Limiter, AsyncLimiter]


class RatewardenCollector(Collector):
    """Expose the counters of ``limiters`` (one limiter, or a mapping of
    label values to limiters) to ``registry`` (the default registry unless
    given; ``registry=None`` registers nowhere). ``namespace`` prefixes every
    name, as in the core's text format.

    >>> import ratewarden
    >>> from prometheus_client import CollectorRegistry
    >>> reg = CollectorRegistry()
    >>> c = RatewardenCollector({"api": ratewarden.Limiter("memory://a"),
    ...                          "login": ratewarden.Limiter("memory://b")}, registry=reg)
    >>> sorted(s.labels["limiter"] for m in c.collect() if m.name == "ratewarden_errors" for s in m.samples)
    ['api', 'login']
    """

    def __init__(
        self,
        limiters: Union[_Limiter, Mapping[str, _Limiter]],
        *,
        namespace: str = "ratewarden",
        registry: Optional[CollectorRegistry] = REGISTRY,
    ) -> None:
        if isinstance(limiters, (Limiter, AsyncLimiter)):
            self._limiters: List[Tuple[Optional[str], _Limiter]] = [(None, limiters)]
        elif isinstance(limiters, Mapping):
            if not limiters:
                raise ValueError("limiters: give at least one")
            for name, lim in limiters.items():
                if not isinstance(name, str) or not isinstance(lim, (Limiter, AsyncLimiter)):
                    raise TypeError(
                        f"limiters must map str to Limiter or AsyncLimiter, got {type(name).__name__}: {type(lim).__name__}"
                    )
            self._limiters = list(limiters.items())
        else:
            raise TypeError(
                f"limiters must be a Limiter, an AsyncLimiter or a mapping of names to them, got {type(limiters).__name__}"
            )
        if not isinstance(namespace, str) or not namespace:
            raise TypeError("namespace must be a non-empty str")
        self._ns = namespace
        if registry is not None:
            registry.register(self)

    def describe(self) -> List[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        stats = [(name, lim.stats()) for name, lim in self._limiters]
        yield from self._families(stats)

    def _families(self, stats: Optional[List[Tuple[Optional[str], Any]]] = None) -> Iterator[Metric]:
        n = self._ns
        named = self._limiters[0][0] is not None
        extra = ["limiter"] if named else []

        def values(name: Optional[str], *rest: str) -> List[str]:
            return ([name] if named and name is not None else []) + list(rest)

        decisions = CounterMetricFamily(f"{n}_decisions", "Decisions, by result (fallbacks included).", labels=extra + ["result"])
        errors = CounterMetricFamily(f"{n}_errors", "Decisions that returned a backend error.", labels=extra)
        fallbacks = CounterMetricFamily(f"{n}_fallbacks", "Decisions taken by the failure mode.", labels=extra)
        hits = CounterMetricFamily(f"{n}_deny_cache_hits", "Refusals answered by the local deny cache.", labels=extra)
        circuit = GaugeMetricFamily(f"{n}_circuit_open", "1 while the circuit breaker is open.", labels=extra)
        latency = HistogramMetricFamily(f"{n}_decision_seconds", "Latency of backend decisions.", labels=extra)
        for name, s in stats or []:
            decisions.add_metric(values(name, "allowed"), s["allowed"])
            decisions.add_metric(values(name, "denied"), s["denied"])
            errors.add_metric(values(name), s["errors"])
            fallbacks.add_metric(values(name), s["fallbacks"])
            hits.add_metric(values(name), s["cache_hits"])
            circuit.add_metric(values(name), 1 if s["circuit_open"] else 0)
            cumulative, buckets = 0, []
            for le, count in s["latency_buckets"]:
                cumulative += count
                buckets.append(("+Inf" if le == float("inf") else _float(le), cumulative))
            latency.add_metric(values(name), buckets, s["latency_sum_seconds"])
        yield from (decisions, errors, fallbacks, hits, circuit, latency)


def _float(x: float) -> str:
    """A bucket bound as the core writes it (``0.00005``, ``1``): whole
    microseconds, no exponent."""
    return format(x, ".6f").rstrip("0").rstrip(".")
