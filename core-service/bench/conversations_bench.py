#!/usr/bin/env python
"""Benchmark of the conversation endpoints against production-like core.

    .venv/bin/python core-service/bench/conversations_bench.py
    BENCH_SECONDS=20 BENCH_CONCURRENCY=32 .venv/bin/python core-service/bench/conversations_bench.py

What it does:
1. Seeds (once) `gaji_bench`: the bench users of auth_social_bench.py, the
   scenarios of scenarios_bench.py, and >= 100,000 conversations with
   >= 1,000,000 messages and their links, likes and memos (set-based SQL).
   Conversations go to random live scenarios so that each of those
   scenarios' conversation_count is exactly its number of conversations
   (the other scenarios keep the scenario seed's synthetic count). Every
   8th conversation of a scenario is a fork (depth 1) of the one before it,
   linking the last min(6, n) messages of its root and adding 0-4 of its
   own; ~2.5% of roots have exactly 50 messages, the others 2-22. Counters
   hold: message_count = links (positions 0..n-1), like_count = likes, and
   the scenario's like_count = its conversations' likes. Rows the POST runs
   of earlier runs added (forks, messages, likes, memos) are removed at
   start and the counters restored, so every run sees the same data.
2. Starts a stub ai service (a thread of this process answering
   POST /api/ai/internal/generations with 202 at once, so send-message
   measures core's own cost) and core under gunicorn
   (production settings, AI_BASE_URL pointing at the stub) on free ports.
3. Drives each endpoint with wrk for BENCH_SECONDS and prints p50/p95/p99,
   requests/s and errors (any non-2xx) next to the API spec's p95 target;
   writes var/bench/conversations.json.

Endpoints: GET a conversation with 50 messages, the list (default sort,
and by user_id), POST fork (of roots), like, unlike, like of one hot
conversation by 16 users, memo upsert, and send-message; each request list
spreads over many conversations and BENCH_TOKEN_USERS (64) signed-in users.
BENCH_CONVERSATIONS / BENCH_MESSAGES set the seed's minimum size;
BENCH_STUB_AI=tests uses the tests' StubAi instead of the fast stub.

It prints numbers; it asserts nothing. wrk, PostgreSQL and Redis share the
machine's cores with the server, so these are lower bounds.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import random
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from gaji_contracts.conversations import FORK_MESSAGE_WINDOW, GENERATIONS_PATH
from scenarios_bench import seed_scenarios

from common import (
    CONCURRENCY,
    CORE,
    DB_NAME,
    DB_URL,
    SECONDS,
    THREADS,
    USERS,
    WORKERS,
    core_env,
    drive,
    ensure_wrk,
    free_port,
    login_tokens,
    lua_request,
    prepare_database,
    print_table,
    seed_users,
    start_core,
    stop_core,
    wait_idle,
    write_results,
)

CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", "100000"))  # at least this many are seeded
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "1000000"))  # at least this many
TOKEN_USERS = int(os.environ.get("BENCH_TOKEN_USERS", "64"))  # users who fork, like, write memos, chat
SEED_VERSION = "conversations-v1"
FORK_EVERY = 8  # every 8th conversation of a scenario forks the one before it
FIFTY_SHARE = 0.025  # roots with exactly 50 messages
HOT_USERS = 16  # users liking (and unliking) one conversation

# p95 targets from gaji-api-spec.txt: get conversation 100 ms, list 200 ms,
# create/update 200 ms (like 100 ms); send-message is "async, returns 202
# immediately": the create target.
TARGETS_MS = {
    "get (50 messages)": 100,
    "list": 200,
    "list by user": 200,
    "fork": 200,
    "like": 100,
    "unlike": 100,
    "like hot row": 100,
    "memo": 200,
    "send message": 200,
}


# --------------------------------------------------------------------- text

WHO = [
    "Elizabeth",
    "Darcy",
    "the Creature",
    "Victor",
    "Alice",
    "the Hatter",
    "Gregor",
    "Grete",
    "Lucy",
    "George",
    "the Queen",
    "Mr. Collins",
]
ASKS = [
    "What would {who} say if we met at the ball tonight?",
    "Tell me how {who} feels about the news from town.",
    "Why did {who} refuse the letter?",
    "Describe the room where {who} is waiting, in detail.",
    "Can {who} change what happens next? I want a different ending.",
    "Let's go for a walk with {who} along the river. What do we see?",
    "I tell {who} the truth about the inheritance. How does {who} react?",
    "What is {who} afraid of, really?",
    "Write the next scene from {who}'s point of view.",
    "I knock on the door. {who} opens it. Go on.",
]
SENTENCES = [
    "The rain had not stopped since morning, and the windows of the drawing room were grey with it.",
    "She set down her cup with more force than she intended, and the saucer rang in the silence.",
    "Nobody in the house spoke of the letter, yet everyone seemed to know what it said.",
    "He considered the question for a long moment before answering, as if weighing every word.",
    "Outside, the carriage wheels ground over the gravel and then fell quiet.",
    "It was not the answer anyone expected, least of all the one who gave it.",
    "A servant lingered at the door a moment too long, pretending to adjust the curtains.",
    "The candle guttered, and for an instant the portraits on the wall seemed to lean closer.",
    "Far below the window, the river carried the last of the evening light toward the sea.",
    "There would be consequences, of course; there always were in a town this small.",
    "She laughed, but there was something brittle in it that did not escape his notice.",
    "The old clock in the hall struck nine, and with it the decision seemed to make itself.",
    "Every path from here led somewhere the original story never dared to go.",
    "He folded the note twice and slipped it into his coat, close to his heart.",
    "In this version of events, the meeting happens a full year earlier, and nothing is the same.",
    "The village would talk for weeks, and most of what it said would be wrong.",
]
TITLES = ["What if…", "A different evening", "Another ending", "The road not taken", "Changing fate"]
MEMOS = [
    "Great twist in the middle. **Reread** the ballroom scene.",
    "- try a darker ending\n- ask about the letter",
    "Favourite so far. The dialogue feels right.",
    "Use this one as a reference for the *tone* I want.",
    "Remember: the heir is revealed in message 12.",
]


def text_pools(rng: random.Random) -> dict:
    questions = [ask.format(who=who) for ask in ASKS for who in WHO]
    answers = [" ".join(rng.sample(SENTENCES, rng.randint(3, 7))) for _ in range(300)]
    return {"questions": questions, "answers": answers, "titles": TITLES, "memos": MEMOS}


# --------------------------------------------------------------------- seed

PICK_SQL = """
CREATE FUNCTION pg_temp.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE
AS $$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;
"""

# Live seeded scenarios in random order, until their conversation_count adds
# up to the target: each gets exactly that many conversations.
CHOSEN_SQL = """
CREATE TEMP TABLE cscen AS
SELECT id, base_story, created_at, conversation_count AS c,
       sum(conversation_count) OVER (ORDER BY r, id) - conversation_count AS before
