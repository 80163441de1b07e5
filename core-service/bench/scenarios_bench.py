#!/usr/bin/env python
"""Benchmark of the scenario endpoints against production-like core.

    .venv/bin/python core-service/bench/scenarios_bench.py
    BENCH_SECONDS=20 BENCH_CONCURRENCY=32 .venv/bin/python core-service/bench/scenarios_bench.py

What it does:
1. Seeds (once) `gaji_bench`: the bench users of auth_social_bench.py, the
   five public-domain novels, and ~220,000 scenarios of all three types
   (parameters that pass shared-contracts' schemas, built from each story's
   characters, events and places) in fork trees up to 8 levels deep: many
   roots with small trees, ~1% soft-deleted forks, and one tree with exactly
   10,000 descendants (100 children, each the top of a 99-node binary bush;
   depth 7). Rows are inserted level by level with set-based SQL, so the
   cycle-refusing trigger always finds the parents; fork_count is the number
   of live children, and quality_score follows scenarios/quality.py over
   fork_count and a skewed conversation_count (so it spreads over [0, 1)).
   Scenarios created by earlier runs (POST create/fork) are removed at start
   and their parents' counters restored, so every run sees the same data.
2. Starts core under gunicorn (production settings) on a free port.
3. Drives each endpoint with wrk for BENCH_SECONDS and prints p50/p95/p99,
   requests/s and errors (any non-2xx) next to the API spec's p95 target;
   writes var/bench/scenarios.json.

It prints numbers; it asserts nothing. wrk, PostgreSQL and Redis share the
machine's cores with the server, so these are lower bounds.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from gaji_contracts.scenarios import ParameterErrors, validate_parameters

from common import (
    CONCURRENCY,
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
    sample_users,
    seed_users,
    start_core,
    stop_core,
    write_results,
)

SCENARIOS = int(os.environ.get("BENCH_SCENARIOS", "200000"))  # at least this many are seeded
SEED_VERSION = "scenarios-v2"
BIG_ROOT = uuid.uuid5(uuid.NAMESPACE_URL, "https://gaji.bench/scenarios/big-tree")
BIG_CHILDREN = 100
BIG_BUSH = 99  # descendants below each child: a binary heap of 1 + 99 nodes, 6 levels
MAX_DEPTH = 8
TREE_CLIENTS = 4  # the 10,000-descendant tree is megabytes per response
TYPES = ["CHARACTER_CHANGE", "EVENT_ALTERATION", "SETTING_MODIFICATION"]

# p95 targets from gaji-api-spec.txt (fork tree: 300 ms below depth 5, 500 from 5)
TARGETS_MS = {
    "get": 100,
    "list": 200,
    "search": 300,
    "forks": 150,
    "fork-tree d5": 500,
    "fork-tree 10k": 500,
    "create": 200,
    "fork": 200,
}


@dataclass(frozen=True)
class Story:
    slug: str
    weight: float  # percent of root scenarios
    characters: list[str]
    events: list[str]
    places: list[str]
    novel: dict | None = field(default=None)


STORIES = [
    Story(
        "pride-and-prejudice",
        26,
        [
            "Elizabeth Bennet",
            "Fitzwilliam Darcy",
            "Jane Bennet",
            "Charles Bingley",
            "George Wickham",
            "Lydia Bennet",
            "Mr. Collins",
            "Charlotte Lucas",
            "Lady Catherine de Bourgh",
            "Mr. Bennet",
            "Mrs. Bennet",
            "Caroline Bingley",
            "Georgiana Darcy",
        ],
        [
            "the Meryton assembly",
            "Darcy's first proposal at Hunsford",
            "Lydia's elopement with Wickham",
            "the Netherfield ball",
            "Mr. Collins's proposal to Elizabeth",
            "Elizabeth's visit to Pemberley",
            "Lady Catherine's visit to Longbourn",
            "Jane's illness at Netherfield",
        ],
        ["Longbourn", "Netherfield Park", "Pemberley", "Rosings Park", "Meryton", "London", "Brighton"],
        {"title": "Pride and Prejudice", "author": "Jane Austen", "year": 1813, "genre": "romance"},
    ),
    Story(
        "frankenstein",
        15,
        [
            "Victor Frankenstein",
            "the Creature",
            "Elizabeth Lavenza",
            "Henry Clerval",
            "Robert Walton",
            "Alphonse Frankenstein",
            "William Frankenstein",
            "Justine Moritz",
            "Felix De Lacey",
            "Safie",
        ],
        [
            "the Creature's awakening",
            "William's murder",
            "Justine's trial",
            "the destruction of the female creature",
            "Clerval's murder",
            "Elizabeth's death on the wedding night",
            "the chase across the Arctic",
        ],
        [
            "Geneva",
            "Ingolstadt",
            "the Orkney Islands",
            "the Arctic ice",
            "Mont Blanc",
            "the De Lacey cottage",
        ],
        {"title": "Frankenstein", "author": "Mary Shelley", "year": 1818, "genre": "gothic"},
    ),
    Story(
        "alice-in-wonderland",
        15,
        [
            "Alice",
            "the White Rabbit",
            "the Mad Hatter",
            "the March Hare",
            "the Cheshire Cat",
            "the Queen of Hearts",
            "the Caterpillar",
            "the Duchess",
            "the Dormouse",
            "the Mock Turtle",
            "the Gryphon",
        ],
        [
            "the fall down the rabbit hole",
            "the pool of tears",
            "the caucus race",
            "the mad tea party",
            "the croquet game",
            "the trial of the Knave of Hearts",
        ],
        ["the rabbit hole", "the Duchess's kitchen", "the croquet ground", "the courtroom", "the garden"],
        {
            "title": "Alice's Adventures in Wonderland",
            "author": "Lewis Carroll",
            "year": 1865,
            "genre": "fantasy",
        },
    ),
    Story(
        "a-room-with-a-view",
        12,
        [
            "Lucy Honeychurch",
            "George Emerson",
            "Cecil Vyse",
            "Charlotte Bartlett",
            "Mr. Emerson",
            "Freddy Honeychurch",
            "Mr. Beebe",
            "Eleanor Lavish",
        ],
        [
            "the room swap at the Pension Bertolini",
            "the murder in the Piazza Signoria",
            "the kiss in the violet field",
            "Cecil's proposal",
            "the bathing at the Sacred Lake",
            "Lucy breaking off the engagement",
        ],
        ["Florence", "the Pension Bertolini", "Fiesole", "Windy Corner", "Summer Street", "Rome"],
        {"title": "A Room with a View", "author": "E. M. Forster", "year": 1908, "genre": "romance"},
    ),
    Story(
        "metamorphosis",
        12,
        ["Gregor Samsa", "Grete Samsa", "Mr. Samsa", "Mrs. Samsa", "the chief clerk", "the charwoman"],
        [
            "Gregor waking as an insect",
            "the chief clerk's visit",
            "the apple attack",
            "Grete's violin performance",
            "the lodgers giving notice",
            "Gregor's death",
        ],
        ["the Samsa apartment", "Gregor's room", "the office", "the tram to the countryside"],
        {"title": "The Metamorphosis", "author": "Franz Kafka", "year": 1915, "genre": "novella"},
    ),
    # Free base stories: no novel behind them.
    Story(
        "the-lighthouse-keeper",
        4,
        ["Maren", "old Tobias", "the harbour master", "a shipwrecked sailor"],
        ["the great storm", "the lamp failing", "the wreck of the Aurora"],
        ["the lighthouse", "the harbour", "the cliffs"],
    ),
    Story(
        "mars-colony-diaries",
        4,
        ["Commander Okafor", "Dr. Lin", "the botanist Priya", "the colony AI"],
        ["the dust storm", "the oxygen leak", "the first harvest", "the supply ship delay"],
        ["Olympus base", "the greenhouse dome", "the ice mine"],
    ),
    Story(
        "the-clockwork-heist",
        4,
        ["Ada Finch", "the Baron", "Inspector Hale", "the clockmaker"],
        ["the vault break-in", "the double cross", "the masked ball"],
        ["the Royal Bank", "the clock tower", "the canal docks"],
    ),
    Story(
        "dragon-school",
        4,
        ["Rowan", "the headmistress", "Ember the dragon", "the rival Kestrel"],
        ["the entrance exam", "the hatching", "the tournament final"],
        ["the academy", "the dragon caves", "the floating library"],
    ),
    Story(
        "my-grandmothers-village",
        4,
        ["Grandmother Yuna", "the schoolteacher", "the village chief", "a travelling merchant"],
        ["the harvest festival", "the flood", "the wedding in spring"],
        ["the village well", "the mountain temple", "the rice fields"],
    ),
]

PERSONALITIES = [
    "is reckless and impulsive",
    "is painfully shy",
    "is openly ambitious",
    "is cheerful and quick to forgive",
    "is cold and calculating",
    "is fiercely honest",
    "is a hopeless romantic",
    "trusts no one",
]
SKILLS = [
    "is a gifted surgeon",
    "can read minds",
    "is a brilliant chess player",
    "writes anonymous newspaper columns",
    "is an expert fencer",
    "speaks every language",
    "plays the violin like a master",
    "builds clockwork machines",
]
BACKSTORIES = [
    "was raised by sailors",
    "lost a fortune at cards",
    "grew up in an orphanage",
    "was once engaged to a soldier",
    "secretly inherited a factory",
    "spent ten years abroad",
    "survived a shipwreck",
]
ORIGINALS = [
    "as in the original",
    "proud and reserved",
    "a minor figure",
    "loyal to the family",
    "poor but clever",
]
RIPPLES = [
    "a different marriage",
    "an old friendship breaks",
    "a family fortune is lost",
    "a rival gains the upper hand",
    "the ending turns hopeful",
    "a secret comes out early",
    "the town takes sides",
    "a journey is never made",
]
OUTCOMES = [
    "the two families are reconciled",
    "a duel follows at dawn",
    "the family is ruined",
    "a long-kept secret comes out",
    "the wedding is called off",
    "an unlikely friendship begins",
    "everyone leaves town",
    "the story ends in a trial",
]
LOCATIONS = [
    "Victorian London",
    "a Martian colony",
    "a Caribbean island",
    "1920s New York",
    "a floating city",
]
ERAS = ["the 1960s", "the year 2300", "ancient Rome", "the Jazz Age", "a medieval kingdom"]
MAGIC = [
    "Magic works through music",
    "Every family owns one enchanted object",
    "Dreams come true at midnight",
    "Animals can talk to those they trust",
]
TECH = [
    "Everyone carries a smartphone",
    "Steam-powered airships fill the sky",
    "An artificial intelligence advises every household",
    "Telegraph lines reach every house",
]
SEARCH_WORDS = [
    "darcy",
    "elizabeth bennet",
    "creature",
    "rabbit",
    "gregor",
    "florence",
    "wedding",
    "duel",
    "secret",
    "queen of hearts",
    "violin",
    "arctic",
    "pemberley",
    "tea party",
    "clockwork",
    "lighthouse",
    "airships",
    "orphanage",
    "mars colony",
    "trial",
    "elizabth",  # typos: found by the trigram arm
    "frankenstien",
]


# --------------------------------------------------------------------- seed

PICK_SQL = """
CREATE FUNCTION pg_temp.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE
AS $$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;
CREATE FUNCTION pg_temp.picks(a text[], n int) RETURNS jsonb LANGUAGE sql VOLATILE
AS $$ SELECT coalesce(jsonb_agg(x), '[]'::jsonb)
      FROM (SELECT x FROM unnest(a) AS x ORDER BY random() LIMIT n) AS s $$;
