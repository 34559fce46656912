""""Did you mean" hints for unknown names (generators, models, their parameters), from `difflib`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The ``choices`` closest to ``word`` (best first, at most ``n``), ignoring case, ``-`` and ``_``:
    ``close_matches("latent-factr", ["latent-factor", "vae"])`` → ``["latent-factor"]``."""
    if not isinstance(word, str):
        return []
    options = [str(c) for c in choices]
    folded = {_fold(c): c for c in options}
    hits = difflib.get_close_matches(_fold(word), list(folded), n=n, cutoff=0.6)
    return [folded[h] for h in hits]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``choices``, or ``""`` when none is close: meant to sit
    between an error's first clause and its list of valid names."""
    hits = close_matches(word, choices, n=1)
    return f"did you mean {hits[0]!r}? " if hits else ""


def did_you_mean_each(words: Iterable[str], choices: Iterable[str]) -> str:
    """`did_you_mean` for several unknown words: ``"did you mean 'n_factors' (for n_fctors)? "`` per word
    with a close match; a single word gets the plain form."""
    words = list(words)
    options = list(choices)
    if len(words) == 1:
        return did_you_mean(words[0], options)
    parts = []
    for w in words:
        hits = close_matches(w, options, n=1)
        if hits:
            parts.append(f"{hits[0]!r} for {w}")
    return f"did you mean {', '.join(parts)}? " if parts else ""


def _fold(name: str) -> str:
    return name.lower().replace("_", "-")
