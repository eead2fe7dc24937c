"""What every framework's middleware shares: the configuration (checked at
startup), the default key (client IP), and the verdict.

The verdict itself — status, ``RateLimit-Policy`` / ``RateLimit`` /
``Retry-After`` headers and the JSON body of a refusal — is rendered by the
core (:class:`ratewarden.Verdict`), so every language answers with the same
bytes.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ._native import ClientIp, Quota, Rule
from .errors import ConfigError

QuotaLike = Union[str, Quota, Rule, Sequence[Union[str, Quota]]]
KeyFunc = Callable[[Any], str]
SkipFunc = Callable[[Any], bool]
CostLike = Union[int, Callable[[Any], int], None]
HeadersLike = Union[None, bool, str, Sequence[str]]


# Structured-field lists: two limits' values combine ("a, b"); the others
# (Retry-After, the legacy sets) are single values and the last one wins.
_LISTS = {"ratelimit-policy", "ratelimit"}


def merged(pairs: Sequence[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """The response headers of several verdicts of one request."""
    out: Dict[str, Tuple[str, str]] = {}
    for name, value in pairs:
        low = name.lower()
        if low in _LISTS and low in out:
            value = f"{out[low][1]}, {value}"
        out[low] = (name, value)
    return list(out.values())


def make_rule(quota: QuotaLike, headers: HeadersLike = None) -> Rule:
    """A :class:`Rule` from notation (``"5/minute"``, ``"10/second;1000/hour"``),
    a :class:`Quota`, a list of those (all-or-nothing), or a Rule as is."""
    if isinstance(quota, Rule):
        return quota
    if isinstance(quota, (list, tuple)):
        if not quota:
            raise ConfigError("a rate limit needs at least one quota")
        quota = ";".join(str(q) for q in quota)
    if not isinstance(quota, (str, Quota)):
        raise TypeError(f"quota must be notation such as '5/minute', a Quota or a list of them, not {type(quota).__name__}")
    return Rule(quota, headers=headers)


def _callable(name: str, f: Any) -> Any:
    if f is not None and not callable(f):
        raise TypeError(f"{name} must be callable (a function of the request), not {type(f).__name__}")
    return f


class Settings:
    """One rate limit as a middleware applies it: the rule, how to key,
    skip and cost a request, which scope it counts in, and what to answer
    when refused. Everything is checked here, at startup."""

    def __init__(
        self,
        quota: QuotaLike,
        *,
        key: Optional[KeyFunc] = None,
        skip: Optional[SkipFunc] = None,
        cost: CostLike = None,
        headers: HeadersLike = None,
        scope: Optional[str] = None,
        trusted_proxies: Union[None, str, Sequence[str]] = None,
        proxy_header: str = "x-forwarded-for",
        ipv6_subnet: Optional[int] = None,
        on_limited: Optional[Callable[..., Any]] = None,
    ) -> None:
        self.rule = make_rule(quota, headers)
        self.key = _callable("key", key)
        self.skip = _callable("skip", skip)
        if cost is not None and not callable(cost):
            if isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:
                raise TypeError("cost must be a positive int or a function of the request")
        self.cost = cost
        if scope is not None and (not isinstance(scope, str) or not scope):
            raise TypeError("scope must be a non-empty str")
        self.scope = scope
        self.client_ip = ClientIp(trusted_proxies, proxy_header=proxy_header, ipv6_subnet=ipv6_subnet)
        self.on_limited = _callable("on_limited", on_limited)

    def cost_of(self, request: Any) -> int:
        if self.cost is None:
            return 1
        if callable(self.cost):
            return self.cost(request)
        return self.cost

    def key_of(self, request: Any, peer: Optional[str], forwarded: Callable[[str], Optional[str]]) -> str:
        """The user's key function, or the client IP from ``peer`` and (behind
        trusted proxies) the forwarding header ``forwarded(name)`` returns."""
        if self.key is not None:
            k = self.key(request)
            if not isinstance(k, str):
                raise TypeError(f"the key function returned {type(k).__name__}, not str")
            return k
        name = self.client_ip.header
        return self.client_ip.key(peer, forwarded(name) if name else None)