"""

# One row per scenario to create: ids, tree shape, story and type, counters.
PLAN_SQL = """
CREATE TEMP TABLE plan (
    id uuid PRIMARY KEY, parent_id uuid, lvl int NOT NULL, sid int NOT NULL, kind int NOT NULL,
    creator int NOT NULL, conv int NOT NULL, deleted bool NOT NULL, big bool NOT NULL,
    heap int, created_at timestamptz NOT NULL, forks int NOT NULL DEFAULT 0
);
CREATE INDEX ON plan (lvl);
"""

# Conversations: log-uniform over 0..299, so quality_score spreads over [0, 1).
CREATOR = "1 + floor(%(users)s * power(random(), 2))::int"  # a few prolific creators
CONV = "floor(exp(random() * ln(300)))::int - 1"

FOREST_ROOTS_SQL = f"""
INSERT INTO plan (id, parent_id, lvl, sid, kind, creator, conv, deleted, big, created_at)
SELECT gen_random_uuid(), NULL, 0, st.sid, floor(random() * 3)::int, {CREATOR}, {CONV},
       random() < 0.01, false, now() - interval '400 days' + random() * interval '360 days'
FROM (SELECT random() * 100 AS w FROM generate_series(1, %(roots)s::int)) AS g
JOIN bench_story st ON g.w >= st.lo AND g.w < st.hi
"""

# Children of level lvl-1: none, 1, 2 or 3 each (fewer below level 1).
FOREST_LEVEL_SQL = f"""
INSERT INTO plan (id, parent_id, lvl, sid, kind, creator, conv, deleted, big, created_at)
SELECT gen_random_uuid(), p.id, %(lvl)s, p.sid,
       CASE WHEN random() < 0.8 THEN p.kind ELSE floor(random() * 3)::int END,
       {CREATOR}, {CONV}, random() < 0.01, false,
       p.created_at + interval '1 minute' + random() * interval '4 days'
