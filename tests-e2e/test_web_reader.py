"""The reader web app (web/, served by core at /) in a real browser: Debian's
Chromium driven by Playwright against the real stack (core, ai, the workers
and the local model).

A reader registers, imagines a what-if through the form, forks it, sees the
fork tree as a picture and opens a node, starts a conversation, watches the
local model's answer stream in, reloads the page mid-answer and gets the
rest (nothing missing, nothing doubled), likes the conversation and keeps a
memo. With WEB_SCREENSHOTS_DIR set (make web-screenshots) it also saves the
main pages at desktop and phone width.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# As this machine's probe starts it: no sandbox as root, no GPU, nothing that
# phones home (the network is closed), a fresh profile per launch.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("WEB_SCREENSHOTS_DIR")
ANSWER_SECONDS = 120


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make chromium installs Debian's Chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)


def words(text: str) -> list[str]:
    return text.split()


def assistant(page: Page):
    return page.get_by_test_id("assistant-message").last


def test_a_reader_in_the_browser(stack, browser, staff_token):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.set_default_timeout(20_000)
    base = stack.core_url

    # Register through the form.
    tag = uuid.uuid4().hex[:8]
    page.goto(f"{base}/#/register")
    page.get_by_label("Email").fill(f"web_{tag}@example.com")
    page.get_by_label("Username").fill(f"web_{tag}")
    page.get_by_label("Password", exact=True).fill("WebReader1Passw0rd")
    page.get_by_test_id("register-submit").click()
    expect(page.get_by_test_id("nav-profile")).to_contain_text(f"web_{tag}")

    # A what-if, first with a mistake the server refuses: its error shows under its field.
    page.goto(f"{base}/#/scenarios/new")
    # The story picker is a list once the novels have loaded (a slug box when there are none).
    # The form renders only after the novels request ends; a hash change is a same-document
    # navigation, so "networkidle" may already hold before that request starts.
    expect(page.get_by_test_id("scenario-submit")).to_be_visible()
    story = page.get_by_label("Story", exact=True)
    if story.count():
        story.select_option(label="Another story (type its slug)")
    page.get_by_label("Story slug").fill("Not A Slug!")
    page.get_by_role("radio", name=re.compile("Character change")).check()
    page.locator("#param-character").fill("Gregor Samsa")
    page.locator("#param-property").select_option("backstory")
    page.locator("#param-new_value").fill(f"wakes up as a lighthouse keeper {tag}")
    page.get_by_test_id("scenario-submit").click()
    expect(page.get_by_test_id("field-error-base_story")).to_be_visible()
    page.get_by_label("Story slug").fill("metamorphosis")
    page.get_by_test_id("scenario-submit").click()
    expect(page.get_by_test_id("scenario-detail")).to_be_visible()
    root_id = page.get_by_test_id("scenario-detail").get_attribute("data-id")
    shot(page, "desktop-scenario")

    # Fork it: the form comes prefilled from the parent.
    page.get_by_test_id("fork-button").click()
    page.locator("#param-new_value").fill(f"keeps the lighthouse with Grete {tag}")
    page.get_by_test_id("fork-submit").click()
    expect(page.get_by_test_id("parent-link")).to_be_visible()
    fork_id = page.get_by_test_id("scenario-detail").get_attribute("data-id")
    assert fork_id and fork_id != root_id

    # The root's fork tree as a picture: both scenarios are nodes; a click opens one.
    page.get_by_test_id("parent-link").click()
    expect(page.get_by_test_id("scenario-detail")).to_have_attribute("data-id", root_id)
    tree = page.get_by_test_id("fork-tree")
    expect(tree).to_be_visible()
    expect(tree.get_by_test_id("tree-node")).to_have_count(2)
    tree.evaluate("svg => svg.scrollIntoView({block: 'center'})")
    shot(page, "desktop-fork-tree")
    tree.locator(f'[data-testid="tree-node"][data-id="{fork_id}"]').click()
    expect(page.get_by_test_id("scenario-detail")).to_have_attribute("data-id", fork_id)
    expect(page).to_have_url(re.compile(rf"#/scenarios/{fork_id}$"))

    # A conversation: the local model's answer streams in token by token.
    page.get_by_test_id("start-conversation").click()
    expect(page.get_by_test_id("conversation")).to_be_visible()
    conversation_id = page.get_by_test_id("conversation").get_attribute("data-id")
    page.get_by_test_id("message-input").fill("Gregor, what do you see from the lighthouse tonight?")
    page.get_by_test_id("send-button").click()
    answer = assistant(page)
    expect(answer.get_by_test_id("message-content")).to_be_visible(timeout=ANSWER_SECONDS * 1000)
    status = answer.get_attribute("data-status")
    assert status in {"pending", "streaming"}, "the answer ended before the reload"
    before_reload = answer.get_by_test_id("message-content").inner_text()

    # Reload mid-answer: the text comes back from the start and continues.
    page.reload()
    answer = assistant(page)
    samples = []
    while answer.get_attribute("data-status") in {"pending", "streaming"}:
        content = answer.get_by_test_id("message-content")
        if content.count():
            samples.append(content.inner_text())
        page.wait_for_timeout(150)
        if len(samples) > ANSWER_SECONDS * 6:
            pytest.fail("the answer did not finish")
    expect(answer).to_have_attribute("data-status", "completed")
    shown = answer.get_by_test_id("message-content").inner_text()

    stored = httpx.get(f"{stack.core_url}/api/v1/conversations/{conversation_id}", timeout=10).json()
    final = stored["messages"][-1]
    assert final["status"] == "completed" and final["content"]
    # What the resumed stream left on screen is the stored answer, as a fresh page shows it.
    fresh = context.new_page()
    fresh.goto(f"{base}/#/conversations/{conversation_id}")
    expect(assistant(fresh)).to_have_attribute("data-status", "completed")
    assert assistant(fresh).get_by_test_id("message-content").inner_text() == shown
    fresh.close()
    # Every text seen, before and after the reload, was the start of the answer:
    # nothing doubled, nothing skipped (the last word of a sample may be half-streamed).
    for seen in [before_reload, *samples]:
        start = " ".join(words(seen)[:-1])
        assert " ".join(words(shown)).startswith(start), (seen, shown)
    shot(page, "desktop-conversation")

    # Like it, and keep a private memo (Markdown shown as text, never as HTML).
    page.get_by_test_id("like-button").click()
    expect(page.get_by_test_id("like-count")).to_contain_text("1")
    page.get_by_test_id("memo-input").fill("**Remember** the lighthouse <img src=x onerror=alert(1)>")
    page.get_by_test_id("memo-save").click()
    preview = page.get_by_test_id("memo-preview")
    expect(preview).to_contain_text("Remember")
    assert preview.locator("img").count() == 0 and preview.locator("strong").count() == 1

    # Search finds the what-if by its words.
    page.goto(f"{base}/#/search?q=lighthouse%20{tag}")
    expect(page.locator(f'a[href$="/scenarios/{root_id}"]').first).to_be_visible()
    shot(page, "desktop-search")
    page.goto(f"{base}/#/scenarios")
    shot(page, "desktop-browse")

    if SHOTS:
        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        tab = phone.new_page()
        tab.goto(f"{base}/#/login")
        shot(tab, "phone-login")
        for name, path in (
            ("phone-browse", "/#/scenarios"),
            ("phone-search", f"/#/search?q=lighthouse%20{tag}"),
            ("phone-scenario", f"/#/scenarios/{root_id}"),
        ):
            tab.goto(f"{base}{path}")
            tab.wait_for_load_state("networkidle")
            shot(tab, name)
        tab.get_by_test_id("fork-tree").evaluate("svg => svg.scrollIntoView({block: 'center'})")
        shot(tab, "phone-fork-tree")
        tab.goto(f"{base}/#/conversations/{conversation_id}")
        expect(assistant(tab)).to_have_attribute("data-status", "completed")
        shot(tab, "phone-conversation")
        phone.close()
    context.close()
    blocked = [p for p in problems if "Content Security Policy" in p or "CORS" in p]
    assert blocked == [], blocked
