""""Did you mean" hints for unknown names (generators, models, their parameters), from `difflib`.

The helpers live in `synthrec.errors` (so that ``data/`` can use them and import only ``errors``); this
module re-exports them under their old path.
"""

from __future__ import annotations

from synthrec.errors import close_matches, did_you_mean, did_you_mean_each

__all__ = ["close_matches", "did_you_mean", "did_you_mean_each"]