FROM (SELECT id, sid, kind, created_at, random() AS r FROM plan WHERE lvl = %(lvl)s - 1 AND NOT big) AS p
CROSS JOIN LATERAL generate_series(
    1, CASE WHEN p.r < %(p0)s THEN 0 WHEN p.r < %(p1)s THEN 1 WHEN p.r < %(p2)s THEN 2 ELSE 3 END
) AS k
"""

BIG_ROOT_SQL = f"""
INSERT INTO plan (id, parent_id, lvl, sid, kind, creator, conv, deleted, big, created_at)
SELECT %(root)s, NULL, 0, sid, 0, {CREATOR}, {CONV}, false, true, now() - interval '300 days'
FROM bench_story WHERE slug = 'pride-and-prejudice'
"""

BIG_CHILDREN_SQL = f"""
INSERT INTO plan (id, parent_id, lvl, sid, kind, creator, conv, deleted, big, heap, created_at)
SELECT gen_random_uuid(), p.id, 1, p.sid, floor(random() * 3)::int, {CREATOR}, {CONV}, false, true, 0,
       p.created_at + random() * interval '20 days'
FROM plan p CROSS JOIN generate_series(1, %(children)s::int) AS c WHERE p.id = %(root)s
"""

# Heap node k (1..99) of a bush hangs below node (k - 1) / 2 (node 0 = the
# child of the root); heap level l holds k in [2^l - 1, 2^(l+1) - 2].
BIG_LEVEL_SQL = f"""
INSERT INTO plan (id, parent_id, lvl, sid, kind, creator, conv, deleted, big, heap, created_at)
SELECT gen_random_uuid(), p.id, %(lvl)s, p.sid,
       CASE WHEN random() < 0.8 THEN p.kind ELSE floor(random() * 3)::int END,
       {CREATOR}, {CONV}, false, true, k, p.created_at + interval '1 minute' + random() * interval '3 days'
