"""Staff ingest a bundled novel through the real API and the real Celery
worker, which writes vectors into the API process's embedded Qdrant Edge
store through the internal vector endpoints: the job progresses to
`completed`, core's novel says so, the cast is listed, and a second ingest
replaces the passages instead of duplicating them."""

from __future__ import annotations

import time

import httpx


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def wait_for_job(ai, token: str, job_id: str, timeout: float = 300) -> list[dict]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = ai.get(f"/api/ai/novels/status/{job_id}", headers=bearer(token))
        assert status.status_code == 200, status.text
        seen.append(status.json())
        if seen[-1]["status"] in {"completed", "failed"}:
            return seen
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {seen[-1]['status']} after {timeout}s: {seen[-1]}")


def test_staff_ingest_a_novel_and_readers_see_its_cast(stack, core, ai, staff_token, reader):
    response = ai.post(
        "/api/ai/novels/ingest",
        json={
            "novel_file_path": "alice-in-wonderland.txt",
            "metadata": {"title": "Alice in Wonderland", "author": "Lewis Carroll"},
        },
        headers=bearer(staff_token),
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "queued" and accepted["estimated_duration_minutes"] > 0
    seen = wait_for_job(ai, staff_token, accepted["job_id"])
    final = seen[-1]
    assert final["status"] == "completed", final
    total = final["progress"]["passages_total"]
    assert total > 100 and final["progress"]["passages_processed"] == total
    # Every passage's sentences were also stored as two-sentence windows.
    windows = final["progress"]["windows_total"]
    assert windows > total and final["progress"]["windows_processed"] == windows
    # Progress moved while the job ran (a front-end can draw a bar from it).
    assert any(0 < s["progress"]["passages_processed"] < total for s in seen if s["status"] == "processing")
    assert final["progress"]["characters_extracted"] > 5
    novel = core.get(f"/api/v1/novels/{final['novel_id']}").json()
    assert novel["slug"] == "alice-in-wonderland"
    assert (novel["ingestion_status"], novel["total_passages"]) == ("completed", total)

    cast = ai.get(
        f"/api/ai/novels/{final['novel_id']}/characters", headers=bearer(reader["tokens"]["access_token"])
    )
    assert cast.status_code == 200, cast.text
    names = [c["name"] for c in cast.json()]
    assert names[0] == "Alice" and {"Hatter", "Gryphon", "Dormouse"} <= set(names)
    one = ai.get(
        f"/api/ai/characters/{cast.json()[0]['vectordb_id']}",
        headers=bearer(reader["tokens"]["access_token"]),
    )
    assert one.json()["name"] == "Alice"

    # Ingesting again replaces: the same number of passages, not twice as many.
    again = ai.post(
        "/api/ai/novels/ingest",
        json={"novel_file_path": "alice-in-wonderland.txt", "metadata": {"title": "Alice in Wonderland"}},
        headers=bearer(staff_token),
    ).json()
    assert wait_for_job(ai, staff_token, again["job_id"])[-1]["status"] == "completed"
    count = ai.post(
        "/api/ai/internal/vectors/novel_passages/count",
        json={"novel_id": final["novel_id"]},
        headers=bearer(stack.service_token),
    )
    assert count.json()["count"] == total
    assert core.get(f"/api/v1/novels/{final['novel_id']}").json()["total_passages"] == total


def test_ingest_refuses_readers_and_paths_outside_the_data_directory(ai, staff_token, reader):
    body = {"novel_file_path": "alice-in-wonderland.txt"}
    assert (
        ai.post(
            "/api/ai/novels/ingest", json=body, headers=bearer(reader["tokens"]["access_token"])
        ).status_code
        == 403
    )
    for path in ("../README.md", "/etc/passwd", "../../core-service/manage.py"):
        response = ai.post(
            "/api/ai/novels/ingest", json={"novel_file_path": path}, headers=bearer(staff_token)
        )
        assert response.status_code == 400, (path, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR"
    # A name inside the folder that is no file there: not found.
    response = ai.post(
        "/api/ai/novels/ingest", json={"novel_file_path": "missing.txt"}, headers=bearer(staff_token)
    )
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND", response.text


def test_ai_is_the_truth_about_vectors(stack, core, ai, staff_token, reader):
    """A novel whose passages the vector store no longer holds (a new
    var/qdrant, another QDRANT_URL, a second checkout on the same database)
    is reported by ai's /readyz, core's status follows (`missing`), and a
    chat turn on it says it is ungrounded instead of pretending."""
    from test_conversations_journey import read_stream

    job = ai.post(
        "/api/ai/novels/ingest",
        json={"novel_file_path": "metamorphosis.txt", "metadata": {"title": "Metamorphosis"}},
        headers=bearer(staff_token),
    ).json()
    final = wait_for_job(ai, staff_token, job["job_id"])[-1]
    assert final["status"] == "completed", final
    novel_id, total = final["novel_id"], final["progress"]["passages_total"]
    me = bearer(reader["tokens"]["access_token"])
    held = ai.get(f"/api/ai/novels/{novel_id}/vectors", headers=me).json()
    assert (held["passages"], held["ingested"]) == (total, True)

    wiped = ai.delete(f"/api/ai/internal/novels/{novel_id}/vectors", headers=bearer(stack.service_token))
    assert wiped.status_code == 200, wiped.text
    assert ai.get(f"/api/ai/novels/{novel_id}/vectors", headers=me).json()["ingested"] is False
    deadline = time.monotonic() + 30
    while True:
        ready = ai.get("/readyz").json()
        missing = {m["id"]: m for m in (ready.get("novels") or {}).get("missing", [])}
        if novel_id in missing:
            break
        assert time.monotonic() < deadline, ready
        time.sleep(0.5)
    assert ready["status"] == "ready"  # the service still serves; the novel is reported
    assert (missing[novel_id]["expected_passages"], missing[novel_id]["found_passages"]) == (total, 0)
    novel = core.get(f"/api/v1/novels/{novel_id}").json()
    assert novel["ingestion_status"] == "missing"

    # Core calling it completed anyway (stale): the turn finds no passage, is
    # marked ungrounded, and core is corrected again.
    service = bearer(stack.service_token)
    put_back = core.patch(
        f"/api/internal/novels/{novel_id}", json={"ingestion_status": "completed"}, headers=service
    )
    assert put_back.status_code == 200, put_back.text
    scenario = core.post(
        "/api/v1/scenarios",
        json={
            "base_story": novel["slug"],
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {"character": "Gregor Samsa", "property": "personality", "new_value": "cheerful"},
        },
        headers=me,
    ).json()
    conversation = core.post("/api/v1/conversations", json={"scenario_id": scenario["id"]}, headers=me).json()
    turn = core.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"content": "How do you feel?"},
        headers=me,
    ).json()
    events = read_stream(turn["stream_url"], timeout=180)
    assert events[-1][0] == "message_complete" and events[-1][1]["grounded"] is False, events[-2:]
    history = core.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=me).json()
    assert history["content"][-1]["grounded"] is False
    assert core.get(f"/api/v1/novels/{novel_id}").json()["ingestion_status"] == "missing"