FROM (SELECT id, base_story, created_at, conversation_count, random() AS r FROM scenarios_scenario
      WHERE deleted_at IS NULL AND created_at <= %(until)s AND conversation_count > 0) AS s
"""

PLAN_SQL = """
CREATE TEMP TABLE cplan (
    n serial PRIMARY KEY, id uuid NOT NULL UNIQUE, scenario_id uuid NOT NULL, k int NOT NULL,
    parent_id uuid, title text NOT NULL, owner int NOT NULL, own int NOT NULL, shared int NOT NULL,
    likes int NOT NULL, memo bool NOT NULL, created_at timestamptz NOT NULL
);
"""

OWNER = "1 + floor(%(users)s * power(random(), 2))::int"  # a few prolific users
# Half have none; the rest log-uniform over 0..29.
LIKES = "CASE WHEN random() < 0.5 THEN 0 ELSE floor(exp(random() * ln(30)))::int - 1 END"

ROOTS_SQL = f"""
INSERT INTO cplan (id, scenario_id, k, parent_id, title, owner, own, shared, likes, memo, created_at)
SELECT gen_random_uuid(), s.id, k, NULL, pg_temp.pick(%(titles)s) || ' (' || s.base_story || ')', {OWNER},
       CASE WHEN random() < %(fifty)s THEN 50 ELSE 2 * (1 + floor(random() * 11))::int END, 0,
       {LIKES}, random() < 0.05,
       least(s.created_at + interval '1 minute'
             + random() * greatest(now() - interval '30 days' - s.created_at, interval '1 hour'),
             now() - interval '1 day')
FROM cscen s CROSS JOIN generate_series(1, s.c) AS k
WHERE k %% %(every)s <> 0
"""

FORKS_SQL = f"""
INSERT INTO cplan (id, scenario_id, k, parent_id, title, owner, own, shared, likes, memo, created_at)
SELECT gen_random_uuid(), p.scenario_id, p.k + 1, p.id, left('Fork of ' || p.title, 200), {OWNER},
       2 * floor(random() * 3)::int, least(%(window)s, p.own), {LIKES}, random() < 0.05,
       least(p.created_at + make_interval(secs => p.own * 40) + interval '1 hour'
             + random() * interval '5 days', now() - interval '1 day')
FROM cplan p JOIN cscen s ON s.id = p.scenario_id
WHERE p.parent_id IS NULL AND (p.k + 1) %% %(every)s = 0 AND p.k + 1 <= s.c
"""

# Each conversation's own messages (a fork's come after the ones it shares),
# user and assistant alternating, 40 s apart.
MESSAGE_PLAN_SQL = """
CREATE TEMP TABLE mplan AS
SELECT c.id AS conversation_id, c.shared + j AS pos, gen_random_uuid() AS id,
       c.created_at + make_interval(secs => (j + 1) * 40) AS created_at,
       CASE WHEN (c.shared + j) % 2 = 1 THEN 80 + floor(random() * 500)::int END AS tokens
FROM cplan c CROSS JOIN generate_series(0, c.own - 1) AS j;
CREATE INDEX ON mplan (conversation_id, pos);
"""

INSERT_MESSAGES_SQL = """
INSERT INTO conversations_message (id, role, content, status, model, total_tokens, degraded, attempt,
                                   error_code, created_at, updated_at, completed_at)