FROM plan p JOIN generate_series(%(lo)s::int, %(hi)s::int) AS k ON p.heap = (k - 1) / 2
WHERE p.big AND p.lvl = %(lvl)s - 1
"""

FORKS_SQL = """
UPDATE plan SET forks = c.n
FROM (SELECT parent_id, count(*) AS n FROM plan WHERE parent_id IS NOT NULL AND NOT deleted
      GROUP BY parent_id) AS c
WHERE plan.id = c.parent_id
"""

INSERT_LEVEL_SQL = """
INSERT INTO scenarios_scenario (
    id, base_story, novel_id, parent_id, creator_id, scenario_type, parameters, quality_score,
    fork_count, conversation_count, deleted_at, created_at, updated_at)
SELECT p.id, st.slug, st.novel_id, p.parent_id, u.id, (%(types)s::text[])[p.kind + 1],
       CASE p.kind
       WHEN 0 THEN jsonb_strip_nulls(jsonb_build_object(
           'character', v.who,
           'property', v.prop,
           'original_value', CASE WHEN random() < 0.6 THEN pg_temp.pick(%(originals)s) END,
           'new_value', v.who || ' ' || CASE v.prop
               WHEN 'house' THEN 'is raised at ' || pg_temp.pick(st.places)
               WHEN 'personality' THEN pg_temp.pick(%(personalities)s)
               WHEN 'skill' THEN pg_temp.pick(%(skills)s)
               ELSE pg_temp.pick(%(backstories)s) END,
           'change_point', CASE WHEN random() < 0.5 THEN 'Before ' || pg_temp.pick(st.events) END,
           'ripple_effects', pg_temp.picks(%(ripples)s, floor(random() * 4)::int)))
       WHEN 1 THEN jsonb_strip_nulls(jsonb_build_object(
           'event', pg_temp.pick(st.events),
           'timeline_point', CASE WHEN random() < 0.5 THEN 'Chapter ' || (1 + floor(random() * 60)) END,
           'alteration_type', v.alt,
           'original_outcome', CASE WHEN random() < 0.4 THEN 'It happens as in the book' END,
           'new_outcome', CASE v.alt
               WHEN 'prevent' THEN 'It never happens, so '
               WHEN 'accelerate' THEN 'It happens a year earlier, so '
               WHEN 'relocate' THEN 'It takes place at ' || pg_temp.pick(st.places) || ', so '
               ELSE 'It ends differently: ' END || pg_temp.pick(%(outcomes)s),
           'affected_characters', pg_temp.picks(st.characters, floor(random() * 4)::int)))
       ELSE jsonb_build_object(
           'setting_element', v.element,
           'scope', pg_temp.pick('{global,regional,local}'),
           'change_description', CASE v.element
               WHEN 'location' THEN 'The story moves to ' || pg_temp.pick(%(locations)s)
               WHEN 'era' THEN 'The story is set in ' || pg_temp.pick(%(eras)s)
               WHEN 'magic_system' THEN pg_temp.pick(%(magic)s)
               ELSE pg_temp.pick(%(tech)s) END || ', starting at ' || pg_temp.pick(st.places),
           'impact_level', pg_temp.pick('{minor,moderate,major}'))
       END,
       -- scenarios/quality.py: engagement / (engagement + 10)
       (2.0 * p.forks + p.conv) / (2.0 * p.forks + p.conv + 10.0),
       p.forks, p.conv, CASE WHEN p.deleted THEN p.created_at + interval '2 days' END,
       p.created_at, p.created_at
FROM plan p
JOIN bench_story st ON st.sid = p.sid
JOIN bench_user u ON u.n = p.creator
CROSS JOIN LATERAL (
    SELECT pg_temp.pick(st.characters) AS who,
           pg_temp.pick('{house,personality,skill,backstory}') AS prop,
           pg_temp.pick('{prevent,accelerate,relocate,outcome_change}') AS alt,
           pg_temp.pick('{location,era,magic_system,technology}') AS element
) AS v
WHERE p.lvl = %(lvl)s
"""

FORK_COUNT_MISMATCHES_SQL = """
SELECT count(*) FROM scenarios_scenario p
LEFT JOIN (SELECT parent_id, count(*) AS n FROM scenarios_scenario
           WHERE parent_id IS NOT NULL AND deleted_at IS NULL GROUP BY parent_id) AS c
       ON c.parent_id = p.id
