"""Typo search through the words scenarios use (issue 14).

The typo fallback compared `q` with every candidate's whole search text by
pg_trgm word similarity, then sorted all of them: 0.4-1.1 s per query on
220k scenarios ("frankenstien" has 30,000 trigram candidates). Now each
word of `q` that no scenario uses is replaced by the most similar word that
one does (pg_trgm similarity over this small table, a few hundred to some
tens of thousands of words), and the corrected words are searched as full
text through the RUM index, like any other query. This table is kept by
triggers: every word of an inserted scenario, and of one whose searchable
fields change. Words are never removed (a word whose scenarios are all gone
corrects to a search that finds nothing). The trigram index on the whole
search text is no longer used, so every write stops paying for it."""

from django.db import migrations

FORWARD = """
CREATE TABLE scenario_search_words (word text PRIMARY KEY);
CREATE INDEX scenario_search_words_trgm ON scenario_search_words USING gin (word gin_trgm_ops);
INSERT INTO scenario_search_words (word)
    SELECT word FROM ts_stat('SELECT search_vector FROM scenarios_scenario') ON CONFLICT DO NOTHING;

CREATE FUNCTION scenario_search_words_inserted() RETURNS trigger AS $$
BEGIN
    INSERT INTO scenario_search_words (word)
        SELECT DISTINCT unnest(tsvector_to_array(search_vector)) FROM inserted_scenarios
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER scenario_search_words_inserted
    AFTER INSERT ON scenarios_scenario REFERENCING NEW TABLE AS inserted_scenarios
    FOR EACH STATEMENT EXECUTE FUNCTION scenario_search_words_inserted();

CREATE FUNCTION scenario_search_words_updated() RETURNS trigger AS $$
BEGIN
    INSERT INTO scenario_search_words (word)
        SELECT unnest(tsvector_to_array(NEW.search_vector)) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER scenario_search_words_updated
    AFTER UPDATE OF parameters, base_story, scenario_type ON scenarios_scenario
    FOR EACH ROW EXECUTE FUNCTION scenario_search_words_updated();

DROP INDEX IF EXISTS scenario_search_trgm;
"""
BACKWARD = """
CREATE INDEX IF NOT EXISTS scenario_search_trgm ON scenarios_scenario USING gin (search_text gin_trgm_ops);
DROP TRIGGER IF EXISTS scenario_search_words_updated ON scenarios_scenario;
DROP TRIGGER IF EXISTS scenario_search_words_inserted ON scenarios_scenario;
DROP FUNCTION IF EXISTS scenario_search_words_updated();
DROP FUNCTION IF EXISTS scenario_search_words_inserted();
DROP TABLE IF EXISTS scenario_search_words;
"""


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0006_rum_search_index")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
