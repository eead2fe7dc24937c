"""Type stubs for the native extension ``ratewarden._native``."""

from typing import Awaitable, Dict, Optional, final

__all__ = ["Limiter", "AsyncLimiter", "Decision", "_after_fork_in_child", "__version__"]

__version__: str

def _after_fork_in_child() -> None: ...

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
    def headers(self) -> Dict[str, str]: ...
    def __bool__(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Limiter:
    """A blocking rate limiter; thread-safe, releases the GIL while waiting."""

    def __new__(
        cls,
        url: str = "memory://",
        *,
        timeout: float = 1.0,
        key_prefix: str = "ratewarden:",
        max_in_flight: int = 1024,
        tls_root_cert_pem: Optional[bytes] = None,
    ) -> Limiter: ...
    def is_allowed(self, client_id: str, api_endpoint: str, capacity: int, rate_per_second: int) -> bool: ...
    def check(
        self, client_id: str, api_endpoint: str, capacity: int, rate_per_second: int, cost: Optional[int] = None
    ) -> Decision: ...
    def ping(self) -> None: ...
    @property
    def timeout(self) -> float: ...

@final
class AsyncLimiter:
    """An asyncio rate limiter; methods return awaitables."""

    def __new__(
        cls,
        url: str = "memory://",
        *,
        timeout: float = 1.0,
        key_prefix: str = "ratewarden:",
        max_in_flight: int = 1024,
        tls_root_cert_pem: Optional[bytes] = None,
    ) -> AsyncLimiter: ...
    def is_allowed(
        self, client_id: str, api_endpoint: str, capacity: int, rate_per_second: int
    ) -> Awaitable[bool]: ...
    def check(
        self, client_id: str, api_endpoint: str, capacity: int, rate_per_second: int, cost: Optional[int] = None
    ) -> Awaitable[Decision]: ...
    def ping(self) -> Awaitable[None]: ...
    @property
    def timeout(self) -> float: ...