WHERE p.fork_count <> coalesce(c.n, 0)
"""

DESCENDANTS_SQL = """
WITH RECURSIVE t AS (
    SELECT id, 0 AS depth FROM scenarios_scenario WHERE id = %s
    UNION ALL
    SELECT s.id, t.depth + 1 FROM scenarios_scenario s JOIN t ON s.parent_id = t.id
)
SELECT id FROM t WHERE depth > 0
"""


def vocab_params() -> dict:
    return {
        "types": TYPES,
        "originals": ORIGINALS,
        "personalities": PERSONALITIES,
        "skills": SKILLS,
        "backstories": BACKSTORIES,
        "ripples": RIPPLES,
        "outcomes": OUTCOMES,
        "locations": LOCATIONS,
        "eras": ERAS,
        "magic": MAGIC,
        "tech": TECH,
    }


def seeded_until(conn) -> str | None:
    conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
    row = conn.execute("SELECT value FROM bench_meta WHERE key = %s", [SEED_VERSION]).fetchone()
    return row[0] if row else None


def cleanup_previous_runs(conn, until: str) -> None:
    """Remove what POST create/fork added in earlier runs and restore the
    counters (and quality) of the parents they forked."""
    parents: list = []
    while True:  # leaves first: a fork's parent is PROTECTed
        gone = conn.execute(
            "DELETE FROM scenarios_scenario s WHERE created_at > %s AND NOT EXISTS "
            "(SELECT 1 FROM scenarios_scenario c WHERE c.parent_id = s.id) RETURNING parent_id",
            [until],
        ).fetchall()
        if not gone:
            break
        parents += [r[0] for r in gone]
    touched = sorted({p for p in parents if p is not None})
    if touched:
        conn.execute(
            """
            UPDATE scenarios_scenario s
            SET fork_count = c.n,
                quality_score = (2.0 * c.n + s.conversation_count + 0.5 * s.like_count)
                    / (2.0 * c.n + s.conversation_count + 0.5 * s.like_count + 10.0)
            FROM (SELECT p.id, count(ch.id) FILTER (WHERE ch.deleted_at IS NULL) AS n
                  FROM scenarios_scenario p LEFT JOIN scenarios_scenario ch ON ch.parent_id = p.id
                  WHERE p.id = ANY(%s) GROUP BY p.id) AS c
            WHERE s.id = c.id
            """,
            [touched],
        )
    if parents:
        print(
            f"seed: removed {len(parents)} scenarios created by earlier runs ({len(touched)} parents fixed)"
        )


def seed_scenarios() -> dict:
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        until = seeded_until(conn)
        if until:
            cleanup_previous_runs(conn, until)
            have = conn.execute(
                "SELECT count(*) FROM scenarios_scenario WHERE created_at <= %s", [until]
            ).fetchone()[0]
            big = conn.execute(
                "SELECT count(*) FROM scenarios_scenario WHERE id = %s", [BIG_ROOT]
            ).fetchone()[0]
            if have >= SCENARIOS and big:
                print(f"seed: reusing {have} scenarios in {DB_NAME}")
                return {"scenarios": have, "seeded_until": until, "seed_seconds": None}
        return create_scenarios(conn)


def create_scenarios(conn) -> dict:
    print(f"seed: creating >= {SCENARIOS} scenarios in {DB_NAME} ...", flush=True)
    started = time.perf_counter()
    conn.execute("DELETE FROM bench_meta WHERE key = %s", [SEED_VERSION])
    conn.execute("TRUNCATE scenarios_scenario CASCADE")
    conn.execute("SELECT setseed(0.42)")
    conn.execute(PICK_SQL)

    # The novels behind the public-domain stories (free stories have none).
    for story in STORIES:
        if story.novel:
            conn.execute(
                """
                INSERT INTO novels_novel (id, slug, title, author, publication_year, genre, language,
                    ingestion_status, total_passages, total_characters, vectordb_collection_id,
                    created_at, updated_at)
                VALUES (gen_random_uuid(), %s, %s, %s, %s, %s, 'en', 'completed', 0, 0, 'novel_passages',
                        now(), now())
                ON CONFLICT (slug) DO NOTHING
                """,
                [
                    story.slug,
                    story.novel["title"],
                    story.novel["author"],
                    story.novel["year"],
                    story.novel["genre"],
                ],
            )
    conn.execute(
        "CREATE TEMP TABLE bench_story (sid int PRIMARY KEY, slug text, novel_id uuid, lo float, hi float, "
        "characters text[], events text[], places text[])"
    )
    lo = 0.0
    with conn.cursor() as cur:
        for sid, story in enumerate(STORIES):
            cur.execute(
                "INSERT INTO bench_story SELECT %s, %s, (SELECT id FROM novels_novel WHERE slug = %s), "
                "%s, %s, %s, %s, %s",
                [
                    sid,
                    story.slug,
                    story.slug,
                    lo,
                    lo + story.weight,
                    story.characters,
                    story.events,
                    story.places,
                ],
            )
            lo += story.weight
    assert abs(lo - 100) < 1e-9, "story weights must add up to 100"
    conn.execute(
        "CREATE TEMP TABLE bench_user AS SELECT substring(username FROM 7)::int AS n, id FROM accounts_user "
        "WHERE username ~ '^bench_[0-9]+$'"
    )
    conn.execute("CREATE UNIQUE INDEX ON bench_user (n)")
    users = conn.execute("SELECT count(*) FROM bench_user WHERE n BETWEEN 1 AND %s", [USERS]).fetchone()[0]
    if users < USERS:
        raise SystemExit(f"seed: expected {USERS} bench users, found {users}")

    # The plan: forest roots, then each level's children, then the big tree.
    conn.execute(PLAN_SQL)
    roots = int(SCENARIOS * 0.33)
    conn.execute(FOREST_ROOTS_SQL, {"roots": roots, "users": USERS})
    for lvl in range(1, MAX_DEPTH + 1):
        p0, p1, p2 = (0.45, 0.75, 0.92) if lvl == 1 else (0.6, 0.85, 0.95)
        conn.execute(FOREST_LEVEL_SQL, {"lvl": lvl, "p0": p0, "p1": p1, "p2": p2, "users": USERS})
    conn.execute(BIG_ROOT_SQL, {"root": BIG_ROOT, "users": USERS})
    conn.execute(BIG_CHILDREN_SQL, {"root": BIG_ROOT, "children": BIG_CHILDREN, "users": USERS})
    heap_level, lo_k = 1, 1
    while lo_k <= BIG_BUSH:
        hi_k = min(2 ** (heap_level + 1) - 2, BIG_BUSH)
        conn.execute(BIG_LEVEL_SQL, {"lvl": heap_level + 1, "lo": lo_k, "hi": hi_k, "users": USERS})
        heap_level, lo_k = heap_level + 1, hi_k + 1
    conn.execute(FORKS_SQL)
    conn.execute("ANALYZE plan")
    levels = conn.execute("SELECT lvl, count(*) FROM plan GROUP BY lvl ORDER BY lvl").fetchall()
    total = sum(n for _, n in levels)
    if total < SCENARIOS:
        raise SystemExit(f"seed: the plan has {total} scenarios, fewer than {SCENARIOS}")
    print(f"seed: plan {total} scenarios by level {dict(levels)} ({time.perf_counter() - started:.1f}s)")

    # Level by level, so every parent exists before its children.
    params = vocab_params()
    for lvl, n in levels:
        step = time.perf_counter()
        conn.execute(INSERT_LEVEL_SQL, {**params, "lvl": lvl})
        print(f"seed: level {lvl}: {n} rows in {time.perf_counter() - step:.1f}s", flush=True)
    step = time.perf_counter()
    conn.execute("VACUUM (ANALYZE) scenarios_scenario")
    print(f"seed: vacuum analyze in {time.perf_counter() - step:.1f}s")
    until = conn.execute("SELECT now()::text").fetchone()[0]
    conn.execute(
        "INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        [SEED_VERSION, until],
    )
    seconds = time.perf_counter() - started
    print(f"seed: done in {seconds:.1f}s")
    check_seed(conn)
    return {"scenarios": total, "levels": dict(levels), "seeded_until": until, "seed_seconds": seconds}


def check_seed(conn) -> None:
    """The invariants the API relies on, and parameters that pass the
    contracts' schemas unchanged (as if created through the API)."""
    mismatches = conn.execute(FORK_COUNT_MISMATCHES_SQL).fetchone()[0]
    big = len(conn.execute(DESCENDANTS_SQL, [BIG_ROOT]).fetchall())
    rows = conn.execute(
        "SELECT scenario_type, parameters FROM scenarios_scenario TABLESAMPLE BERNOULLI (1)"
    ).fetchall()
    invalid = 0
    for kind, parameters in rows:
        try:
            if validate_parameters(kind, parameters) != parameters:
                invalid += 1
        except ParameterErrors:
            invalid += 1
    quality = conn.execute(
        "SELECT min(quality_score), max(quality_score), "
        "percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY quality_score) "
        "FROM scenarios_scenario"
    ).fetchone()
    print(
        f"seed: check: fork_count mismatches {mismatches}, big tree descendants {big}, "
        f"{invalid}/{len(rows)} sampled parameters invalid, quality min {quality[0]:.2f} "
        f"quartiles {', '.join(f'{q:.2f}' for q in quality[2])} max {quality[1]:.2f}"
    )
    if mismatches or big != BIG_CHILDREN * (1 + BIG_BUSH) or invalid:
        raise SystemExit("seed: invariants broken (see above)")


