"""Django settings of the test app (gunicorn djangoapp.wsgi)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
from common import OPTIONS, TRUSTED, URL  # noqa: E402

SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "djangoapp.urls"
INSTALLED_APPS: list = []
MIDDLEWARE = ["ratewarden.django.RateLimitMiddleware"]
RATEWARDEN = {
    "URL": URL,
    "OPTIONS": OPTIONS,
    "DEFAULT": os.environ.get("RW_APP_QUOTA", "3/minute"),
    "TRUSTED_PROXIES": TRUSTED,
    "SKIP": "djangoapp.urls.skip",
}
