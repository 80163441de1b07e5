"""What the ORM cannot say: a trigger that refuses fork cycles, generated
search columns, and their GIN indexes (pg_trgm and full text)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

CYCLE_GUARD = """
CREATE OR REPLACE FUNCTION scenario_refuse_cycle() RETURNS trigger AS $$
BEGIN
    IF NEW.parent_id IS NULL THEN
        RETURN NEW;
    END IF;
    IF NEW.parent_id = NEW.id OR EXISTS (
        WITH RECURSIVE up(id, parent_id) AS (
            SELECT id, parent_id FROM scenarios_scenario WHERE id = NEW.parent_id
            UNION
            SELECT s.id, s.parent_id FROM scenarios_scenario s JOIN up ON s.id = up.parent_id
        )
        SELECT 1 FROM up WHERE up.id = NEW.id
    ) THEN
        RAISE EXCEPTION 'scenario % would be its own ancestor', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER scenario_refuse_cycle
BEFORE INSERT OR UPDATE OF parent_id ON scenarios_scenario
FOR EACH ROW EXECUTE FUNCTION scenario_refuse_cycle();
"""

DROP_CYCLE_GUARD = """
DROP TRIGGER IF EXISTS scenario_refuse_cycle ON scenarios_scenario;
DROP FUNCTION IF EXISTS scenario_refuse_cycle();
"""

# Only string values of the parameters are searched, never their keys.
SEARCH_COLUMNS = """
ALTER TABLE scenarios_scenario
    ADD COLUMN search_text text GENERATED ALWAYS AS (
        lower(
            translate(base_story, '-_', '  ') || ' ' || scenario_type || ' ' ||
            jsonb_path_query_array(parameters, 'strict $.** ? (@.type() == "string")')::text
        )
    ) STORED,
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, translate(base_story, '-_', '  ')), 'A') ||
        setweight(jsonb_to_tsvector('english'::regconfig, parameters, '["string"]'), 'B') ||
        setweight(to_tsvector('simple'::regconfig, translate(scenario_type, '_', ' ')), 'C')
    ) STORED;
CREATE INDEX scenario_search_trgm ON scenarios_scenario USING gin (search_text gin_trgm_ops);
CREATE INDEX scenario_search_fts ON scenarios_scenario USING gin (search_vector);
CREATE INDEX scenario_live_quality ON scenarios_scenario (quality_score DESC) WHERE deleted_at IS NULL;
"""

DROP_SEARCH_COLUMNS = """
DROP INDEX IF EXISTS scenario_live_quality;
DROP INDEX IF EXISTS scenario_search_fts;
DROP INDEX IF EXISTS scenario_search_trgm;
ALTER TABLE scenarios_scenario DROP COLUMN IF EXISTS search_vector, DROP COLUMN IF EXISTS search_text;
"""


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunSQL(CYCLE_GUARD, DROP_CYCLE_GUARD),
        migrations.RunSQL(SEARCH_COLUMNS, DROP_SEARCH_COLUMNS),
    ]
