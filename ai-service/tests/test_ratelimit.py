"""Rate limits counted in the real Redis (db 13), under a per-test key prefix."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis

from gaji_ai.common.ratelimit import scaled_rule

from support import CLIENT_IP, SERVICE_AUTH, TEST_REDIS_URL, unused_url

# 300 reads and 100 writes a minute, scaled: 3 reads, 1 write.
LOW = 0.01


async def test_headers_on_every_limited_response(client):
    first = await client.get("/missing")
    second = await client.get("/api/ai/me")
    for response in (first, second):
        assert response.headers["x-ratelimit-limit"] == "300"
        reset = int(response.headers["x-ratelimit-reset"])
        assert time.time() < reset <= time.time() + 61
    assert [first.headers["x-ratelimit-remaining"], second.headers["x-ratelimit-remaining"]] == [
        "299",
        "298",
    ]


async def test_reads_over_the_limit_are_429(make_client):
    async with make_client(rate_limit_scale=LOW) as client:
        remaining = [
            (await client.get("/missing")).headers["x-ratelimit-remaining"] for _ in range(3)
        ]
        refused = await client.get("/missing")

    assert remaining == ["2", "1", "0"]
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "RATE_LIMITED"
    assert body["trace_id"] == refused.headers["x-request-id"]
    assert refused.headers["x-ratelimit-limit"] == "3"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_writes_have_their_own_lower_limit(make_client):
    async with make_client(rate_limit_scale=LOW) as client:
        first = await client.post("/missing", json={"message": "a"})
        second = await client.post("/missing", json={"message": "b"})
        read = await client.get("/missing")
    assert first.status_code == 404
    assert first.headers["x-ratelimit-limit"] == "1"
    assert second.status_code == 429
    assert read.status_code == 404


async def test_clients_are_counted_by_ip(make_client, redis_prefix):
    async with make_client(rate_limit_scale=LOW) as client:
        for _ in range(4):
            await client.get("/missing")
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        assert int(await redis.get(f"{redis_prefix}:rl:read:ip:{CLIENT_IP}")) == 4
        assert 0 < await redis.ttl(f"{redis_prefix}:rl:read:ip:{CLIENT_IP}") <= 60
    finally:
        await redis.aclose()


async def test_internal_routes_are_never_limited(make_client):
    """Core's calls (every chat turn) must not share one throttled bucket."""
    async with make_client(rate_limit_scale=LOW) as client:
        responses = [
            await client.get("/api/ai/internal/health", headers=SERVICE_AUTH) for _ in range(10)
        ]
    assert {r.status_code for r in responses} == {200}
    assert all("x-ratelimit-limit" not in r.headers for r in responses)


async def test_health_routes_are_never_limited(make_client):
    async with make_client(rate_limit_scale=LOW) as client:
        statuses = {(await client.get("/healthz")).status_code for _ in range(10)}
    assert statuses == {200}


async def test_disabled_rate_limit_adds_no_headers(make_client):
    async with make_client(rate_limit_enabled=False, rate_limit_scale=LOW) as client:
        responses = [await client.get("/missing") for _ in range(5)]
    assert [r.status_code for r in responses] == [404] * 5
    assert all("x-ratelimit-limit" not in r.headers for r in responses)


async def test_redis_down_fails_open(make_client, caplog):
    caplog.set_level(logging.WARNING)
    dead_redis = unused_url().replace("http://", "redis://")
    async with make_client(redis_url=dead_redis) as client:
        response = await client.get("/missing")
    assert response.status_code == 404
    assert "x-ratelimit-limit" not in response.headers
    assert "rate limiter unavailable" in caplog.text


def test_scale_never_drops_a_limit_below_one():
    assert scaled_rule("write", 0.000001).limit == 1
    assert scaled_rule("read", 2.0).limit == 600
    assert scaled_rule("read", 2 / 300).limit == 2


async def test_x_forwarded_for_cannot_buy_a_fresh_bucket(make_client):
    async with make_client(rate_limit_scale=LOW) as client:
        statuses = [
            (await client.get("/missing", headers={"X-Forwarded-For": f"10.0.0.{i}"})).status_code
            for i in range(4)
        ]
    assert statuses == [404, 404, 404, 429]


async def test_trusted_proxy_forwarded_address_is_the_subject(make_client, redis_prefix):
    async with make_client(rate_limit_scale=LOW, trusted_proxy_count=1) as client:
        for i in range(2):
            # The client wrote the first entry; the trusted proxy appended the last.
            await client.get("/missing", headers={"X-Forwarded-For": f"6.6.6.{i}, 203.0.113.7"})
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        assert int(await redis.get(f"{redis_prefix}:rl:read:ip:203.0.113.7")) == 2
    finally:
        await redis.aclose()
