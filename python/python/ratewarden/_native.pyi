"""Type stubs for the native extension ``ratewarden._native``."""

from typing import Any, Awaitable, Dict, List, Literal, Optional, Sequence, Tuple, Union, final

__all__ = ["Limiter", "AsyncLimiter", "Decision", "Limit", "MultiDecision", "Quota", "Rule", "ClientIp", "Verdict", "_Channel", "_after_fork_in_child", "__version__"]

_AlgorithmName = Literal[
    "sliding_window_log", "sliding_window_counter", "fixed_window", "token_bucket", "gcra", "leaky_bucket"
]

_FailureMode = Literal["error", "allow", "deny", "local"]
_HeaderSet = Literal["draft-06", "x-ratelimit"]

__version__: str

def _after_fork_in_child() -> None: ...

@final
class _Channel:
    """One event loop's delivery channel for AsyncLimiter results (internal)."""

    def fileno(self) -> int: ...
    def drain(self) -> None: ...

@final
class Decision:
    """The answer to one check (immutable)."""

    @property
    def allowed(self) -> bool: ...
    @property
    def limit(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    @property
    def retry_after(self) -> float: ...
    @property
    def reset_after(self) -> float: ...
    @property
    def retry_after_secs(self) -> int: ...
    @property
    def reset_after_secs(self) -> int: ...
    def headers(self, set: Union[_HeaderSet, str] = "draft-06") -> Dict[str, str]: ...
    def ietf_headers(self, name: str, window: float) -> Dict[str, str]: ...
    def __bool__(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Quota:
    """A quota: at most ``capacity`` requests per ``period`` seconds."""

    def __new__(cls, capacity: int, period: float) -> Quota: ...
    @staticmethod
    def parse(text: str) -> Quota: ...
    @property
    def capacity(self) -> int: ...
    @property
    def period(self) -> float: ...

@final
class Limit:
    """One limit of ``check_all``: a scope, a quota, a cost, an algorithm."""

    def __new__(
        cls,
        api_endpoint: str,
        capacity: int,
        rate_per_second: int,
        cost: Optional[int] = None,
        algorithm: Optional[Union[_AlgorithmName, str]] = None,
    ) -> Limit: ...
    @property
    def api_endpoint(self) -> str: ...
    @property
    def capacity(self) -> int: ...
    @property
    def rate_per_second(self) -> int: ...
    @property
    def cost(self) -> int: ...
    @property
    def algorithm(self) -> Optional[str]: ...
    @property
    def quota(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class MultiDecision:
    """The answer to ``check_all`` (immutable)."""

    @property
    def allowed(self) -> bool: ...
    @property
    def limiting(self) -> int: ...
    @property
    def decisions(self) -> List[Decision]: ...
    @property
    def decision(self) -> Decision: ...
    def __bool__(self) -> bool: ...
    def __len__(self) -> int: ...

@final
class Rule:
    """A route's quotas and header sets, checked once."""

    def __new__(
        cls, quota: Union[str, Quota], headers: Union[None, bool, str, Sequence[str]] = None
    ) -> Rule: ...
    @property
    def quota(self) -> str: ...
    @property
    def headers(self) -> str: ...
    @property
    def policy_header(self) -> Optional[str]: ...

@final
class ClientIp:
    """The client key of a request (peer, or behind trusted proxies the forwarded client)."""

    def __new__(
        cls,
        trusted_proxies: Union[None, str, Sequence[str]] = None,
        *,
        proxy_header: str = "x-forwarded-for",
        ipv6_subnet: Optional[int] = None,
    ) -> ClientIp: ...
    @property
    def header(self) -> Optional[str]: ...
    def key(self, peer: Optional[str], forwarded: Optional[str] = None) -> str: ...

@final
class Verdict:
    """What a request gets under a Rule: status, headers, body."""

    @property
    def allowed(self) -> bool: ...
    @property
    def status(self) -> int: ...
    @property
    def retry_after(self) -> float: ...
    @property
    def fallback(self) -> Optional[str]: ...
    @property
    def headers(self) -> List[Tuple[str, str]]: ...
    @property
    def body(self) -> Optional[str]: ...
    @property
    def decisions(self) -> List[Decision]: ...
    def __bool__(self) -> bool: ...

@final
class Limiter:
    """A blocking rate limiter; thread-safe, releases the GIL while waiting."""

    def __new__(
        cls,
        url: str = "memory://",
        *,
        timeout: Optional[float] = None,
        key_prefix: Optional[str] = None,
        max_in_flight: Optional[int] = None,
        tls_root_cert_pem: Optional[Union[bytes, str]] = None,
        tls_client_cert_pem: Optional[Union[bytes, str]] = None,
        tls_client_key_pem: Optional[Union[bytes, str]] = None,
        algorithm: Optional[Union[_AlgorithmName, str]] = None,
        failure_mode: Optional[_FailureMode] = None,
        local_share: Optional[float] = None,
        breaker_threshold: Optional[int] = None,
        breaker_open_for: Optional[float] = None,
        deny_cache: Optional[int] = None,
    ) -> Limiter: ...
    def is_allowed(self, client_id: str, api_endpoint: str, capacity: int, rate_per_second: int) -> bool: ...
    def check_http(self, key: str, scope: str, rule: Rule, cost: Optional[int] = None) -> Verdict: ...
    def check(
        self,
        client_id: str,
        api_endpoint: str,
        capacity: Optional[int] = None,
        rate_per_second: Optional[int] = None,
        cost: Optional[int] = None,
        *,
        algorithm: Optional[Union[_AlgorithmName, str]] = None,
        quota: Optional[Union[str, Quota]] = None,
    ) -> Decision: ...
    def peek(
        self,
        client_id: str,
        api_endpoint: str,
        capacity: Optional[int] = None,
        rate_per_second: Optional[int] = None,
        *,
        quota: Optional[Union[str, Quota]] = None,
    ) -> Decision: ...
    def refund(
        self,
        client_id: str,
        api_endpoint: str,
        capacity: Optional[int] = None,
        rate_per_second: Optional[int] = None,
        cost: Optional[int] = None,
        *,
        quota: Optional[Union[str, Quota]] = None,
    ) -> Decision: ...
    def block(
        self,
        client_id: str,
        api_endpoint: str,
        capacity: Optional[int] = None,
        rate_per_second: Optional[int] = None,
        *,
        quota: Optional[Union[str, Quota]] = None,
        duration: Optional[float] = None,
    ) -> Decision: ...
    def reset(self, client_id: str, api_endpoint: str) -> None: ...
    def check_all(self, client_id: str, limits: Sequence[Limit]) -> MultiDecision: ...
    def check_policy(self, client_id: str, api_endpoint: str, cost: Optional[int] = None) -> Decision: ...
    def set_policy(
        self,
        name: str,
        capacity: Optional[int] = None,
        rate_per_second: Optional[int] = None,
        *,
        algorithm: Optional[Union[_AlgorithmName, str]] = None,
        quota: Optional[Union[str, Quota]] = None,
    ) -> None: ...
    def delete_policy(self, name: str) -> None: ...
    def policies(self) -> Dict[str, Limit]: ...
    def stats(self) -> Dict[str, Any]: ...
    def ping(self) -> None: ...
    @property
    def timeout(self) -> float: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def failure_mode(self) -> str: ...
    def resolved_policy(self, api_endpoint: str) -> Limit: ...
    def redis_key(self, client_id: str, api_endpoint: str, capacity: int, rate_per_second: int) -> Optional[bytes]: ...

@final
class AsyncLimiter:
    """An asyncio rate limiter; methods return awaitables."""

    def __new__(
        cls,
        url: str = "memory://",
        *,
        timeout: Optional[float] = None,
        key_prefix: Optional[str] = None,
        max_in_flight: Optional[int] = None,
        tls_root_cert_pem: Optional[Union[bytes, str]] = None,
        tls_client_cert_pem: Optional[Union[bytes, str]] = None,
        tls_client_key_pem: Optional[Union[bytes, str]] = None,
        algorithm: Optional[Union[_AlgorithmName, str]] = None,
        failure_mode: Optional[_FailureMode] = None,
        local_share: Optional[float] = None,
        breaker_threshold: Optional[int] = None,
        breaker_open_for: Optional[float] = None,
        deny_cache: Optional[int] = None,
    ) -> AsyncLimiter: ...
    def is_allowed(
        self, client_id: str, api_endpoint: str, capacity: int, rate_per_second: int
    ) -> Awaitable[bool]: ...
    def check_http(self, key: str, scope: str, rule: Rule, cost: Optional[int] = None) -> Awaitable[Verdict]: ...
    def check(
        self,
        client_id: str,
        api_endpoint: str,
        capacity: Optional[int] = None,
        rate_per_second: Optional[int] = None,
        cost: Optional[int] = None,
        *,
        algorithm: Optional[Union[_AlgorithmName, str]] = None,
        quota: Optional[Union[str, Quota]] = None,
    ) -> Awaitable[Decision]: ...
    def peek(
        self,
        client_id: str,
        api_endpoint: str,
        capacity: Optional[int] = None,
        rate_per_second: Optional[int] = None,
        *,
        quota: Optional[Union[str, Quota]] = None,
    ) -> Awaitable[Decision]: ...
    def refund(
        self,
        client_id: str,
        api_endpoint: str,
        capacity: Optional[int] = None,
        rate_per_second: Optional[int] = None,
        cost: Optional[int] = None,
        *,
        quota: Optional[Union[str, Quota]] = None,
    ) -> Awaitable[Decision]: ...
    def block(
        self,
        client_id: str,
        api_endpoint: str,
        capacity: Optional[int] = None,
        rate_per_second: Optional[int] = None,
        *,
        quota: Optional[Union[str, Quota]] = None,
        duration: Optional[float] = None,
    ) -> Awaitable[Decision]: ...
    def reset(self, client_id: str, api_endpoint: str) -> Awaitable[None]: ...
    def check_all(self, client_id: str, limits: Sequence[Limit]) -> Awaitable[MultiDecision]: ...
    def check_policy(self, client_id: str, api_endpoint: str, cost: Optional[int] = None) -> Awaitable[Decision]: ...
    def set_policy(
        self,
        name: str,
        capacity: Optional[int] = None,
        rate_per_second: Optional[int] = None,
        *,
        algorithm: Optional[Union[_AlgorithmName, str]] = None,
        quota: Optional[Union[str, Quota]] = None,
    ) -> Awaitable[None]: ...
    def delete_policy(self, name: str) -> Awaitable[None]: ...
    def policies(self) -> Awaitable[Dict[str, Limit]]: ...
    def stats(self) -> Dict[str, Any]: ...
    def ping(self) -> Awaitable[None]: ...
    @property
    def timeout(self) -> float: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def failure_mode(self) -> str: ...
    def resolved_policy(self, api_endpoint: str) -> Awaitable[Limit]: ...
    def redis_key(self, client_id: str, api_endpoint: str, capacity: int, rate_per_second: int) -> Optional[bytes]: ...
