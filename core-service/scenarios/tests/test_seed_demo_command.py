"""`make run`'s demo data: created once, with a fork tree three deep."""

import pytest
from django.core.management import call_command

from conversations.models import Conversation
from novels.models import Novel
from scenarios.models import Scenario
from scenarios.selectors import fork_tree


@pytest.mark.django_db
def test_demo_scenarios_are_seeded_once_with_a_three_deep_tree():
    call_command("seed_demo")
    call_command("seed_demo_scenarios")
    call_command("seed_demo_scenarios")  # a second `make run` creates nothing
    novel = Novel.objects.get(slug="pride-and-prejudice")
    scenarios = Scenario.objects.filter(base_story=novel.slug)
    assert scenarios.count() == 6
    assert {s.scenario_type for s in scenarios} == {
        "CHARACTER_CHANGE",
        "EVENT_ALTERATION",
        "SETTING_MODIFICATION",
    }
    assert all(s.novel_id == novel.id for s in scenarios)
    root = scenarios.get(parent__isnull=True, scenario_type="CHARACTER_CHANGE")
    tree = fork_tree(root=root, max_depth=10)
    assert tree["depth"] == 3
    assert tree["total_descendants"] == 3
    assert root.fork_count == 1
    conversation = Conversation.objects.get()
    assert (conversation.scenario_id, conversation.user.email) == (root.id, "reader@gaji.local")
    assert root.conversation_count == 1


@pytest.mark.django_db
def test_demo_scenarios_need_the_demo_users():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("seed_demo_scenarios")
