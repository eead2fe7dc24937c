"""Views: per-view @ratelimit, the middleware's default on /app/<item>."""

import os

from django.http import JsonResponse
from django.urls import path

from common import LOGIN
from common import skip as skip_header
from ratewarden.django import ratelimit


def skip(request) -> bool:
    return request.path == "/pid" or skip_header(lambda n: request.headers.get(n))


def pid(request):
    return JsonResponse({"pid": os.getpid()})


def whole_app(request, item):
    return JsonResponse({"pid": os.getpid(), "item": item})


@ratelimit(LOGIN)
def login(request):
    return JsonResponse({"pid": os.getpid()})


@ratelimit(LOGIN)
def other(request):
    return JsonResponse({"pid": os.getpid()})


@ratelimit("2/second;3/minute")
def multi(request):
    return JsonResponse({"pid": os.getpid()})


@ratelimit(LOGIN, cost=lambda request: int(request.headers.get("x-cost", "1")))
def upload(request):
    return JsonResponse({"pid": os.getpid()})


urlpatterns = [
    path("login", login),
    path("other", other),
    path("multi", multi),
    path("pid", pid),
    path("upload", upload),
    path("app/<str:item>", whole_app),
]
