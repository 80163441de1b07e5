"""Staff ingest a bundled novel through the real API and the real Celery
worker, which writes vectors into the API process's embedded Qdrant Edge
store through the internal vector endpoints: the job progresses to
`completed`, core's novel says so, the cast is listed, and a second ingest
replaces the passages instead of duplicating them."""

from __future__ import annotations

import time


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
    for path in ("../README.md", "/etc/passwd", "../../core-service/manage.py", "missing.txt"):
        response = ai.post(
            "/api/ai/novels/ingest", json={"novel_file_path": path}, headers=bearer(staff_token)
        )
        assert response.status_code == 400, (path, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR"
