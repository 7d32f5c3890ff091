"""Counts in printed text: `counted(1, "identity")` is "1 identity", `counted(2, "identity")` "2 identities"."""
from __future__ import annotations

IRREGULAR = {"identity": "identities", "person": "people", "class": "classes", "match": "matches"}


def plural(noun: str) -> str:
    return IRREGULAR.get(noun, noun + "s")


def counted(n: int, noun: str) -> str:
    return f"{n} {noun if n == 1 else plural(noun)}"
