"""`make run`'s demo novel: once core and ai answer, ingest Pride and
Prejudice (data/novels) through the same API and job path staff use, and
print the job's progress. Later starts find it ingested and do nothing.

"Ingested" is what the ai service's vector store holds, not what core's
status says: a fresh `var/qdrant`, another QDRANT_URL, or a second checkout
against the same database leaves core saying `completed` for passages that
are not there, and the demo then ingests it again."""

from __future__ import annotations

import os
import sys
import time

import httpx

CORE = os.environ.get("CORE_URL", "http://127.0.0.1:8080")
AI = os.environ.get("AI_URL", "http://127.0.0.1:8000")
# Another bundled novel can stand in (the e2e test uses a short one).
SLUG = os.environ.get("DEMO_SLUG", "pride-and-prejudice")
TITLE = os.environ.get("DEMO_TITLE", "Pride and Prejudice")
FILE = os.environ.get("DEMO_FILE", f"{SLUG}.txt")
STAFF = {"email": "admin@gaji.local", "password": "GajiAdmin123"}


def wait_ready(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    sys.exit(f"{url} did not start within {timeout:.0f}s")


def main() -> None:
    wait_ready(CORE)
    wait_ready(AI)
    login = httpx.post(f"{CORE}/api/v1/auth/login", json=STAFF, timeout=30)
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}
    novel = httpx.get(f"{CORE}/api/v1/novels/{SLUG}", timeout=10)
    if novel.status_code == 200:
        core_says = novel.json()
        held = httpx.get(f"{AI}/api/ai/novels/{core_says['id']}/vectors", headers=headers, timeout=30)
        held.raise_for_status()
        passages = held.json()["passages"]
        expected = core_says["total_passages"]
        if core_says["ingestion_status"] == "completed" and passages > 0 and passages >= expected:
            print(f"demo novel {SLUG}: ingested ({passages} passages in the vector store)", flush=True)
            return
        if core_says["ingestion_status"] in {"completed", "missing"}:
            print(
                f"demo novel {SLUG}: core says {core_says['ingestion_status']} with {expected} passages,"
                f" the vector store holds {passages}; ingesting it again",
                flush=True,
            )
    body = {"novel_file_path": FILE, "metadata": {"slug": SLUG, "title": TITLE}}
    accepted = httpx.post(f"{AI}/api/ai/novels/ingest", json=body, headers=headers, timeout=30)
    accepted.raise_for_status()
    job = accepted.json()
    print(
        f"demo novel {SLUG}: ingesting (about {job['estimated_duration_minutes']} min), job {job['job_id']}",
        flush=True,
    )
    last = None
    while True:
        status = httpx.get(f"{AI}/api/ai/novels/status/{job['job_id']}", headers=headers, timeout=10).json()
        progress = status["progress"]
        line = f"{status['status']}: {progress['passages_processed']}/{progress['passages_total']} passages"
        if progress.get("windows_total"):
            line += f", {progress['windows_processed']}/{progress['windows_total']} sentence windows"
        if line != last:
            print(f"demo novel {SLUG}: {line}", flush=True)
            last = line
        if status["status"] in {"completed", "failed"}:
            if status["status"] == "failed":
                print(f"demo novel {SLUG}: failed: {status['error']}", flush=True)
            else:
                print(f"demo novel {SLUG}: {progress['characters_extracted']} characters found", flush=True)
            return
        time.sleep(2)


if __name__ == "__main__":
    main()
