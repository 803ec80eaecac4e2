"""The blog's web tier: a one-file Django app (settings from the environment devenv renders).

`uwsgi --module app:application` serves it; `python app.py COMMAND` runs Django's management
commands with the same settings (`python app.py migrate`, `python app.py createsuperuser`: the
project's tasks in devenv.yaml).
"""
import os
import socket
import sys

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
    # CommonMiddleware reads the host of every request, so ALLOWED_HOSTS is enforced (a request
    # for another name gets 400); SecurityMiddleware adds its headers.
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
    ],
    # auth and contenttypes: the tables `migrate` creates and `createsuperuser` fills
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    USE_X_FORWARDED_HOST=False,
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("DATABASE_HOST", "postgres"),
            "NAME": os.environ.get("DATABASE_NAME", "myblog"),
            "USER": os.environ.get("DATABASE_USER", "myblog"),
            "PASSWORD": _secret("DATABASE_PASSWORD"),
            # a database that accepts but never answers must not hold a uwsgi worker forever
            "OPTIONS": {"connect_timeout": 2},
        }
    },
)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>myblog</title></head>
<body>
<h1>myblog</h1>
<p>served by {host} over {scheme}; visit {visits} (counted in MongoDB)</p>
<p id="ws">WebSocket: connecting...</p>
<script>
  const ws = new WebSocket(`wss://${{location.host}}/ws`);
  ws.onopen = () => ws.send("hello");
  ws.onmessage = (e) => document.getElementById("ws").textContent = "WebSocket echo: " + e.data;
  ws.onerror = () => document.getElementById("ws").textContent = "WebSocket failed";
</script>
</body></html>
"""


def _mongo():
    import pymongo

    return pymongo.MongoClient(
        os.environ["MONGO_URL"], serverSelectionTimeoutMS=2000, connectTimeoutMS=2000
    )


def index(request):
    # MongoDB keeps the page's visit counter (the blog's document store)
    try:
        db = _mongo().get_default_database()
        visits = db.counters.find_one_and_update(
            {"_id": "index"}, {"$inc": {"n": 1}}, upsert=True, return_document=True
        )["n"]
    except Exception:  # noqa: BLE001 - the page still renders without it
        visits = "?"
    return HttpResponse(
        PAGE.format(host=socket.gethostname(), scheme=request.scheme, visits=visits)
    )


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
    try:
        _mongo().admin.command("ping")
        checks["mongo"] = "ok"
    except Exception as e:  # noqa: BLE001
        checks["mongo"] = str(e)[:200]
    # the API by its public URL, with the certificate verified (no `verify=False` locally)
    try:
        import urllib.request

        with urllib.request.urlopen(os.environ["API_URL"], timeout=3) as r:
            checks["api"] = "ok" if r.status == 200 else f"HTTP {r.status}"
    except Exception as e:  # noqa: BLE001
        checks["api"] = str(e)[:200]
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse(checks, status=200 if ok else 503)


urlpatterns = [path("", index), path("healthz", healthz)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
else:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