SELECT id, CASE WHEN tokens IS NULL THEN 'user' ELSE 'assistant' END,
       CASE WHEN tokens IS NULL THEN pg_temp.pick(%(questions)s) ELSE pg_temp.pick(%(answers)s) END,
       'completed', CASE WHEN tokens IS NULL THEN '' ELSE 'bench-model' END, tokens, false, 1, '',
       created_at, created_at + CASE WHEN tokens IS NULL THEN interval '0' ELSE interval '8 seconds' END,
       CASE WHEN tokens IS NOT NULL THEN created_at + interval '8 seconds' END
FROM mplan ORDER BY created_at
"""

# Own messages, then each fork's window of its root's last messages.
INSERT_LINKS_SQL = """
INSERT INTO conversation_message_links (conversation_id, message_id, position, created_at)
SELECT conversation_id, message_id, position, created_at FROM (
    SELECT conversation_id, id AS message_id, pos AS position, created_at FROM mplan
    UNION ALL
    SELECT f.id, m.id, m.pos - (p.own - f.shared), f.created_at
    FROM cplan f JOIN cplan p ON p.id = f.parent_id
    JOIN mplan m ON m.conversation_id = p.id AND m.pos >= p.own - f.shared
) AS l ORDER BY created_at
"""

INSERT_CONVERSATIONS_SQL = """
INSERT INTO conversations_conversation (id, scenario_id, user_id, parent_id, depth, title, like_count,
                                        message_count, total_tokens, created_at, updated_at)
SELECT c.id, c.scenario_id, u.id, c.parent_id, CASE WHEN c.parent_id IS NULL THEN 0 ELSE 1 END, c.title,
       c.likes, c.shared + c.own, coalesce(t.tokens, 0), c.created_at,
       greatest(c.created_at, t.last)
FROM cplan c JOIN bench_user u ON u.n = c.owner
LEFT JOIN (SELECT conversation_id, sum(tokens) AS tokens, max(created_at) AS last FROM mplan GROUP BY 1) AS t
       ON t.conversation_id = c.id
ORDER BY c.created_at
"""

# j = 1..likes gives distinct users (4729 is coprime with the user count).
INSERT_LIKES_SQL = """
INSERT INTO conversations_conversationlike (user_id, conversation_id, created_at)
SELECT u.id, c.id, c.created_at + random() * (now() - interval '1 hour' - c.created_at)
FROM cplan c CROSS JOIN generate_series(1, c.likes) AS j
JOIN bench_user u ON u.n = ((c.n * 7919 + j * 4729) %% %(users)s) + 1
ORDER BY 3
"""

INSERT_MEMOS_SQL = """
INSERT INTO conversations_conversationmemo (user_id, conversation_id, memo_text, created_at, updated_at)
SELECT u.id, c.id, pg_temp.pick(%(memos)s), c.created_at + interval '2 hours',
       c.created_at + interval '2 hours'
FROM cplan c JOIN bench_user u ON u.n = ((c.n * 31 + 17) %% %(users)s) + 1
WHERE c.memo
"""

# The scenarios' counters over the conversations (quality as in scenarios/quality.py).
SCENARIO_COUNTERS_SQL = """
UPDATE scenarios_scenario s
SET conversation_count = c.n, like_count = c.likes,
    quality_score = (2.0 * s.fork_count + c.n + 0.5 * c.likes)
                    / (2.0 * s.fork_count + c.n + 0.5 * c.likes + 10.0)
FROM (SELECT sc.id, count(cv.id) AS n, coalesce(sum(cv.like_count), 0) AS likes
      FROM scenarios_scenario sc LEFT JOIN conversations_conversation cv ON cv.scenario_id = sc.id
      WHERE sc.id = ANY(%(ids)s) GROUP BY sc.id) AS c
WHERE s.id = c.id
"""

CHECK_SQL = """
SELECT
  (SELECT count(*) FROM conversations_conversation c
   LEFT JOIN (SELECT conversation_id, count(*) AS n, min(position) AS lo, max(position) AS hi
              FROM conversation_message_links GROUP BY 1) AS l ON l.conversation_id = c.id
   WHERE c.message_count <> coalesce(l.n, 0) OR coalesce(l.lo, 0) <> 0
      OR coalesce(l.hi, -1) <> coalesce(l.n, 0) - 1),
  (SELECT count(*) FROM conversations_conversation c
   LEFT JOIN (SELECT conversation_id, count(*) AS n FROM conversations_conversationlike GROUP BY 1) AS l
          ON l.conversation_id = c.id
   WHERE c.like_count <> coalesce(l.n, 0)),
  (SELECT count(*) FROM scenarios_scenario s
   JOIN (SELECT scenario_id, count(*) AS n, sum(like_count) AS likes
         FROM conversations_conversation GROUP BY 1) AS c
     ON c.scenario_id = s.id
   WHERE s.conversation_count <> c.n OR s.like_count <> c.likes)