# ---------------------------------------------------------------------- run


def parameters_for(rng: random.Random, story: Story, kind: str) -> dict:
    """A body for `kind` that passes the contracts' schema."""
    if kind == "CHARACTER_CHANGE":
        who = rng.choice(story.characters)
        prop = rng.choice(["house", "personality", "skill", "backstory"])
        tail = {
            "house": "is raised at " + rng.choice(story.places),
            "personality": rng.choice(PERSONALITIES),
            "skill": rng.choice(SKILLS),
            "backstory": rng.choice(BACKSTORIES),
        }[prop]
        body = {"character": who, "property": prop, "new_value": f"{who} {tail}"}
        if rng.random() < 0.6:
            body["original_value"] = rng.choice(ORIGINALS)
        if rng.random() < 0.5:
            body["change_point"] = "Before " + rng.choice(story.events)
        body["ripple_effects"] = rng.sample(RIPPLES, rng.randrange(4))
    elif kind == "EVENT_ALTERATION":
        alt = rng.choice(["prevent", "accelerate", "relocate", "outcome_change"])
        lead = {
            "prevent": "It never happens, so ",
            "accelerate": "It happens a year earlier, so ",
            "relocate": f"It takes place at {rng.choice(story.places)}, so ",
            "outcome_change": "It ends differently: ",
        }[alt]
        body = {
            "event": rng.choice(story.events),
            "alteration_type": alt,
            "new_outcome": lead + rng.choice(OUTCOMES),
            "affected_characters": rng.sample(story.characters, rng.randrange(4)),
        }
        if rng.random() < 0.5:
            body["timeline_point"] = f"Chapter {rng.randint(1, 60)}"
    else:
        element = rng.choice(["location", "era", "magic_system", "technology"])
        what = {
            "location": "The story moves to " + rng.choice(LOCATIONS),
            "era": "The story is set in " + rng.choice(ERAS),
            "magic_system": rng.choice(MAGIC),
            "technology": rng.choice(TECH),
        }[element]
        body = {
            "setting_element": element,
            "scope": rng.choice(["global", "regional", "local"]),
            "change_description": f"{what}, starting at {rng.choice(story.places)}",
            "impact_level": rng.choice(["minor", "moderate", "major"]),
        }
    validate_parameters(kind, body)  # raises if the bench builds a bad body
    return body


