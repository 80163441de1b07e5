"""Find a novel's cast in its own text, without a large model.

The text is read as paragraphs and sentences, knowing which words stand
inside quotation marks (dialogue) and which start a sentence.

1. Names. Runs of capitalised words that do not start a sentence, with their
   titles (Mr., Mrs., Miss, Lady, Sir, M., Signora, ...), counted; a word
   that is mostly written lowercase elsewhere ("Well", "Yes") is no name.
   Each untitled name is weighed as a person or not: speech ("said Alice",
   "Mr. Darcy replied"), person verbs after it ("Lucy smiled"), being
   addressed in dialogue, against being a place (mostly after "at", "in",
   "near", ...), a thing ("her Baedeker", "your Majesty"), a nationality
   ("an Italian", "the Italians") or part of a place name ("Windy Corner").
   Standalone royal titles ("the Queen") and frequent unnamed roles ("the
   chief clerk", "the monster" and its synonyms) are people too when they
   speak and act.
2. People, not names. Aliases merge: "Elizabeth Bennet" -> "Elizabeth",
   diminutives ("Lizzy", "Eliza"), "Miss Lucy" -> "Lucy", a bare surname
   to the titled person it mostly names ("Darcy" -> "Mr. Darcy"), "Mock
   Turtle" <- "Turtle", and a full name's first name to "Miss/Mr. <surname>"
   ("Charlotte Bartlett": "Charlotte" is "Miss Bartlett") unless the two
   names keep meeting in the same sentences (then they are two people: George
   and Mr. Emerson). "Mr. Bennet" and "Mrs. Bennet" stay two people.
3. Profiles, extractive. The description is the sentences that best
   characterise the person: narration, not dialogue ("Lizzy is not a bit
   better..." inside quotes is somebody talking); copula and appositive
   descriptions ("X was a man of ...", "X, the youngest ..."), a narrator's
   "she had a lively, playful disposition" right after naming her; the
   introduction is preferred. Traits are adjectives predicated of the person
   ("X was proud", "she was lively", "the amiable Mr. Bingley", "his pride"),
   from a lexicon of dispositions (no ages, moods or "poor"), weighed by how
   particular they are to that person. Relationships come from patterns
   ("her sister Jane", "Mr. Bennet's wife", "Jane, Elizabeth's sister",
   "his friend Bingley") with the inverse on the other side (Jane's sister
   Elizabeth). First appearance: the chapter and the first sentence naming
   them.
Locations are proper nouns mostly used after "at", "to", "from", "in"
(Netherfield, Pemberley, Longbourn).

Measured by `make eval-cast` (eval/cast_eval.py) against the hand-listed
cast of the five bundled novels (eval/cast_gold.json)."""

from gaji_ai.ingestion.cast.extract import extract_cast
from gaji_ai.ingestion.cast.profile import Cast, CharacterProfile

__all__ = ["Cast", "CharacterProfile", "extract_cast"]