def test_the_demo_ingests_again_when_ai_lacks_the_passages(stack, staff_token):
    """`make run`'s demo asks ai, not core, whether its novel is ingested: a
    store without the passages gets them again; a complete one is left alone."""
    import subprocess

    from stack import ROOT, VENV_BIN

    env = {
        **stack.env,
        "CORE_URL": stack.core_url,
        "AI_URL": stack.ai_url,
        "DEMO_SLUG": "metamorphosis-demo",
        "DEMO_TITLE": "Metamorphosis",
        "DEMO_FILE": "metamorphosis.txt",
    }

    def demo() -> str:
        done = subprocess.run(
            [str(VENV_BIN / "python"), "deploy/scripts/demo_ingest.py"],
            cwd=ROOT,
            env={k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    # The demo's novel is the bundled Metamorphosis under a slug of its own.
    assert "completed" in demo().splitlines()[-2]
    again = demo()
    assert "ingested (" in again and "passages in the vector store" in again, again
    with httpx.Client(base_url=stack.core_url) as core:
        novel_id = core.get("/api/v1/novels/metamorphosis-demo").json()["id"]
    wiped = httpx.delete(
        f"{stack.ai_url}/api/ai/internal/novels/{novel_id}/vectors", headers=bearer(stack.service_token)
    )
    assert wiped.status_code == 200
    repaired = demo()
    assert "the vector store holds 0; ingesting it again" in repaired, repaired
    assert "completed" in repaired
