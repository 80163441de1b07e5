"""Full-text search ranked by a RUM index (PostgreSQL extension `rum`,
Debian package postgresql-<version>-rum; make services installs it).

GIN only says which scenarios match: ranking them read and scored every
match (15,000 rows for "darcy" on 220k scenarios, ~40 ms warm, 280 ms cold).
RUM also stores each word's positions, so `ORDER BY search_vector <=> query
LIMIT n` comes out of the index in rank order, reading only the page's
rows (issue 14). It answers `@@` too, so it replaces the GIN index rather
than adding a second index every write pays for."""

from django.db import migrations

FORWARD = """
CREATE EXTENSION IF NOT EXISTS rum;
CREATE INDEX scenario_search_rum ON scenarios_scenario USING rum (search_vector rum_tsvector_ops);
DROP INDEX IF EXISTS scenario_search_fts;
"""
BACKWARD = """
CREATE INDEX IF NOT EXISTS scenario_search_fts ON scenarios_scenario USING gin (search_vector);
DROP INDEX IF EXISTS scenario_search_rum;
"""


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0005_like_count_db_default")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