"""

TABLES = [
    "conversations_conversation",
    "conversations_message",
    "conversation_message_links",
    "conversations_conversationlike",
    "conversations_conversationmemo",
    "scenarios_scenario",
]


def meta(conn) -> str | None:
    conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
    row = conn.execute("SELECT value FROM bench_meta WHERE key = %s", [SEED_VERSION]).fetchone()
    return row[0] if row else None


def counts(conn, until: str) -> dict:
    row = conn.execute(
        """
        SELECT (SELECT count(*) FROM conversations_conversation WHERE created_at <= %(u)s),
               (SELECT count(*) FROM conversations_conversation WHERE created_at <= %(u)s AND depth = 1),
               (SELECT count(*) FROM conversations_conversation
                 WHERE created_at <= %(u)s AND depth = 0 AND message_count = 50),
               (SELECT count(*) FROM conversations_message WHERE created_at <= %(u)s),
               (SELECT count(*) FROM conversation_message_links WHERE created_at <= %(u)s),
               (SELECT count(*) FROM conversations_conversationlike WHERE created_at <= %(u)s),
               (SELECT count(*) FROM conversations_conversationmemo WHERE created_at <= %(u)s)
        """,
        {"u": until},
    ).fetchone()
    keys = ["conversations", "forks", "fifty_message_roots", "messages", "links", "likes", "memos"]
    return dict(zip(keys, row, strict=True))


def restore_counters(conn, conversation_ids: list, scenario_ids: list) -> None:
    if conversation_ids:
        conn.execute(
            """
            UPDATE conversations_conversation c
            SET message_count = (SELECT count(*) FROM conversation_message_links l
                                 WHERE l.conversation_id = c.id),
                like_count = (SELECT count(*) FROM conversations_conversationlike k
                              WHERE k.conversation_id = c.id),
                updated_at = coalesce((SELECT max(l.created_at) FROM conversation_message_links l
                                       WHERE l.conversation_id = c.id), c.created_at)
            WHERE c.id = ANY(%s)
            """,
            [conversation_ids],
        )
        scenario_ids = scenario_ids + [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT scenario_id FROM conversations_conversation WHERE id = ANY(%s)",
                [conversation_ids],
            ).fetchall()
        ]
    if scenario_ids:
        conn.execute(SCENARIO_COUNTERS_SQL, {"ids": sorted(set(scenario_ids))})


def cleanup_previous_runs(conn, until: str) -> None:
    """Remove what the POST runs of earlier runs added (forks, messages and
    their links, likes, memos) and restore the counters they moved."""
    with conn.transaction():
        likes = conn.execute(
            "DELETE FROM conversations_conversationlike WHERE created_at > %s RETURNING conversation_id",
            [until],
        ).fetchall()
        memos = conn.execute(
            "DELETE FROM conversations_conversationmemo WHERE created_at > %s", [until]
        ).rowcount
        links = conn.execute(
            "DELETE FROM conversation_message_links WHERE created_at > %s RETURNING conversation_id", [until]
        ).fetchall()
        messages = conn.execute("DELETE FROM conversations_message WHERE created_at > %s", [until]).rowcount
        forks = conn.execute(
            "DELETE FROM conversations_conversation WHERE created_at > %s RETURNING scenario_id", [until]
        ).fetchall()
        touched = {r[0] for r in likes} | {r[0] for r in links}
        touched |= {
            r[0]
            for r in conn.execute(
                "SELECT id FROM conversations_conversation WHERE updated_at > %s", [until]
            ).fetchall()
        }
        restore_counters(conn, sorted(touched), [r[0] for r in forks])
    if likes or memos or links or messages or forks:
        print(
            f"seed: removed what earlier runs added: {len(forks)} forks, {messages} messages "
            f"({len(links)} links), {len(likes)} likes, {memos} memos; {len(touched)} conversations restored"
        )


def seed_conversations(scenarios_until: str) -> dict:
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        until = meta(conn)
        if until:
            cleanup_previous_runs(conn, until)
            have = counts(conn, until)
            if have["conversations"] >= CONVERSATIONS and have["messages"] >= MESSAGES:
                print(
                    f"seed: reusing {have['conversations']} conversations and {have['messages']} messages "
                    f"in {DB_NAME}"
                )
                check_seed(conn)
                return {**have, "seeded_until": until, "seed_seconds": None}
        return create_conversations(conn, scenarios_until)


def create_conversations(conn, scenarios_until: str) -> dict:
    print(
        f"seed: creating >= {CONVERSATIONS} conversations, >= {MESSAGES} messages in {DB_NAME} ...",
        flush=True,
    )
    started = time.perf_counter()
    pools = text_pools(random.Random(11))
    params = {"users": USERS, "every": FORK_EVERY, "fifty": FIFTY_SHARE, "window": FORK_MESSAGE_WINDOW}

    def step(label: str, sql: str, args: dict | None = None) -> None:
        at = time.perf_counter()
        rows = conn.execute(sql, args).rowcount
        print(f"seed: {label}: {rows} rows in {time.perf_counter() - at:.1f}s", flush=True)

    with conn.transaction():
        conn.execute("DELETE FROM bench_meta WHERE key = %s", [SEED_VERSION])
        # TRUNCATE of the scenarios (scenarios_bench.py) or users (common.py)
        # cascades to the conversations but not to the messages; CASCADE here
        # takes what refers to them too (memory entries, prompt records).
        conn.execute(
            "TRUNCATE conversations_conversation, conversations_message, conversation_message_links, "
            "conversations_conversationlike, conversations_conversationmemo CASCADE"
        )
        stale = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM scenarios_scenario WHERE like_count <> 0 AND created_at <= %s",
                [scenarios_until],
            ).fetchall()
        ]
        conn.execute("SELECT setseed(0.17)")
        conn.execute(PICK_SQL)
        conn.execute(
            "CREATE TEMP TABLE bench_user AS SELECT substring(username FROM 7)::int AS n, id "
            "FROM accounts_user WHERE username ~ '^bench_[0-9]+$'"
        )
        conn.execute("CREATE UNIQUE INDEX ON bench_user (n)")
        users = conn.execute("SELECT count(*) FROM bench_user WHERE n BETWEEN 1 AND %s", [USERS]).fetchone()[
            0
        ]
        if users < USERS:
            raise SystemExit(f"seed: expected {USERS} bench users, found {users}")
        conn.execute(CHOSEN_SQL, {"until": scenarios_until})
        conn.execute("DELETE FROM cscen WHERE before >= %s", [CONVERSATIONS])
        conn.execute(PLAN_SQL)
        conn.execute(ROOTS_SQL, {**params, "titles": pools["titles"]})
        conn.execute(FORKS_SQL, params)
        conn.execute(MESSAGE_PLAN_SQL)
        conn.execute("ANALYZE cplan")
        conn.execute("ANALYZE mplan")
        plan = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE parent_id IS NOT NULL), "
            "count(*) FILTER (WHERE parent_id IS NULL AND own = 50), sum(own), sum(shared + own), "
            "sum(likes), (SELECT count(*) FROM cscen) FROM cplan"
        ).fetchone()
        print(
            f"seed: plan {plan[0]} conversations ({plan[1]} forks, {plan[2]} with 50 messages) on {plan[6]} "
            f"scenarios, {plan[3]} messages, {plan[4]} links, {plan[5]} likes "
            f"({time.perf_counter() - started:.1f}s)",
            flush=True,
        )
        if plan[0] < CONVERSATIONS or plan[3] < MESSAGES:
            raise SystemExit(
                "seed: the plan is too small (fewer scenarios with conversations than expected?)"
            )
        step("messages", INSERT_MESSAGES_SQL, {"questions": pools["questions"], "answers": pools["answers"]})
        step("conversations", INSERT_CONVERSATIONS_SQL)
        step("links", INSERT_LINKS_SQL)
        step("likes", INSERT_LIKES_SQL, {"users": USERS})
        step("memos", INSERT_MEMOS_SQL, {"users": USERS, "memos": pools["memos"]})
        chosen = [r[0] for r in conn.execute("SELECT id FROM cscen").fetchall()]
        conn.execute(SCENARIO_COUNTERS_SQL, {"ids": sorted(set(chosen) | set(stale))})
        until = conn.execute("SELECT clock_timestamp()::text").fetchone()[0]
        conn.execute("INSERT INTO bench_meta VALUES (%s, %s)", [SEED_VERSION, until])
        at = time.perf_counter()
    print(f"seed: commit (deferred foreign-key checks) in {time.perf_counter() - at:.1f}s")
    at = time.perf_counter()
    for table in TABLES:
        conn.execute(f"VACUUM (ANALYZE) {table}")
    print(f"seed: vacuum analyze in {time.perf_counter() - at:.1f}s")
    seconds = time.perf_counter() - started
    print(f"seed: done in {seconds:.1f}s")
    have = counts(conn, until)
    check_seed(conn)
    return {**have, "seeded_until": until, "seed_seconds": seconds}


def mismatches(conn) -> dict:
    messages, likes, scenarios = conn.execute(CHECK_SQL).fetchone()
    return {"message_count": messages, "like_count": likes, "scenario_counters": scenarios}


def check_seed(conn) -> None:
    found = mismatches(conn)
    print(
        f"seed: check: {found['message_count']} conversations whose message_count or positions differ from "
        f"their links, {found['like_count']} whose like_count differs from their likes, "
        f"{found['scenario_counters']} scenarios whose counters differ"
    )
    if any(found.values()):
        raise SystemExit("seed: invariants broken (see above)")


# ---------------------------------------------------------------------- stub ai


class FastStubAi:
    """A minimal stand-in for ai's POST /api/ai/internal/generations: 202
    {"message_id": <assistant_message_id>, "status": "queued"}, keep-alive,
    on an asyncio loop in a thread of this process (its CPU counts as the
    benchmark's, not as other load).

    Not the tests' StubAi: a thread per connection, and its record keeping,
    cost CPU the benchmark should give to core (BENCH_STUB_AI=tests shows it)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        ready.set()
        self.loop.run_forever()

    @staticmethod
    def _answer(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if method != "POST" or path != GENERATIONS_PATH:
            return 404, b'{"code": "NOT_FOUND"}'
        try:
            message_id = json.loads(body)["assistant_message_id"]
        except (ValueError, KeyError, TypeError):
            return 400, b'{"code": "VALIDATION_ERROR"}'
        return 202, json.dumps({"message_id": message_id, "status": "queued"}).encode()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reasons = {202: "Accepted", 400: "Bad Request", 404: "Not Found"}
        self.writers.add(writer)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _ = head[0].split(" ", 2)
                fields = {}
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    fields[name.strip().lower()] = value.strip()
                length = int(fields.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                status, payload = self._answer(method, path, body)
                writer.write(  # one send: no Nagle wait
                    f"HTTP/1.1 {status} {reasons[status]}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
                if fields.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def _shutdown(self) -> None:
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def down(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def start_stub_ai():
    """FastStubAi, or with BENCH_STUB_AI=tests the StubAi of core's tests
    (loaded from its file, so core's packages, its own `common` among them,
    stay off this script's path)."""
    if os.environ.get("BENCH_STUB_AI") != "tests":
        return FastStubAi()
    path = CORE / "internal" / "tests" / "stub_ai.py"
    spec = importlib.util.spec_from_file_location("bench_stub_ai", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StubAi(record=False)


def stub_request_body() -> dict:
    return {
        "conversation_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "user_message_id": str(uuid.uuid4()),
        "assistant_message_id": str(uuid.uuid4()),
        "attempt": 1,
        "user_message": ASKS[0].format(who=WHO[0]),
        "scenario": {
            "id": str(uuid.uuid4()),
            "base_story": "pride-and-prejudice",
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {"character": "Elizabeth Bennet", "property": "skill", "new_value": "x"},
        },
        "novel_id": None,
        "recent_messages": [
            {
                "id": str(uuid.uuid4()),
                "role": "user" if i % 2 == 0 else "assistant",
                "content": SENTENCES[i % len(SENTENCES)] * 3,
                "status": "completed",
                "created_at": datetime.now(UTC).isoformat(),
            }
            for i in range(20)
        ],
        "model": None,
    }


# ---------------------------------------------------------------------- run


def token_users(until: str) -> list[tuple[str, str, str]]:
    """TOKEN_USERS random bench users owning at least 3 seeded conversations."""
    with psycopg.connect(DB_URL) as conn:
        rows = conn.execute(
            """
            SELECT u.id::text, u.email, u.username FROM accounts_user u
            JOIN conversations_conversation c ON c.user_id = u.id AND c.created_at <= %s
            GROUP BY u.id HAVING count(*) >= 3 ORDER BY random() LIMIT %s
            """,
            [until, TOKEN_USERS],
        ).fetchall()
    return [tuple(r) for r in rows]


def login_all(base: str, users: list[tuple[str, str, str]]) -> dict[str, str]:
    """user id -> access token; a few logins at a time (each is an Argon2 hash)."""
    chunks = [users[i::WORKERS] for i in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        done = list(pool.map(lambda chunk: login_tokens(base, chunk), chunks))
    return {
        u[0]: t["access_token"]
        for chunk, tokens in zip(chunks, done, strict=True)
        for u, t in zip(chunk, tokens, strict=True)
    }


def sample_targets(until: str, users: list[str]) -> dict:
    """Random seeded rows for the requests (never rows earlier runs added)."""
    per_run = max(4000, int(SECONDS * 500))  # more one-shot requests than a run can send
    q = {"until": until, "users": users, "n": per_run}
    with psycopg.connect(DB_URL) as conn:

        def ids(sql: str) -> list[str]:
            return [r[0] for r in conn.execute(sql, q).fetchall()]

        fifty = ids(
            "SELECT id::text FROM conversations_conversation WHERE created_at <= %(until)s AND depth = 0 "
            "AND message_count = 50 ORDER BY random() LIMIT 2000"
        )
        owners = ids(
            "SELECT user_id::text FROM conversations_conversation WHERE created_at <= %(until)s "
            "ORDER BY random() LIMIT 2000"
        )
        roots = ids(
            "SELECT id::text FROM conversations_conversation WHERE created_at <= %(until)s AND depth = 0 "
            "ORDER BY random() LIMIT %(n)s"
        )
        anyone = ids(
            "SELECT id::text FROM conversations_conversation WHERE created_at <= %(until)s "
            "ORDER BY random() LIMIT %(n)s"
        )
        liked = {
            (r[0], r[1])
            for r in conn.execute(
                "SELECT user_id::text, conversation_id::text FROM conversations_conversationlike "
                "WHERE user_id::text = ANY(%(users)s)",
                q,
            ).fetchall()
        }
        memos = {
            (r[0], r[1])
            for r in conn.execute(
                "SELECT user_id::text, conversation_id::text FROM conversations_conversationmemo "
                "WHERE user_id::text = ANY(%(users)s)",
                q,
            ).fetchall()
        }
        own = conn.execute(
            "SELECT id::text, user_id::text FROM conversations_conversation "
            "WHERE created_at <= %(until)s AND user_id::text = ANY(%(users)s) ORDER BY random()",
            q,
        ).fetchall()
        # One conversation liked by nobody of the first HOT_USERS users.
        hot = conn.execute(
            "SELECT c.id::text FROM conversations_conversation c WHERE c.created_at <= %(until)s "
            "AND NOT EXISTS (SELECT 1 FROM conversations_conversationlike k WHERE k.conversation_id = c.id "
            "AND k.user_id::text = ANY(%(hot)s)) ORDER BY c.like_count DESC, c.id LIMIT 1",
            {**q, "hot": users[:HOT_USERS]},
        ).fetchone()[0]
    return {
        "fifty": fifty,
        "owners": owners,
        "roots": roots,
        "anyone": anyone,
        "liked": liked,
        "memos": memos,
        "own": own,
        "hot": hot,
    }


def likes_by(user_ids: list[str], until: str, *, at_least: int) -> list[tuple[str, str]]:
    """The likes the users added since the seed, topped up (in SQL, counters
    restored) to at least `at_least`, so the unlike run never runs out and
    repeats no-op requests. Likes of the seed are never unliked: they would
    not come back."""
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        have = conn.execute(
            "SELECT count(*) FROM conversations_conversationlike "
            "WHERE user_id::text = ANY(%s) AND created_at > %s",
            [user_ids, until],
        ).fetchone()[0]
        if have < at_least:
            with conn.transaction():
                added = conn.execute(
                    """
                    INSERT INTO conversations_conversationlike (user_id, conversation_id, created_at)
                    SELECT u.id, c.id, clock_timestamp()
                    FROM (SELECT id, row_number() OVER () AS i FROM conversations_conversation
                          WHERE created_at <= %(until)s ORDER BY random() LIMIT %(n)s) AS c
                    JOIN unnest(%(users)s::uuid[]) WITH ORDINALITY AS u (id, j)
                      ON u.j - 1 = c.i %% cardinality(%(users)s::uuid[])
                    ON CONFLICT (user_id, conversation_id) DO NOTHING
                    RETURNING conversation_id
                    """,
                    {"until": until, "n": (at_least - have) * 2, "users": user_ids},
                ).fetchall()
                restore_counters(conn, sorted({r[0] for r in added}), [])
        return [
            (r[0], r[1])
            for r in conn.execute(
                "SELECT user_id::text, conversation_id::text FROM conversations_conversationlike "
                "WHERE user_id::text = ANY(%s) AND created_at > %s ORDER BY random()",
                [user_ids, until],
            ).fetchall()
        ]


def count_since(table: str, until: str) -> int:
    with psycopg.connect(DB_URL) as conn:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE created_at > %s", [until]).fetchone()[0]


def probe(base: str, targets: dict, stub_url: str, wrk: str, workdir: Path) -> dict:
    """One GET of a 50-message conversation (its size), and the stub alone
    under the same load (its share of send-message's latency)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        r = client.get(f"/api/v1/conversations/{targets['fifty'][0]}")
        r.raise_for_status()
        body = r.json()
    info = {"get_50_bytes": len(r.content), "get_50_messages": len(body["messages"])}
    print(f"get (50 messages): {len(r.content) / 1e3:.0f} kB, {len(body['messages'])} messages")
    stub = drive(
        wrk,
        "stub ai alone",
        stub_url,
        [lua_request("POST", GENERATIONS_PATH, body=stub_request_body())],
        CONCURRENCY,
        workdir,
        target_p95=TARGETS_MS["send message"],
        seconds=3,
    )
    info["stub_alone"] = stub
    return info


def run_all(base: str, workdir: Path, until: str, core: subprocess.Popen, stub_url: str) -> tuple[list, dict]:
    wrk = ensure_wrk()
    rng = random.Random(7)
    pools = text_pools(rng)
    users = token_users(until)
    started = time.perf_counter()
    tokens = login_all(base, users)
    print(f"tokens: {len(tokens)} users logged in in {time.perf_counter() - started:.1f}s")
    ids = [u[0] for u in users]
    targets = sample_targets(until, ids)
    info = probe(base, targets, stub_url, wrk, workdir)

    get = [lua_request("GET", f"/api/v1/conversations/{i}") for i in targets["fifty"]]
    lists = [
        lua_request("GET", f"/api/v1/conversations?page={rng.choice([0] * 9 + list(range(1, 10)))}&size=20")
        for _ in range(2000)
    ]
    by_user = [
        lua_request("GET", f"/api/v1/conversations?user_id={u}&page=0&size=20") for u in targets["owners"]
    ]
    fork = [
        lua_request(
            "POST",
            f"/api/v1/conversations/{c}/fork",
            token=tokens[ids[i % len(ids)]],
            body={"title": f"My take {i}"} if i % 2 else {},
        )
        for i, c in enumerate(targets["roots"])
    ]
    like_pairs = []
    for i, c in enumerate(targets["anyone"]):
        user = ids[i % len(ids)]
        if (user, c) not in targets["liked"]:
            like_pairs.append((user, c))
    like = [lua_request("POST", f"/api/v1/conversations/{c}/like", token=tokens[u]) for u, c in like_pairs]
    hot_users = ids[:HOT_USERS]
    hot = []
    for u in hot_users:  # wrk's two threads take alternate items: one likes, the other unlikes
        hot.append(lua_request("POST", f"/api/v1/conversations/{targets['hot']}/like", token=tokens[u]))
        hot.append(lua_request("DELETE", f"/api/v1/conversations/{targets['hot']}/unlike", token=tokens[u]))
    memo = []
    for i, c in enumerate(reversed(targets["anyone"])):
        user = ids[(i * 7) % len(ids)]
        if (user, c) not in targets["memos"]:
            body = {"memo_text": f"{rng.choice(MEMOS)}\n\n(note {i})"}
            memo.append(lua_request("POST", f"/api/v1/conversations/{c}/memo", token=tokens[user], body=body))
    send = [
        lua_request(
            "POST",
            f"/api/v1/conversations/{c}/messages",
            token=tokens[u],
            body={"content": rng.choice(pools["questions"])},
        )
        for c, u in targets["own"]
    ]
    info["send_conversations"] = len(send)
    print(f"send message: over {len(send)} conversations of {len(ids)} users")

    results = []

    def run(name: str, requests: list[str], clients: int = CONCURRENCY) -> dict:
        result = drive(wrk, name, base, requests, clients, workdir, target_p95=TARGETS_MS[name], core=core)
        result["distinct_requests"] = len(requests)
        results.append(result)
        return result

    run("get (50 messages)", get)
    run("list", lists)
    run("list by user", by_user)

    def settled(table: str) -> int:
        """Rows added since the seed, once core has finished the requests
        wrk left in flight (wrk's counts omit those, up to one per client)."""
        wait_idle(core)
        return count_since(table, until)

    before = settled("conversations_conversation")
    r = run("fork", fork)
    r["rows_added"] = settled("conversations_conversation") - before
    before = settled("conversations_conversationlike")
    r = run("like", like)
    r["rows_added"] = settled("conversations_conversationlike") - before
    unlike_pairs = likes_by(ids, until, at_least=len(like))
    unlike = [
        lua_request("DELETE", f"/api/v1/conversations/{c}/unlike", token=tokens[u]) for u, c in unlike_pairs
    ]
    before = settled("conversations_conversationlike")
    r = run("unlike", unlike)
    r["rows_removed"] = before - settled("conversations_conversationlike")
    run("like hot row", hot, min(CONCURRENCY, len(hot)))
    before = settled("conversations_conversationmemo")
    r = run("memo", memo)
    r["rows_added"] = settled("conversations_conversationmemo") - before
    before = settled("conversations_message")
    r = run("send message", send)
    r["rows_added"] = settled("conversations_message") - before
    return results, info


def main() -> None:
    port = free_port()
    env = core_env(port)
    prepare_database(env)
    seed_users(env)
    scenarios = seed_scenarios()
    seed = seed_conversations(scenarios["seeded_until"])
    stub = start_stub_ai()
    env["AI_BASE_URL"] = stub.url
    env["AI_PUBLIC_URL"] = "https://ai.gaji.bench"
    proc = start_core(port, env)
    try:
        print(
            f"core: gunicorn {WORKERS} gthread workers x {THREADS} threads, {os.cpu_count()} CPUs; "
            f"load: {CONCURRENCY} concurrent clients, {SECONDS:.0f}s per endpoint; stub ai at {stub.url}"
        )
        with tempfile.TemporaryDirectory() as workdir:
            results, info = run_all(
                f"http://127.0.0.1:{port}", Path(workdir), seed["seeded_until"], proc, stub.url
            )
    finally:
        stop_core(proc)
        stub.down()
    with psycopg.connect(DB_URL) as conn:
        # Concurrent writes move the counters: none may be lost.
        after = mismatches(conn)
    print()
    print_table(results)
    writes = {r["endpoint"]: r for r in results}
    print(
        "rows written (with the requests in flight when wrk stopped; wrk counts only answered ones): "
        + ", ".join(
            f"{name} {writes[name].get('rows_added', writes[name].get('rows_removed'))} "
            f"for {writes[name]['requests']} requests"
            for name in ("fork", "like", "unlike", "memo")
        )
        + f", send message {writes['send message']['rows_added']} messages"
        f" for {writes['send message']['requests']} requests"
    )
    stub_alone = info["stub_alone"]
    print(
        f"stub ai alone ({CONCURRENCY} clients): p50 {stub_alone['p50']:.1f} ms, "
        f"p95 {stub_alone['p95']:.1f} ms, {stub_alone['rps']:.0f} req/s"
    )
    print(
        f"counters after the POST runs: {after['message_count']} message_count, "
        f"{after['like_count']} like_count, {after['scenario_counters']} scenario counter mismatches"
    )
    if seed["seed_seconds"] is not None:
        print(
            f"seed: {seed['conversations']} conversations, {seed['messages']} messages, "
            f"{seed['links']} links, {seed['likes']} likes in {seed['seed_seconds']:.1f}s"
        )
    write_results(
        "conversations.json",
        {
            "config": {
                "workers": WORKERS,
                "threads": THREADS,
                "cpus": os.cpu_count(),
                "concurrency": CONCURRENCY,
                "seconds": SECONDS,
                "token_users": TOKEN_USERS,
            },
            "seed": seed,
            "probe": info,
            "counter_mismatches_after_run": after,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
