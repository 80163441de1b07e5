from gaji_contracts.conventions import current_request_id


def request_id_of(request) -> str:
    """The id set by RequestIdMiddleware (falls back to the context variable)."""
    return getattr(request, "request_id", None) or current_request_id.get()
