"""Character Card V3 decorators: `@@name value` lines at the top of a lorebook
entry's content; a `@@@name value` line is a fallback for the decorator above
it (used when that one is not supported), and fallbacks may chain."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Decorator:
    name: str
    value: str = ""
    fallbacks: list[Decorator] = field(default_factory=list)

    @property
    def args(self) -> list[str]:
        """The value split on commas (`@@additional_keys a, b` → ["a", "b"])."""
        return [a.strip() for a in self.value.split(",") if a.strip()]

    def line(self, prefix: str = "@@") -> str:
        return f"{prefix}{self.name} {self.value}".rstrip()


def _split(line: str, prefix: str) -> Decorator:
    name, _, value = line[len(prefix) :].strip().partition(" ")
    return Decorator(name=name.strip(), value=value.strip())


def parse_decorators(content: str) -> tuple[list[Decorator], str]:
    """(the decorators at the top of `content`, the content without them)."""
    decorators: list[Decorator] = []
    lines = content.split("\n")
    taken = 0
    for line in lines:
        text = line.strip()
        if text.startswith("@@@") and decorators:
            decorators[-1].fallbacks.append(_split(text, "@@@"))
        elif text.startswith("@@") and len(text) > 2:
            decorators.append(_split(text.lstrip("@"), ""))
        else:
            break
        taken += 1
    if not taken:
        return [], content
    return decorators, "\n".join(lines[taken:])


def choose(decorator: Decorator, supported: set[str] | frozenset[str]) -> Decorator | None:
    """The decorator itself when supported, else its first supported fallback."""
    for candidate in (decorator, *decorator.fallbacks):
        if candidate.name in supported:
            return candidate
    return None
