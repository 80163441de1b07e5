"""The foundation as a user and as the other service meet it, over HTTP."""

from __future__ import annotations

import uuid

ENVELOPE_KEYS = {"timestamp", "status", "error", "message", "path", "trace_id", "code"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_both_services_are_live_and_ready(core, ai):
    assert core.get("/healthz").json()["status"] == "ok"
    assert ai.get("/healthz").json()["status"] == "ok"
    core_ready = core.get("/readyz")
    assert core_ready.status_code == 200
    assert set(core_ready.json()["checks"]) == {"postgres", "redis"}
    ai_ready = ai.get("/readyz")
    assert ai_ready.status_code == 200, ai_ready.text
    checks = ai_ready.json()["checks"]
    # ai -> core over the internal API with the service token, for real.
    assert checks["core"]["ok"] is True
    assert checks["redis"]["ok"] is True
    assert checks["vector_store"]["ok"] is True
    # The local engine (llama-server) is loaded and answering.
    assert checks["llm_engine"]["ok"] is True


def test_ai_verifies_core_issued_token_through_jwks(core, ai, reader):
    me = ai.get("/api/ai/me", headers=bearer(reader["tokens"]["access_token"]))
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["user_id"] == reader["user"]["id"]
    assert body["username"] == reader["user"]["username"]
    assert body["is_staff"] is False


def test_ai_refuses_a_token_core_did_not_sign(ai, reader):
    access = reader["tokens"]["access_token"]
    header, payload, signature = access.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    response = ai.get("/api/ai/me", headers=bearer(forged))
    assert response.status_code == 401
    assert ENVELOPE_KEYS <= set(response.json())


def test_internal_routes_accept_only_the_service_token_both_ways(stack, core, ai, reader):
    user_token = reader["tokens"]["access_token"]
    for client, path in ((core, "/api/internal/health"), (ai, "/api/ai/internal/health")):
        ok = client.get(path, headers=bearer(stack.service_token))
        assert ok.status_code == 200, (path, ok.text)
        assert ok.json()["status"] == "ok"
        anonymous = client.get(path)
        assert anonymous.status_code == 401, path
        with_user_jwt = client.get(path, headers=bearer(user_token))
        assert with_user_jwt.status_code == 403, path
        assert with_user_jwt.json()["code"] == "SERVICE_TOKEN_REQUIRED"
        wrong = client.get(path, headers=bearer("x" * 40))
        assert wrong.status_code in (401, 403), path


def test_public_routes_refuse_the_service_token_both_ways(stack, core, ai, reader):
    on_core = core.get(f"/api/v1/users/{reader['user']['username']}", headers=bearer(stack.service_token))
    assert on_core.status_code == 403
    assert on_core.json()["code"] == "SERVICE_TOKEN_NOT_ALLOWED"
    on_ai = ai.get("/api/ai/me", headers=bearer(stack.service_token))
    assert on_ai.status_code == 403
    assert on_ai.json()["code"] == "SERVICE_TOKEN_NOT_ALLOWED"


def test_request_id_is_forwarded_from_ai_to_core_and_logged(stack, ai):
    request_id = f"e2e-{uuid.uuid4().hex}"
    response = ai.get("/readyz", headers={"X-Request-ID": request_id})
    assert response.headers["X-Request-ID"] == request_id
    # ai's readiness check called core's internal health route with the same id.
    core_lines = stack.log_lines_with("core", request_id)
    assert any("/api/internal/health" in line for line in core_lines), stack.log_text("core")[-2000:]
    assert stack.log_lines_with("ai", request_id)


def test_errors_are_envelopes_on_both_services(core, ai):
    for client in (core, ai):
        request_id = f"e2e-{uuid.uuid4().hex[:12]}"
        missing = client.get("/no/such/route", headers={"X-Request-ID": request_id})
        assert missing.status_code == 404
        body = missing.json()
        assert ENVELOPE_KEYS <= set(body)
        assert body["trace_id"] == request_id
        assert missing.headers["X-Request-ID"] == request_id


def test_rate_limit_headers_on_both_services(core, ai, reader):
    for client, path in ((core, f"/api/v1/users/{reader['user']['username']}"), (ai, "/api/ai/me")):
        response = client.get(path, headers=bearer(reader["tokens"]["access_token"]))
        assert response.status_code == 200
        for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert header in response.headers, (path, header)


def test_logout_revokes_refresh_token(core, reader):
    tokens = reader["tokens"]
    refreshed = core.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    assert refreshed.json()["expires_in"] == 3600
    out = core.post(
        "/api/v1/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=bearer(tokens["access_token"]),
    )
    assert out.status_code == 200
    again = core.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 403
    assert again.json()["code"] == "TOKEN_BLACKLISTED"


def test_follow_journey(core, reader):
    other = core.post(
        "/api/v1/auth/register",
        json={
            "email": f"o_{uuid.uuid4().hex[:8]}@example.com",
            "username": f"o_{uuid.uuid4().hex[:8]}",
            "password": "E2ePassw0rd",
        },
    ).json()
    me = bearer(reader["tokens"]["access_token"])
    them = bearer(other["tokens"]["access_token"])
    assert core.post(f"/api/v1/users/{other['user']['id']}/follow", headers=me).json()["is_mutual"] is False
    assert core.post(f"/api/v1/users/{reader['user']['id']}/follow", headers=them).json()["is_mutual"] is True
    followers = core.get(f"/api/v1/users/{other['user']['id']}/followers").json()
    assert followers["page"]["total_elements"] == 1
    assert followers["content"][0]["username"] == reader["user"]["username"]
    assert followers["content"][0]["is_mutual"] is True
    profile = core.get(f"/api/v1/users/{other['user']['username']}").json()
    assert (profile["follower_count"], profile["following_count"]) == (1, 1)


def test_worker_runs_tasks_from_the_broker(stack):
    from celery import Celery

    app = Celery(broker=stack.redis_url, backend=stack.redis_url)
    result = app.send_task("gaji.ping", queue="generation")
    assert result.get(timeout=60) == "pong"
    app.close()


def test_openapi_documents_are_served(core, ai):
    core_doc = core.get("/api/v1/openapi.json")
    assert core_doc.status_code == 200
    assert "/api/v1/auth/register" in core_doc.json()["paths"]
    ai_doc = ai.get("/openapi.json")
    assert ai_doc.status_code == 200
    assert "/api/ai/me" in ai_doc.json()["paths"]
    assert core.get("/swagger-ui.html").status_code == 200
    assert ai.get("/docs").status_code == 200


def test_core_reaches_ai_with_the_service_token_and_forwards_request_id(stack):
    """core -> ai over the internal API: core's typed client, run as an
    operator would (`manage.py check_ai`), against the real ai process."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    request_id = f"e2e-core-{uuid.uuid4().hex[:12]}"
    result = subprocess.run(
        [sys.executable, "manage.py", "check_ai", "--request-id", request_id],
        cwd=Path(__file__).resolve().parents[1] / "core-service",
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    health = json.loads(result.stdout.strip().splitlines()[-1])
    assert health["service"] == "ai"
    assert health["request_id"] == request_id
    ai_lines = stack.log_lines_with("ai", request_id)
    assert any("/api/ai/internal/health" in line for line in ai_lines)