def sample_targets(until: str) -> dict:
    """Random ids for the read and fork requests, from the seeded rows only
    (never the big tree, which must keep exactly 10,000 descendants)."""
    with psycopg.connect(DB_URL) as conn:
        big = {r[0] for r in conn.execute(DESCENDANTS_SQL, [BIG_ROOT]).fetchall()} | {BIG_ROOT}
        live = "deleted_at IS NULL AND created_at <= %(until)s"
        ids = conn.execute(
            f"SELECT id, base_story, scenario_type FROM scenarios_scenario WHERE {live} "
            "ORDER BY random() LIMIT 6000",
            {"until": until},
        ).fetchall()
        parents = conn.execute(
            f"SELECT id FROM scenarios_scenario WHERE {live} AND fork_count > 0 AND id <> %(big)s "
            "ORDER BY random() LIMIT 2000",
            {"until": until, "big": BIG_ROOT},
        ).fetchall()
        # Roots with grandchildren: at least two levels below them.
        roots = conn.execute(
            """
            SELECT id FROM (
                SELECT DISTINCT r.id FROM scenarios_scenario r
                JOIN scenarios_scenario c ON c.parent_id = r.id
                WHERE r.parent_id IS NULL AND r.deleted_at IS NULL AND c.fork_count > 0 AND r.id <> %(big)s
            ) AS multi ORDER BY random() LIMIT 2000
            """,
            {"big": BIG_ROOT},
        ).fetchall()
        stories = [
            r[0] for r in conn.execute("SELECT DISTINCT base_story FROM scenarios_scenario").fetchall()
        ]
    return {
        "get": [r[0] for r in ids],
        "fork": [r for r in ids if r[0] not in big],
        "parents": [r[0] for r in parents],
        "roots": [r[0] for r in roots],
        "stories": sorted(stories),
    }


def probe(base: str, targets: dict) -> dict:
    """One request per read endpoint before the load: the search route's
    presence, and the size of the 10,000-descendant tree."""
    info: dict = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        r = client.get("/api/v1/scenarios/search", params={"q": "darcy"})
        info["search_status"] = r.status_code
        if r.status_code == 404:
            print("search: not available (GET /api/v1/scenarios/search is a 404)")
        elif r.status_code != 200:
            print(f"search: probe answered {r.status_code}: {r.text[:200]}")
        started = time.perf_counter()
        r = client.get(f"/api/v1/scenarios/{BIG_ROOT}/fork-tree", params={"max_depth": 50})
        r.raise_for_status()
        tree = r.json()
        info["big_tree"] = {
            "bytes": len(r.content),
            "seconds_alone": time.perf_counter() - started,
            "total_descendants": tree["total_descendants"],
            "depth": tree["depth"],
        }
        print(
            f"fork-tree 10k: {len(r.content) / 1e6:.1f} MB, {tree['total_descendants']} descendants, "
            f"depth {tree['depth']}, {info['big_tree']['seconds_alone'] * 1000:.0f} ms alone"
        )
        r = client.get(f"/api/v1/scenarios/{targets['roots'][0]}/fork-tree", params={"max_depth": 5})
        r.raise_for_status()
        info["depth5_tree_example"] = {
            "bytes": len(r.content),
            "total_descendants": r.json()["total_descendants"],
        }
    return info


