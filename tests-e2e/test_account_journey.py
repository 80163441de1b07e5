"""A reader's own account on the real services: settings that reach the
model's prompt, a private conversation nobody else can see, live
notifications over ai's stream, answers regenerated into versions, an edit
that marks its answers stale, search, a password reset by the mail core
really sends (file backend), and account deletion."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import httpx
from test_conversations_journey import bearer, read_stream


def listen(url: str, into: list, stop: threading.Event) -> threading.Thread:
    """Collect a live stream's `notification` frames in a thread, as the web app's bell does."""

    def run() -> None:
        frame: dict = {}
        with httpx.stream("GET", url, timeout=httpx.Timeout(10, read=60)) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if not line:
                    if frame.get("event") == "notification":
                        into.append({"id": frame.get("id"), **json.loads(frame["data"])})
                    frame = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    frame[name] = value.strip()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_until(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def scenario_for(core, headers: dict) -> dict:
    created = core.post(
        "/api/v1/scenarios",
        json={
            "base_story": "pride-and-prejudice",
            "scenario_type": "SETTING_MODIFICATION",
            "parameters": {
                "setting_element": "location",
                "scope": "global",
                "change_description": "Longbourn is a lighthouse on a stormy coast",
                "impact_level": "major",
            },
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return created.json()


def test_settings_privacy_notifications_and_versions(stack, core, reader, make_reader):
    me = bearer(reader["tokens"]["access_token"])
    other = make_reader()
    theirs = bearer(other["tokens"]["access_token"])

    saved = core.put(
        "/api/v1/users/me/settings",
        json={"default_visibility": "private", "persona_name": "Captain Wren", "max_tokens": 48},
        headers=me,
    )
    assert saved.status_code == 200, saved.text
    scenario = scenario_for(core, me)
    conversation = core.post("/api/v1/conversations", json={"scenario_id": scenario["id"]}, headers=me).json()
    cid = conversation["id"]
    assert conversation["visibility"] == "private"

    # Private: the same 404 as a conversation that does not exist, for another reader and anonymously.
    for headers in (theirs, {}):
        assert core.get(f"/api/v1/conversations/{cid}", headers=headers).status_code == 404
        assert core.get(f"/api/v1/conversations/{cid}/messages", headers=headers).status_code == 404
    assert core.post(f"/api/v1/conversations/{cid}/fork", json={}, headers=theirs).status_code == 404
    listed = core.get("/api/v1/conversations", params={"scenario_id": scenario["id"]}).json()["content"]
    assert cid not in {c["id"] for c in listed}

    # Live notifications: the owner's bell hears a follow as it happens.
    ticket = core.post("/api/v1/notifications/stream", headers=me)
    assert ticket.status_code == 200, ticket.text
    assert ticket.json()["stream_url"].startswith(stack.ai_url)
    heard: list[dict] = []
    stop = threading.Event()
    listen(ticket.json()["stream_url"], heard, stop)
    time.sleep(1)  # the stream is open before the act
    followed = core.post(f"/api/v1/users/{reader['user']['id']}/follow", headers=theirs)
    assert followed.status_code in (200, 201), followed.text
    event = wait_until(lambda: next((e for e in heard if e["notification"]["kind"] == "followed"), None))
    assert event["notification"]["actor"]["username"] == other["user"]["username"]
    assert event["unread_count"] >= 1

    # A turn: the settings reach the prompt (persona name, answer length).
    question = {"content": "Who keeps the lighthouse lamp?"}
    sent = core.post(f"/api/v1/conversations/{cid}/messages", json=question, headers=me)
    assert sent.status_code == 202, sent.text
    answer_id = sent.json()["assistant_message_id"]
    events = read_stream(sent.json()["stream_url"], timeout=300)
    assert events[-1][0] == "message_complete" and events[-1][1]["status"] == "completed", events[-3:]
    first_text = events[-1][1]["content"]
    prompt = core.get(f"/api/v1/conversations/{cid}/messages/{answer_id}/prompt", headers=me).json()
    assert prompt["settings"]["max_tokens"] == 48
    assert "Captain Wren" in json.dumps(prompt["messages"])

    # Regenerate the completed answer: the first text stays as a version to choose.
    again = core.post(f"/api/v1/conversations/{cid}/messages/{answer_id}/regenerate", json={}, headers=me)
    assert again.status_code == 202, again.text
    events = read_stream(again.json()["stream_url"], timeout=300)
    assert events[-1][1]["status"] == "completed", events[-3:]
    versions = core.get(f"/api/v1/conversations/{cid}/messages/{answer_id}/alternatives", headers=me).json()
    assert [v["index"] for v in versions["items"]] == [0, 1] and versions["chosen"] == 1
    assert versions["items"][0]["content"] == first_text
    chosen = core.put(
        f"/api/v1/conversations/{cid}/messages/{answer_id}/alternatives", json={"index": 0}, headers=me
    )
    assert chosen.status_code == 200 and chosen.json()["content"] == first_text

    # Edit the message: its answer is kept, marked stale; search finds the new words.
    edited = core.patch(
        f"/api/v1/conversations/{cid}/messages/{sent.json()['message_id']}",
        json={"content": "Who trims the wick of the lighthouse lamp?"},
        headers=me,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["message"]["edited_at"] and edited.json()["turn"] is None
    history = core.get(f"/api/v1/conversations/{cid}/messages", headers=me).json()["content"]
    assert [m["stale"] for m in history if m["role"] == "assistant"] == [True]
    hits = core.get("/api/v1/users/me/messages/search", params={"q": "wick"}, headers=me).json()["content"]
    assert [h["conversation"]["id"] for h in hits] == [cid]

    # Made public, the other reader sees and likes it; the owner is told.
    public = core.put(f"/api/v1/conversations/{cid}", json={"visibility": "public"}, headers=me)
    assert public.status_code == 200, public.text
    assert core.get(f"/api/v1/conversations/{cid}", headers=theirs).status_code == 200
    assert core.post(f"/api/v1/conversations/{cid}/like", headers=theirs).status_code in (200, 201)
    liked = wait_until(
        lambda: next((e for e in heard if e["notification"]["kind"] == "conversation_liked"), None)
    )
    assert liked["notification"]["conversation_id"] == cid
    stop.set()
    listed = core.get("/api/v1/notifications", params={"unread": "true"}, headers=me).json()
    assert {"followed", "conversation_liked"} <= {n["kind"] for n in listed["content"]}
    read = core.post("/api/v1/notifications/read", json={"all": True}, headers=me).json()
    assert read["unread_count"] == 0


def test_password_reset_by_mail_then_account_deletion(stack, core, make_reader):
    reader = make_reader()
    email = reader["user"]["email"]
    asked = core.post("/api/v1/auth/password-reset", json={"email": email})
    assert asked.status_code == 202, asked.text
    mail_dir = Path(stack.env["EMAIL_FILE_PATH"])
    mail = wait_until(lambda: [p.read_text() for p in mail_dir.glob("*.log") if email in p.read_text()])
    link = re.search(r"reset-password\?uid=([^&\s]+)&token=([^\s]+)", mail[-1])
    assert link, mail[-1]
    body = {"uid": link.group(1), "token": link.group(2), "new_password": "Brand-New-Passw0rd"}
    assert core.post("/api/v1/auth/password-reset/confirm", json=body).status_code == 200
    assert core.post("/api/v1/auth/password-reset/confirm", json=body).status_code == 400  # single use
    # The old refresh token is revoked; the new password logs in.
    refreshed = core.post("/api/v1/auth/refresh", json={"refresh_token": reader["tokens"]["refresh_token"]})
    assert refreshed.status_code in (401, 403)
    login = core.post("/api/v1/auth/login", json={"email": email, "password": "Brand-New-Passw0rd"})
    assert login.status_code == 200, login.text
    me = bearer(login.json()["tokens"]["access_token"])

    exported = core.get("/api/v1/users/me/export", headers=me)
    assert exported.status_code == 200 and exported.json()["user"]["email"] == email
    wrong = core.request("DELETE", "/api/v1/users/me", json={"password": "not it"}, headers=me)
    assert wrong.status_code == 400
    gone = core.request("DELETE", "/api/v1/users/me", json={"password": "Brand-New-Passw0rd"}, headers=me)
    assert gone.status_code == 204, gone.text
    login = core.post("/api/v1/auth/login", json={"email": email, "password": "Brand-New-Passw0rd"})
    assert login.status_code == 401
    again = core.request("DELETE", "/api/v1/users/me", json={"password": "Brand-New-Passw0rd"}, headers=me)
    assert again.status_code == 401  # harmless
