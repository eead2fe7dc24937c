"""Configuration of the test apps, from the environment the test sets."""

import os

URL = os.environ.get("RW_URL", "memory://")
OPTIONS = {
    "failure_mode": os.environ.get("RW_FAILURE_MODE", "error"),
    "timeout": float(os.environ.get("RW_TIMEOUT", "0.3")),
    "breaker_open_for": 0.2,
    "key_prefix": os.environ.get("RW_PREFIX", "rw:"),
}
LOGIN = os.environ.get("RW_LOGIN_QUOTA", "5/minute")
TRUSTED = ["127.0.0.1"]


def skip(headers_get) -> bool:
    return headers_get("x-skip") == "1"
