"""The blog's web tier: a one-file Django app (settings from the environment devenv renders)."""
import os
import socket

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import path


def _secret(name, default=""):
    path_ = os.environ.get(f"{name}_FILE")
    if path_ and os.path.exists(path_):
        with open(path_) as f:
            return f.read().strip()
    return os.environ.get(name, default)


settings.configure(
    DEBUG=os.environ.get("DJANGO_DEBUG") == "1",
    SECRET_KEY=_secret("DJANGO_SECRET_KEY", "dev-only"),
    ALLOWED_HOSTS=[h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h],
    ROOT_URLCONF=__name__,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("DATABASE_HOST", "postgres"),
            "NAME": os.environ.get("DATABASE_NAME", "myblog"),
            "USER": os.environ.get("DATABASE_USER", "myblog"),
            "PASSWORD": _secret("DATABASE_PASSWORD"),
            "CONNECT_TIMEOUT": 2,
        }
    },
)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>myblog</title></head>
<body>
<h1>myblog</h1>
<p>served by {host} over {scheme}</p>
<p id="ws">WebSocket: connecting...</p>
<script>
  const ws = new WebSocket(`wss://${{location.host}}/ws`);
  ws.onopen = () => ws.send("hello");
  ws.onmessage = (e) => document.getElementById("ws").textContent = "WebSocket echo: " + e.data;
  ws.onerror = () => document.getElementById("ws").textContent = "WebSocket failed";
</script>
</body></html>
"""


def index(request):
    return HttpResponse(PAGE.format(host=socket.gethostname(), scheme=request.scheme))


def healthz(request):
    checks = {}
    try:
        from django.db import connection

        connection.ensure_connection()
        checks["postgres"] = "ok"
    except Exception as e:  # noqa: BLE001 - report, don't crash
        checks["postgres"] = str(e)[:200]
    try:
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2).ping()
        checks["redis"] = "ok"
    except Exception as e:  # noqa: BLE001
        checks["redis"] = str(e)[:200]
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse(checks, status=200 if ok else 503)


urlpatterns = [path("", index), path("healthz", healthz)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
