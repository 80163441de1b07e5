"""gunicorn settings for core (make run, make bench, e2e, containers).

Bind address and sizes come from the environment so every caller shares
these defaults; gunicorn's own log lines are JSON like the application's.
"""

import os

bind = os.environ.get("CORE_BIND", "127.0.0.1:8080")
worker_class = "gthread"
workers = int(os.environ.get("CORE_WORKERS") or os.environ.get("WEB_CONCURRENCY") or "3")
threads = int(os.environ.get("CORE_THREADS", "4"))
timeout = 60
# Idle keep-alive connections wait in gthread's poller, not in a thread; 2 s
# (the default) dropped clients while every thread was busy (make bench).
keepalive = 15
graceful_timeout = 20
# Several gunicorns (make run, e2e, bench) may share a machine: no shared
# control socket path.
control_socket_disable = True
# Our RequestIdMiddleware writes the access log (with request ids).
accesslog = None

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "gaji_contracts.conventions.JsonFormatter", "service": "core"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {
        "gunicorn.error": {
            "handlers": ["console"],
            "level": os.environ.get("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        "gunicorn.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
