"""Demo What-Ifs for `make run`: the demo novel's metadata and scenarios of
each type on it, with a fork tree three levels deep. Idempotent: it does
nothing when the demo reader already has scenarios on the demo novel."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from conversations.services import conversation_create
from novels.models import Novel
from scenarios.models import Scenario
from scenarios.services import scenario_create, scenario_fork

DEMO_NOVEL = {
    "slug": "pride-and-prejudice",
    "title": "Pride and Prejudice",
    "author": "Jane Austen",
    "publication_year": 1813,
    "genre": "Romance",
    "language": "en",
}

ROOTS = [
    (
        "CHARACTER_CHANGE",
        {
            "character": "Elizabeth Bennet",
            "property": "personality",
            "original_value": "Refuses Mr. Collins's proposal",
            "new_value": "Accepts Mr. Collins's proposal to secure Longbourn for her family",
            "change_point": "Mr. Collins proposes at Longbourn",
            "ripple_effects": ["Charlotte Lucas stays unmarried", "Elizabeth meets Darcy again at Hunsford"],
        },
    ),
    (
        "EVENT_ALTERATION",
        {
            "event": "The Netherfield ball",
            "timeline_point": "November, volume one",
            "alteration_type": "prevent",
            "original_outcome": "Darcy and Elizabeth dance; Wickham's story spreads",
            "new_outcome": "Bingley leaves for London before any ball is held",
            "affected_characters": ["Jane Bennet", "Charles Bingley", "Mr. Darcy"],
        },
    ),
    (
        "SETTING_MODIFICATION",
        {
            "setting_element": "era",
            "scope": "global",
            "change_description": "The story takes place in 1920s London instead of Regency Hertfordshire",
            "impact_level": "major",
        },
    ),
]

# Three levels of forks below the first root: a meta-timeline of timelines.
FORK_CHAIN = [
    (
        "EVENT_ALTERATION",
        {
            "event": "Lady Catherine's visit to Longbourn",
            "alteration_type": "outcome_change",
            "original_outcome": "Elizabeth refuses to promise anything",
            "new_outcome": "Mrs. Collins (Elizabeth) asks Lady Catherine for help freeing Jane's prospects",
            "affected_characters": ["Lady Catherine de Bourgh", "Elizabeth Bennet"],
        },
    ),
    (
        "CHARACTER_CHANGE",
        {
            "character": "Mr. Darcy",
            "property": "backstory",
            "new_value": "Was Mr. Collins's schoolfellow and owes him a debt of honour",
            "change_point": "Darcy's first visit to Hunsford",
        },
    ),
    (
        "SETTING_MODIFICATION",
        {
            "setting_element": "location",
            "scope": "local",
            "change_description": "Hunsford parsonage burns down; everyone moves to Rosings",
            "impact_level": "moderate",
        },
    ),
]


class Command(BaseCommand):
    help = (
        "Create the demo novel's metadata, demo scenarios with a 3-deep fork tree "
        "and a demo conversation (once)."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        reader = User.objects.filter(email="reader@gaji.local").first()
        admin = User.objects.filter(email="admin@gaji.local").first()
        if reader is None or admin is None:
            raise CommandError("Run `manage.py seed_demo` first (demo users).")
        novel, _ = Novel.objects.get_or_create(slug=DEMO_NOVEL["slug"], defaults=DEMO_NOVEL)
        if Scenario.objects.filter(creator=reader, base_story=novel.slug).exists():
            self.stdout.write(f"  demo scenarios on {novel.slug} (exist)")
            return
        roots = [
            scenario_create(creator=reader, base_story=novel.slug, scenario_type=kind, parameters=params)
            for kind, params in ROOTS
        ]
        parent = roots[0]
        for depth, (kind, params) in enumerate(FORK_CHAIN, start=1):
            author = admin if depth % 2 else reader
            parent = scenario_fork(parent=parent, creator=author, scenario_type=kind, parameters=params)
        # An empty conversation to chat in (answers come from the real model).
        conversation_create(user=reader, scenario_id=roots[0].id, title="Tea with Mrs. Collins")
        self.stdout.write(
            f"  demo scenarios on {novel.slug}: {len(roots)} roots, "
            f"a fork tree {len(FORK_CHAIN)} deep, a conversation (created)"
        )
