"""The conversation admin: messages inline and read-only, deletes through the
service (orphans and counters), likes read-only, memos without their text."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from conversations import services
from conversations.models import Conversation, ConversationMemo, MemoryEntry, Message
from conversations.tests.helpers import add_exchanges, make_conversation
from scenarios.models import Scenario

pytestmark = pytest.mark.django_db

CONVERSATIONS = "/admin/conversations/conversation/"
LIKES = "/admin/conversations/conversationlike/"
MEMOS = "/admin/conversations/conversationmemo/"


@pytest.fixture
def staff(make_user) -> User:
    return make_user(username="the_boss", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def test_admin_requires_staff(make_user):
    client = Client()
    client.force_login(make_user())
    for url in (CONVERSATIONS, LIKES, MEMOS):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_change_page_shows_messages_inline_escaped_and_read_only(admin_client, user):
    conversation = make_conversation(user, title="Tea at Netherfield")
    messages = add_exchanges(conversation, 3)
    Message.objects.filter(id=messages[0].id).update(content="<script>alert('x')</script> hello")
    response = admin_client.get(f"{CONVERSATIONS}{conversation.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; hello" in html
    assert "<script>alert('x')</script>" not in html
    assert "message 1" in html and "message 2" in html
    inline = response.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission and not inline.has_change_permission
    assert not inline.has_delete_permission


def test_staff_can_rename_but_not_change_counters(admin_client, user):
    conversation = make_conversation(user)
    response = admin_client.post(
        f"{CONVERSATIONS}{conversation.pk}/change/",
        {
            "title": "Renamed by staff",
            "like_count": "999",
            "links-TOTAL_FORMS": "0",
            "links-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    conversation.refresh_from_db()
    assert conversation.title == "Renamed by staff" and conversation.like_count == 0


def test_no_add_in_the_console(admin_client):
    assert admin_client.get(f"{CONVERSATIONS}add/").status_code == 403


def test_delete_from_the_console_goes_through_the_service(admin_client, make_user):
    owner, liker = make_user(), make_user()
    root = make_conversation(owner)
    shared = add_exchanges(root, 4)
    fork = services.conversation_fork(conversation_id=root.id, user=liker)
    services.like(user=liker, conversation_id=root.id)
    scenario_id = root.scenario_id
    response = admin_client.post(f"{CONVERSATIONS}{root.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Conversation.objects.filter(id=root.id).exists()
    # The fork keeps the four messages it shares; nothing else was orphaned.
    assert set(Message.objects.values_list("id", flat=True)) == {m.id for m in shared}
    assert Conversation.objects.get(id=fork.id).message_count == 4
    scenario = Scenario.objects.get(id=scenario_id)
    assert (scenario.conversation_count, scenario.like_count) == (1, 0)


def test_bulk_delete_action_goes_through_the_service(admin_client, user):
    first, second = make_conversation(user), make_conversation(user)
    add_exchanges(first, 2)
    add_exchanges(second, 2)
    response = admin_client.post(
        CONVERSATIONS,
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert Conversation.objects.count() == 0 and Message.objects.count() == 0


def test_likes_are_listed_read_only(admin_client, make_user):
    owner, liker = make_user(), make_user(username="liker_one")
    conversation = make_conversation(owner)
    services.like(user=liker, conversation_id=conversation.id)
    response = admin_client.get(LIKES)
    assert response.status_code == 200 and "liker_one" in response.content.decode()
    like_id = conversation.likes.get().pk
    assert admin_client.post(f"{LIKES}{like_id}/delete/", {"post": "yes"}).status_code == 403
    assert Conversation.objects.get(id=conversation.id).like_count == 1


def test_memos_show_existence_but_never_text(admin_client, make_user):
    owner = make_user(username="memo_writer")
    conversation = make_conversation(owner)
    services.memo_upsert(user=owner, conversation_id=conversation.id, memo_text="my secret plan for Darcy")
    memo = ConversationMemo.objects.get()
    for url in (MEMOS, f"{MEMOS}{memo.pk}/change/"):
        response = admin_client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "memo_writer" in html
        assert "secret plan" not in html
    assert admin_client.post(f"{MEMOS}{memo.pk}/change/", {"memo_text": "edited"}).status_code == 403
    assert ConversationMemo.objects.get().memo_text == "my secret plan for Darcy"


def test_memory_entries_are_listed_read_only_and_searchable(admin_client, user):
    conversation = make_conversation(user)
    entry = MemoryEntry.objects.create(
        conversation=conversation, kind="fact", text="The <b>brooch</b> is in the library.", source="model"
    )
    response = admin_client.get("/admin/conversations/memoryentry/", {"q": "brooch"})
    html = response.content.decode()
    assert response.status_code == 200 and "&lt;b&gt;brooch&lt;/b&gt;" in html and "<b>brooch" not in html
    edit = admin_client.post(f"/admin/conversations/memoryentry/{entry.pk}/change/", {"text": "changed"})
    assert edit.status_code == 403
    assert (
        admin_client.post(f"/admin/conversations/memoryentry/{entry.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert MemoryEntry.objects.get().text == "The <b>brooch</b> is in the library."
