"""The GIN expression index behind message search (conversations.message_search):
the expression must match message_search.SEARCH_VECTOR exactly. Built
concurrently, so a large messages table is not locked against writes."""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("conversations", "0007_visibility_edits_alternatives"),
    ]

    operations = [
        migrations.RunSQL(
            sql="CREATE INDEX CONCURRENTLY IF NOT EXISTS message_content_search ON conversations_message "
            "USING gin (to_tsvector('simple'::regconfig, content))",
            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS message_content_search",
        ),
    ]
