"""Cast extraction quality: precision and recall of the extracted names.

    cd ai-service && ../.venv/bin/python eval/cast_eval.py    (or `make eval-cast`)

Each novel in data/novels is read and its cast extracted exactly as the
ingestion job does it (decode -> strip_gutenberg -> split_chapters ->
`cast_profiles`, the pipeline's own call, in its "full" mode: at most 30
characters), without core, Celery or the vector store: names do not depend on
them.

eval/cast_gold.json holds, per novel (file stem), the cast listed by hand:
`main` (the principal cast a reader expects in a cast picker) and `minor`
(other real characters of the book), each {name, aliases}. Every gold name
must occur in its novel's text; the script stops with an error otherwise.

Matching. Names are compared case-insensitively, without dots, without a
leading "the" and with whitespace collapsed. An extracted character matches
the gold character its name names; when its name names none, the first gold
character (main before minor) that one of its aliases names.

Scores, per novel and overall (micro: summed over the novels):
  P        precision over every extracted character: matched a gold
           character (main or minor) / extracted. A character that matches a
           gold character already matched by a higher-ranked one (the same
           person twice, "Jane" and "Miss Bennet") counts as correct here,
  P-dedup  as P, but such duplicates count as wrong,
  R        recall of the main cast: main characters matched / main cast,
  P@N      P over the top N extracted, N = the size of the novel's main cast,
  R@N      R over the top N extracted,
  time     seconds spent in the extraction.
Under the table, what was wrong: characters that match nobody, duplicates,
and the main characters that were missed.

Options: --show-profiles prints each novel's profiles (name, aliases,
traits, relationships, first appearance, description); --json prints the
numbers as JSON; --novels A,B limits the run to these file stems.

This is a report, not a test: it exits 0 whatever the scores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

AI_ROOT = Path(__file__).resolve().parents[1]
REPO = AI_ROOT.parent
if str(AI_ROOT) not in sys.path:
    sys.path.insert(0, str(AI_ROOT))

from gaji_ai.ingestion.pipeline import cast_profiles  # noqa: E402
from gaji_ai.ingestion.text import decode, split_chapters, strip_gutenberg  # noqa: E402

NOVELS = REPO / "data" / "novels"
GOLD = Path(__file__).resolve().parent / "cast_gold.json"


def key(name: str) -> str:
    text = " ".join(name.lower().replace(".", " ").split())
    return text[4:] if text.startswith("the ") else text


@dataclass
class Scores:
    novel: str
    extracted: int = 0
    correct: int = 0
    distinct: int = 0
    main: int = 0
    found: int = 0
    top_n_correct: int = 0
    top_n_found: int = 0
    top_n: int = 0
    seconds: float = 0.0
    wrong: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def ratio(self, a: int, b: int) -> float:
        return a / b if b else 0.0

    def row(self) -> dict:
        return {
            "novel": self.novel,
            "extracted": self.extracted,
            "main_cast": self.main,
            "P": round(self.ratio(self.correct, self.extracted), 3),
            "P_dedup": round(self.ratio(self.distinct, self.extracted), 3),
            "R": round(self.ratio(self.found, self.main), 3),
            "P@N": round(self.ratio(self.top_n_correct, self.top_n), 3),
            "R@N": round(self.ratio(self.top_n_found, self.main), 3),
            "seconds": round(self.seconds, 2),
        }


def load_gold(normalised: dict[str, str]) -> dict[str, dict]:
    gold = {k: v for k, v in json.loads(GOLD.read_text()).items() if not k.startswith("_")}
    for novel, cast in gold.items():
        text = normalised[novel].lower()
        for person in cast["main"] + cast["minor"]:
            if " ".join(person["name"].lower().split()) not in text:
                raise SystemExit(f"{novel}: gold name {person['name']!r} is not in the text")
    return gold


def score(novel: str, profiles: list, cast: dict, seconds: float) -> Scores:
    people = [(p, True) for p in cast["main"]] + [(p, False) for p in cast["minor"]]
    by_name = {key(p["name"]): i for i, (p, _) in enumerate(people)}
    by_alias: dict[str, int] = {}
    for i, (p, _) in enumerate(people):
        for alias in [p["name"], *p["aliases"]]:
            by_alias.setdefault(key(alias), i)
    result = Scores(novel, extracted=len(profiles), main=len(cast["main"]))
    result.top_n = min(len(cast["main"]), len(profiles))
    matched: set[int] = set()
    for rank, profile in enumerate(profiles):
        hit = by_name.get(key(profile.name), by_alias.get(key(profile.name)))
        if hit is None:
            hit = next((by_alias[key(a)] for a in profile.aliases if key(a) in by_alias), None)
        if hit is None:
            result.wrong.append(profile.name)
            continue
        result.correct += 1
        result.top_n_correct += rank < result.top_n
        if hit in matched:
            result.duplicates.append(f"{profile.name} (= {people[hit][0]['name']})")
            continue
        matched.add(hit)
        result.distinct += 1
        if people[hit][1]:
            result.found += 1
            result.top_n_found += rank < result.top_n
    result.missed = [p["name"] for i, (p, main) in enumerate(people) if main and i not in matched]
    result.seconds = seconds
    return result


def show(profiles: list) -> None:
    for p in profiles:
        first = getattr(p, "first_appearance", None) or {}
        print(f"  - {p.name} [{p.role}] aliases={p.aliases} traits={p.personality_traits}")
        relations = getattr(p, "relationships", [])
        if relations:
            print(
                "      relationships:", ", ".join(f"{r['relation']} {r['name']}" for r in relations)
            )
        if first:
            print(f"      first: ch.{first.get('chapter')} {first.get('quote', '')[:160]!r}")
        print(f"      {p.description[:400]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show-profiles", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--novels", default="")
    args = parser.parse_args()
    documents = {}
    for path in sorted(NOVELS.glob("*.txt")):
        documents[path.stem] = strip_gutenberg(decode(path.read_bytes())).body
    gold = load_gold({k: " ".join(v.split()) for k, v in documents.items()})
    wanted = [n for n in args.novels.split(",") if n] or sorted(gold)
    results = []
    for novel in wanted:
        body = documents[novel]
        started = time.perf_counter()
        profiles, _cast = cast_profiles(body, split_chapters(body))
        seconds = time.perf_counter() - started
        results.append(score(novel, profiles, gold[novel], seconds))
        if args.show_profiles:
            print(f"== {novel}")
            show(profiles)
    total = Scores("OVERALL (micro)")
    for r in results:
        for name in ("extracted", "correct", "distinct", "main", "found"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        total.top_n += r.top_n
        total.top_n_correct += r.top_n_correct
        total.top_n_found += r.top_n_found
        total.seconds += r.seconds
    rows = [r.row() for r in [*results, total]]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    header = (
        f"{'novel':22} {'extr':>4} {'main':>4} {'P':>6} {'P-dedup':>8} {'R':>6}"
        f" {'P@N':>6} {'R@N':>6} {'time s':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['novel']:22} {row['extracted']:>4} {row['main_cast']:>4} {row['P']:>6.3f}"
            f" {row['P_dedup']:>8.3f} {row['R']:>6.3f} {row['P@N']:>6.3f} {row['R@N']:>6.3f}"
            f" {row['seconds']:>7.2f}"
        )
    macro = {m: sum(r[m] for r in rows[:-1]) / len(rows[:-1]) for m in ("P", "P_dedup", "R")}
    print(
        f"{'OVERALL (macro)':22} {'':>4} {'':>4} {macro['P']:>6.3f} {macro['P_dedup']:>8.3f}"
        f" {macro['R']:>6.3f}"
    )
    print()
    for r in results:
        print(f"{r.novel}:")
        print(f"  not characters ({len(r.wrong)}): {', '.join(r.wrong) or '-'}")
        print(f"  duplicates ({len(r.duplicates)}): {', '.join(r.duplicates) or '-'}")
        print(f"  main cast missed ({len(r.missed)}): {', '.join(r.missed) or '-'}")


if __name__ == "__main__":
    main()
