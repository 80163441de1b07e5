"""JSON logs on stderr, one object per line, carrying the current request id."""

from __future__ import annotations

import logging
import sys

from gaji_contracts.conventions import JsonFormatter

SERVICE_NAME = "ai"
ACCESS_LOGGER = "gaji_ai.access"


class _GajiHandler(logging.StreamHandler):
    """Marks the handler we install, so reconfiguring replaces only ours."""


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _GajiHandler)]:
        root.removeHandler(handler)
    handler = _GajiHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(SERVICE_NAME))
    root.addHandler(handler)
    root.setLevel(level.upper())

    # uvicorn installs its own plain-text handlers; route its messages through
    # ours instead, and silence its access log (AccessLogMiddleware writes one).
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every outgoing request at INFO; ours are already traced.
    logging.getLogger("httpx").setLevel(logging.WARNING)
