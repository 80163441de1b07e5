"""Rate limits: headers, scopes, subjects, proxies and Redis outages."""

from __future__ import annotations

import time

import pytest
from django.test import RequestFactory

from common import ratelimit
from common.redis import get_redis
from conftest import PASSWORD, assert_envelope, bearer_for

LOGIN = "/api/v1/auth/login"
PROFILE = "/api/v1/users/profile"
RL_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def _login(client, email, **extra):
    return client.post(LOGIN, {"email": email, "password": "Wr0ngPass"}, format="json", **extra)


def test_read_limit_headers(api, user):
    before = time.time()
    response = api.get(f"/api/v1/users/{user.username}")
    assert response.status_code == 200
    assert response["X-RateLimit-Limit"] == "300"
    assert response["X-RateLimit-Remaining"] == "299"
    assert before + 55 <= int(response["X-RateLimit-Reset"]) <= time.time() + 61
    assert api.get(f"/api/v1/users/{user.username}")["X-RateLimit-Remaining"] == "298"


def test_write_limit_headers(auth_api):
    first = auth_api.put(PROFILE, {"bio": "a"}, format="json")
    assert first.status_code == 200
    assert first["X-RateLimit-Limit"] == "100"
    assert first["X-RateLimit-Remaining"] == "99"
    assert auth_api.put(PROFILE, {"bio": "b"}, format="json")["X-RateLimit-Remaining"] == "98"


def test_errors_carry_rate_limit_headers_too(api, db):
    response = api.get("/api/v1/users/nobody_here")
    assert_envelope(response, 404)
    assert response["X-RateLimit-Limit"] == "300"


def test_reads_and_writes_count_separately(auth_api, user):
    auth_api.put(PROFILE, {"bio": "a"}, format="json")
    assert auth_api.get(f"/api/v1/users/{user.username}")["X-RateLimit-Remaining"] == "299"


def test_authenticated_requests_are_counted_per_user(api, make_user):
    alice, bob = make_user(), make_user()
    path = f"/api/v1/users/{alice.username}"
    api.credentials(HTTP_AUTHORIZATION=bearer_for(alice))
    assert api.get(path)["X-RateLimit-Remaining"] == "299"
    assert api.get(path)["X-RateLimit-Remaining"] == "298"
    api.credentials(HTTP_AUTHORIZATION=bearer_for(bob))  # same IP, other user
    assert api.get(path)["X-RateLimit-Remaining"] == "299"
    api.credentials()  # anonymous: by IP
    assert api.get(path)["X-RateLimit-Remaining"] == "299"
    # A user keeps their budget across addresses.
    api.credentials(HTTP_AUTHORIZATION=bearer_for(alice))
    assert api.get(path, REMOTE_ADDR="10.9.9.9")["X-RateLimit-Remaining"] == "297"


def test_write_limit_enforced(auth_api, settings):
    settings.RATE_LIMIT_SCALE = 0.03  # 100 -> 3
    for n in range(3):
        response = auth_api.put(PROFILE, {"bio": str(n)}, format="json")
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "3"
    response = auth_api.put(PROFILE, {"bio": "blocked"}, format="json")
    assert_envelope(response, 429, "RATE_LIMITED")
    assert 0 < int(response["Retry-After"]) <= 60
    # Reads are a separate budget.
    assert auth_api.get("/api/v1/auth/jwks.json").status_code == 200


def test_read_limit_enforced(api, settings, db):
    settings.RATE_LIMIT_SCALE = 0.01  # 300 -> 3
    for _ in range(3):
        assert api.get("/api/v1/auth/jwks.json").status_code == 200
    response = api.get("/api/v1/auth/jwks.json")
    assert_envelope(response, 429, "RATE_LIMITED")
    assert response["X-RateLimit-Remaining"] == "0"


def test_scale_raises_limits(api, user, settings):
    settings.RATE_LIMIT_SCALE = 10
    assert _login(api, user.email)["X-RateLimit-Limit"] == "50"


def test_disabled_rate_limit_adds_no_headers(api, user, settings):
    settings.RATE_LIMIT_ENABLED = False
    for _ in range(7):
        response = _login(api, user.email)
        assert response.status_code == 401
    for header in RL_HEADERS:
        assert header not in response


def test_window_key_lives_in_redis_with_ttl(api, user, settings):
    _login(api, user.email)
    key = f"{settings.REDIS_KEY_PREFIX}:rl:login:ip:127.0.0.1"
    redis = get_redis()
    assert redis.get(key) == "1"
    assert 0 < redis.ttl(key) <= 15 * 60


