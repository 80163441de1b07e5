import json
import logging

import pytest
from gaji_contracts import DEFAULT_RATE_LIMITS, ErrorCode, Page, PageInfo, TokenClaims, build_error
from gaji_contracts.conventions import (
    JsonFormatter,
    bearer_token,
    clean_request_id,
    current_request_id,
    is_service_token,
)
from gaji_contracts.ratelimit import decide
from pydantic import ValidationError


def test_error_envelope_has_every_field_and_utc_timestamp():
    body = build_error(status=404, message="Not found.", path="/x", trace_id="abc", code=ErrorCode.NOT_FOUND)
    assert set(body) == {"timestamp", "status", "error", "message", "path", "trace_id", "code"}
    assert body["error"] == "Not Found"
    assert body["code"] == "NOT_FOUND"
    assert body["timestamp"].endswith("Z")


def test_error_envelope_keeps_details_and_strips_control_chars_from_path():
    body = build_error(
        status=400,
        message="bad",
        path="/a\x00b\nc",
        trace_id="t",
        code=ErrorCode.VALIDATION_ERROR,
        details={"email": ["invalid"]},
    )
    assert body["path"] == "/abc"
    assert body["details"] == {"email": ["invalid"]}


def test_error_envelope_refuses_non_error_status():
    with pytest.raises(ValidationError):
        build_error(status=200, message="", path="/", trace_id="t", code="X")


@pytest.mark.parametrize(
    "given,kept",
    [
        ("req-123", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("bad id", False),
        ("", False),
        (None, False),
        ("x\ny", False),
        ("<script>", False),
    ],
)
def test_clean_request_id(given, kept):
    result = clean_request_id(given)
    assert (result == given) is kept
    assert result


def test_bearer_and_service_token():
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert is_service_token("s3cret", "s3cret")
    assert not is_service_token("s3cre", "s3cret")
    assert not is_service_token("", "")
    assert not is_service_token(None, "s3cret")


def test_rate_limit_table_matches_spec():
    assert (DEFAULT_RATE_LIMITS["login"].limit, DEFAULT_RATE_LIMITS["login"].window_seconds) == (5, 900)
    assert (DEFAULT_RATE_LIMITS["register"].limit, DEFAULT_RATE_LIMITS["register"].window_seconds) == (
        3,
        3600,
    )
    assert DEFAULT_RATE_LIMITS["messages"].limit == 10
    assert DEFAULT_RATE_LIMITS["write"].limit == 100
    assert DEFAULT_RATE_LIMITS["read"].limit == 300


def test_rate_limit_decision():
    rule = DEFAULT_RATE_LIMITS["login"]
    ok = decide(rule=rule, count=5, ttl=30, now_epoch=1000)
    assert ok.allowed and ok.remaining == 0 and ok.reset_epoch == 1030
    over = decide(rule=rule, count=6, ttl=30, now_epoch=1000)
    assert not over.allowed and over.retry_after == 30
    assert over.headers() == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1030",
    }


def test_page_model_bounds():
    Page[int](content=[1], page=PageInfo(number=0, size=100, total_elements=1, total_pages=1))
    with pytest.raises(ValidationError):
        PageInfo(number=0, size=101, total_elements=0, total_pages=0)


def test_token_claims_roundtrip():
    claims = TokenClaims(sub="u", username="n", token_type="access", exp=2, iat=1, jti="j")
    assert claims.is_staff is False and claims.iss == "gaji-core"


def test_json_formatter_includes_request_id_and_extras():
    token = current_request_id.set("rid-1")
    try:
        record = logging.makeLogRecord(
            {"msg": "hello %s", "args": ("x",), "levelname": "INFO", "status": 200}
        )
        line = json.loads(JsonFormatter("core").format(record))
    finally:
        current_request_id.reset(token)
    assert line["message"] == "hello x"
    assert line["request_id"] == "rid-1"
    assert line["status"] == 200
    assert line["service"] == "core"


def test_outgoing_request_id_uses_current_request_or_mints_one():
    from gaji_contracts.conventions import outgoing_request_id

    minted = outgoing_request_id()
    assert minted != "-" and len(minted) == 36
    token = current_request_id.set("rid-42")
    try:
        assert outgoing_request_id() == "rid-42"
    finally:
        current_request_id.reset(token)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("10.0.0.1", "6.6.6.6", 0, "10.0.0.1"),  # no trusted proxy: header ignored
        ("10.0.0.1", "6.6.6.6, 203.0.113.7", 1, "203.0.113.7"),  # the proxy's entry, not the client's
        ("10.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.9", 2, "203.0.113.7"),
        ("10.0.0.1", "", 1, "10.0.0.1"),  # header missing: fall back to the peer
        (None, None, 0, "unknown"),
    ],
)
def test_client_address(peer, forwarded, trusted, expected):
    from gaji_contracts.conventions import client_address

    assert client_address(peer, forwarded, trusted) == expected


def test_error_details_paths():
    from gaji_contracts.errors import error_details

    errors = [
        {"loc": ("body", "title"), "msg": "too long"},
        {"loc": ("ripple_effects", 2), "msg": "too long"},
        {"loc": (), "msg": "not an object"},
    ]
    assert error_details(errors, skip_sources=frozenset({"body"})) == {
        "title": ["too long"],
        "ripple_effects.2": ["too long"],
        "non_field_errors": ["not an object"],
    }
    assert error_details(errors[1:2], prefix="parameters") == {"parameters.ripple_effects.2": ["too long"]}


def test_envelope_problems_accepts_a_built_error_and_names_each_fault():
    from gaji_contracts import envelope_problems

    body = build_error(status=404, message="Not found.", path="/a b", trace_id="r1", code=ErrorCode.NOT_FOUND)
    good = {"status": 404, "content_type": "application/json", "request_id": "r1", "path": "/a b"}
    assert envelope_problems(text=json.dumps(body), **good) == []
    assert envelope_problems(text="<h1>oops</h1>", **{**good, "content_type": "text/html"})
    assert envelope_problems(text="[1]", **good) == ["error body is not an object: [1]"]
    assert (
        "lacks ['code']"
        in envelope_problems(text=json.dumps({k: v for k, v in body.items() if k != "code"}), **good)[0]
    )
    assert envelope_problems(text=json.dumps(body), **{**good, "status": 400}) == [
        "status is wrong: 404",
        "error is wrong: 'Not Found'",
    ]
    assert envelope_problems(text=json.dumps(body), **{**good, "request_id": "other"}) == [
        "trace_id is wrong: 'r1'"
    ]
    assert envelope_problems(text=json.dumps(body), **{**good, "path": "/a%20b"}) == ["path is wrong: '/a b'"]
    bad_details = {**body, "details": {"email": "required"}}
    assert envelope_problems(text=json.dumps(bad_details), **good)[0].startswith("details is not")


def test_web_origins_are_exact_lower_cased_and_validated():
    import pytest
    from gaji_contracts.cors import parse_web_origins

    assert parse_web_origins(" HTTP://App.Example.com/ , http://127.0.0.1:8080,, ") == [
        "http://app.example.com",
        "http://127.0.0.1:8080",
    ]
    assert parse_web_origins("") == []
    for bad in ("*", "https://a.com/path", "ftp://a.com", "a.com", "https://*.a.com", "https://u@a.com"):
        with pytest.raises(ValueError, match="WEB_ORIGINS"):
            parse_web_origins(bad)
