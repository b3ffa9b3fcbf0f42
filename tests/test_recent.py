"""The bounded store of recently used values behind the query caches."""

from __future__ import annotations

from civicstat.recent import Recent


def test_a_kept_value_is_not_made_again_and_the_least_recently_used_goes_first() -> None:
    made: list[str] = []

    def make(key: str) -> str:
        made.append(key)
        return key.upper()

    kept: Recent[str, str] = Recent(2)
    assert kept.get("a", lambda: make("a")) == "A"
    assert kept.get("b", lambda: make("b")) == "B"
    assert kept.get("a", lambda: make("a")) == "A"  # kept; now the most recent
    assert kept.get("c", lambda: make("c")) == "C"  # "b" goes
    assert len(kept) == 2
    assert kept.get("a", lambda: make("a")) == "A"
    assert kept.get("b", lambda: make("b")) == "B"
    assert made == ["a", "b", "c", "b"]