def run_all(base: str, workdir: Path, until: str, core: subprocess.Popen) -> tuple[list[dict], dict]:
    wrk = ensure_wrk()
    rng = random.Random(7)
    targets = sample_targets(until)
    info = probe(base, targets)
    tokens = [t["access_token"] for t in login_tokens(base, sample_users(CONCURRENCY))]
    by_slug = {s.slug: s for s in STORIES}

    get = [lua_request("GET", f"/api/v1/scenarios/{i}") for i in targets["get"]]
    lists = [
        lua_request(
            "GET",
            "/api/v1/scenarios?"
            + urllib.parse.urlencode(
                {
                    "base_story": rng.choice(targets["stories"]),
                    "scenario_type": rng.choice(TYPES),
                    "sort": "quality_score,desc",
                    "page": rng.choice([0, 0, 0, 0, 1, 2]),
                    "size": 20,
                }
            ),
        )
        for _ in range(2000)
    ]
    search = [
        lua_request(
            "GET", "/api/v1/scenarios/search?" + urllib.parse.urlencode({"q": rng.choice(SEARCH_WORDS)})
        )
        for _ in range(2000)
    ]
    forks = [lua_request("GET", f"/api/v1/scenarios/{i}/forks?page=0&size=20") for i in targets["parents"]]
    trees = [lua_request("GET", f"/api/v1/scenarios/{i}/fork-tree?max_depth=5") for i in targets["roots"]]
    big_tree = [lua_request("GET", f"/api/v1/scenarios/{BIG_ROOT}/fork-tree?max_depth=50")]
    create = []
    for i in range(3000):
        story, kind = rng.choice(STORIES), rng.choice(TYPES)
        body = {
            "base_story": story.slug,
            "scenario_type": kind,
            "parameters": parameters_for(rng, story, kind),
        }
        create.append(lua_request("POST", "/api/v1/scenarios", token=tokens[i % len(tokens)], body=body))
    fork = []
    for i, (parent, slug, parent_kind) in enumerate(targets["fork"][:3000]):
        story = by_slug.get(slug, STORIES[0])
        body: dict = {}
        kind = parent_kind
        if rng.random() < 0.2:  # a fork may change the type
            kind = body["scenario_type"] = rng.choice(TYPES)
        body["parameters"] = parameters_for(rng, story, kind)
        fork.append(
            lua_request("POST", f"/api/v1/scenarios/{parent}/fork", token=tokens[i % len(tokens)], body=body)
        )

    # Search runs last: its slow requests outlive wrk's run, and the
    # server works through them for minutes; nothing is measured after it.
    plan = [
        ("get", get, CONCURRENCY),
        ("list", lists, CONCURRENCY),
        ("forks", forks, CONCURRENCY),
        ("fork-tree d5", trees, CONCURRENCY),
        ("fork-tree 10k", big_tree, TREE_CLIENTS),
        ("create", create, CONCURRENCY),
        ("fork", fork, CONCURRENCY),
        ("search", search, CONCURRENCY),
    ]
    results = []
    for name, requests, clients in plan:
        if name == "search" and info["search_status"] == 404:
            continue
        results.append(
            drive(wrk, name, base, requests, clients, workdir, target_p95=TARGETS_MS[name], core=core)
        )
    order = list(TARGETS_MS)
    results.sort(key=lambda r: order.index(r["endpoint"]))
    return results, info


def main() -> None:
    port = free_port()
    env = core_env(port)
    prepare_database(env)
    seed_users(env)
    seed = seed_scenarios()
    if "--seed-only" in sys.argv:  # bench/floor_bench.py seeds its databases this way
        return
    proc = start_core(port, env)
    try:
        print(
            f"core: gunicorn {WORKERS} gthread workers x {THREADS} threads, {os.cpu_count()} CPUs; "
            f"load: {CONCURRENCY} concurrent clients ({TREE_CLIENTS} for the 10k tree), "
            f"{SECONDS:.0f}s per endpoint"
        )
        with tempfile.TemporaryDirectory() as workdir:
            results, info = run_all(f"http://127.0.0.1:{port}", Path(workdir), seed["seeded_until"], proc)
    finally:
        stop_core(proc)
    with psycopg.connect(DB_URL) as conn:
        # Concurrent forks bump their parents' counters: none may be lost.
        mismatches = conn.execute(FORK_COUNT_MISMATCHES_SQL).fetchone()[0]
    print()
    print_table(results)
    if info["search_status"] == 404:
        print("search: not available")
    big = info["big_tree"]
    print(
        f"fork-tree 10k: {big['bytes'] / 1e6:.1f} MB per response "
        f"({big['total_descendants']} descendants, depth {big['depth']})"
    )
    print(f"fork_count after the POST runs: {mismatches} parents differ from their live fork count")
    if seed["seed_seconds"] is not None:
        print(f"seed: {seed['scenarios']} scenarios in {seed['seed_seconds']:.1f}s")
    write_results(
        "scenarios.json",
        {
            "config": {
                "workers": WORKERS,
                "threads": THREADS,
                "cpus": os.cpu_count(),
                "concurrency": CONCURRENCY,
                "seconds": SECONDS,
            },
            "seed": seed,
            "probe": info,
            "fork_count_mismatches_after_run": mismatches,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