def test_x_forwarded_for_ignored_by_default(api, user):
    for n in range(5):
        assert _login(api, user.email, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code == 401
    response = _login(api, user.email, HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert_envelope(response, 429, "RATE_LIMITED")
    assert "Retry-After" in response


def test_x_forwarded_for_honoured_with_one_trusted_proxy(api, user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        assert _login(api, user.email, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 401
    assert _login(api, user.email, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
    other = _login(api, user.email, HTTP_X_FORWARDED_FOR="203.0.113.2")
    assert other.status_code == 401
    assert other["X-RateLimit-Remaining"] == "4"
    # A client-written address left of the proxy's is not trusted.
    spoofed = _login(api, user.email, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.1")
    assert spoofed.status_code == 429


def test_client_ip_rules(settings):
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 2.2.2.2")
    assert ratelimit.client_ip(request) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert ratelimit.client_ip(request) == "2.2.2.2"
    settings.TRUSTED_PROXY_COUNT = 2
    assert ratelimit.client_ip(request) == "1.1.1.1"
    settings.TRUSTED_PROXY_COUNT = 3  # fewer hops than proxies: fall back to the peer
    assert ratelimit.client_ip(request) == "10.0.0.1"
    assert ratelimit.client_ip(factory.get("/", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("post", "/api/v1/auth/login", "login"),
        ("post", "/api/v1/auth/register", "register"),
        ("post", "/api/v1/conversations/abc/messages", "messages"),
        ("post", "/api/v1/users/x/follow", "write"),
        ("put", "/api/v1/users/profile", "write"),
        ("delete", "/api/v1/users/x/unfollow", "write"),
        ("get", "/api/v1/auth/login", "read"),
        ("get", "/api/v1/users/x", "read"),
        ("get", "/healthz", None),
        ("get", "/readyz", None),
        ("get", "/api/internal/health", None),
        ("get", "/static/x.css", None),
    ],
)
def test_scope_of(method, path, scope):
    assert ratelimit.scope_of(getattr(RequestFactory(), method)(path)) == scope


def test_health_and_internal_routes_are_not_limited(api, db, settings):
    for path in ("/healthz", "/readyz", "/api/internal/health"):
        response = api.get(path, HTTP_AUTHORIZATION=f"Bearer {settings.SERVICE_TOKEN}")
        assert response.status_code == 200, path
        assert "X-RateLimit-Limit" not in response


def test_invalid_token_is_counted_by_ip(api, db, settings):
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api.get("/api/v1/auth/jwks.json")
    assert response.status_code == 200  # jwks takes no auth
    assert get_redis().get(f"{settings.REDIS_KEY_PREFIX}:rl:read:ip:127.0.0.1") == "1"


def test_service_token_is_counted_by_ip(api, db, settings):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {settings.SERVICE_TOKEN}")
    api.get("/api/v1/auth/jwks.json")
    assert get_redis().get(f"{settings.REDIS_KEY_PREFIX}:rl:read:ip:127.0.0.1") == "1"


def test_redis_down_fails_open(api, user, redis_down):
    for _ in range(7):  # beyond the login limit: nothing is counted
        response = _login(api, user.email)
        assert response.status_code == 401
        for header in RL_HEADERS:
            assert header not in response
    ok = api.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    assert ok.status_code == 200
    profile = api.get(f"/api/v1/users/{user.username}")
    assert profile.status_code == 200
    assert "X-RateLimit-Limit" not in profile


def test_redis_back_after_outage(api, user, redis_down, settings):
    assert "X-RateLimit-Limit" not in _login(api, user.email)
    settings.REDIS_URL = redis_down  # the real server again
    get_redis.cache_clear()
    ratelimit._script.cache_clear()
    assert _login(api, user.email)["X-RateLimit-Limit"] == "5"


def test_a_read_over_the_limit_runs_once_per_window_then_is_refused_before_it_runs(
    api, db, settings, monkeypatch
):
    from scenarios import reads

    settings.RATE_LIMIT_SCALE = 0.01  # 3 reads a minute
    ratelimit._refused.clear()
    calls = []
    original = reads.scenario_page

    def counting(**kwargs):
        calls.append(1)
        return original(**kwargs)

    monkeypatch.setattr(reads, "scenario_page", counting)
    statuses = [api.get("/api/v1/scenarios").status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]
    # The first refused read ran during its count (a read has no effects);
    # the next ones were refused before running.
    assert len(calls) == 4
    assert api.get("/api/v1/scenarios")["Retry-After"]


def test_a_read_whose_script_redis_lost_is_counted_once(api, db, settings):
    from common.redis import get_redis

    settings.RATE_LIMIT_SCALE = 0.01
    ratelimit._refused.clear()
    get_redis().script_flush()
    first = api.get("/api/v1/scenarios")
    assert first.status_code == 200 and first["X-RateLimit-Remaining"] == "2"
    assert api.get("/api/v1/scenarios")["X-RateLimit-Remaining"] == "1"
