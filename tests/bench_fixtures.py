"""Small helpers shared by the `synthrec bench` tests: a tiny log on disk and a toy generator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp
import typer

from synthrec.data.interactions import ITEM, USER, InteractionData
from synthrec.generators.base import BaseGenerator


def write_tiny_log(path: Path, n_users: int = 80, n_items: int = 40, seed: int = 0) -> Path:
    """A CSV log (user, item, rating, timestamp): each user 6–14 distinct items, increasing times."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(6, 15, size=n_users)
    pop = 1.0 / np.arange(1, n_items + 1)
    pop /= pop.sum()
    users = np.repeat(np.arange(n_users), lengths)
    items = np.concatenate([rng.choice(n_items, size=k, replace=False, p=pop) for k in lengths])
    times = 1_000_000 + np.arange(users.shape[0]) * 60
    pl.DataFrame({"user": users, "item": items, "rating": rng.integers(1, 6, size=users.shape[0]),
                  "timestamp": times}).write_csv(path)
    return path


def write_tiny_item_attributes(path: Path, n_items: int = 40) -> Path:
    """An ``item2attributes-json`` file for `write_tiny_log`'s items: item i has genre ``g{i % 4}`` and
    tag ``t{i % 3}``, plus an item id the log does not hold (ignored when attached)."""
    mapping = {str(i): [f"g{i % 4}", f"t{i % 3}"] for i in range(n_items)}
    mapping["999"] = ["g0"]
    path.write_text(json.dumps(mapping), encoding="utf-8")
    return path


def tiny_config(csv: Path, **overrides: Any) -> dict[str, Any]:
    """A bench config dict over the tiny log with a toy generator (registered by the test)."""
    cfg: dict[str, Any] = {
        "name": "tiny",
        "datasets": [{"name": "tiny", "data": {"path": str(csv), "user_col": "user", "item_col": "item",
                                                "rating_col": "rating", "time_col": "timestamp"}}],
        "scarcity": {"user_fractions": [0.25, 1.0], "history_caps": [5]},
        "source_fraction": 0.5,
        "sources": ["self", "source"],
        "dp_epsilons": [1.0],
        "generators": [{"name": "bootstrap"}],
        "strategies": ["real-only", "synthetic-only", "augment", "pretrain-finetune", "auto", "ceiling"],
        "augment_ratios": [1.0],
        "recommenders": [{"name": "pop"}, {"name": "ease", "grid": {"l2": [1.0, 10.0, 100.0]}}],
        "splits": ["leave-last-out"],
        "tuning": {"budget": 2},
        "ks": [10],
        "seeds": [0, 1],
    }
    cfg.update(overrides)
    return cfg


class BootstrapGenerator(BaseGenerator):
    """Toy generator: a synthetic user is a real user drawn with replacement (a copier: tests only)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, data: InteractionData) -> BootstrapGenerator:
        self.csr_ = data.to_csr()
        self.active_ = data.active_users()
        self.item_ids_ = data.item_ids
        self._fitted = True
        return self

    def _sample_block(self, n_users: int, rng: np.random.Generator, first_user: int) -> InteractionData:
        csr: sp.csr_matrix = self.csr_
        picks = self.active_[rng.integers(0, self.active_.shape[0], size=n_users)]
        starts, lengths = csr.indptr[picks], np.diff(csr.indptr)[picks]
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        items = csr.indices[offsets + np.arange(int(lengths.sum()))]
        rows = np.repeat(np.arange(n_users), lengths)
        frame = pl.DataFrame({USER: pl.Series(rows, dtype=pl.Int32), ITEM: pl.Series(items, dtype=pl.Int32)})
        ids = pl.Series("user_id", [f"boot-{first_user + i}" for i in range(n_users)])
        return InteractionData(frame, ids, self.item_ids_, name="bootstrap")


def bench_app() -> typer.Typer:
    """A Typer app with only `synthrec bench` registered (CLI tests without the whole CLI)."""
    from synthrec.commands.bench import register

    app = typer.Typer()
    register(app)

    @app.callback()
    def _main() -> None:
        """test app"""

    return app


def write_movielens_latest(folder: Path, titles: list[str], *, n_users: int = 60, seed: int = 0,
                           first_id: int = 1, first_time: int = 1_000_000) -> Path:
    """A MovieLens-latest folder (``ratings.csv`` + ``movies.csv``) over ``titles`` (item ``first_id + i``
    is ``titles[i]``): each user rates 6–14 distinct items (popularity ~ 1/rank), times increasing from
    ``first_time``. For external-source tests: two folders whose titles partly agree have partly mapped
    catalogues."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_items = len(titles)
    lengths = rng.integers(6, min(15, n_items), size=n_users)
    pop = 1.0 / np.arange(1, n_items + 1)
    pop /= pop.sum()
    users = np.repeat(np.arange(1, n_users + 1), lengths)
    items = np.concatenate([rng.choice(n_items, size=k, replace=False, p=pop) for k in lengths]) + first_id
    times = first_time + np.arange(users.shape[0]) * 60
    pl.DataFrame({"userId": users, "movieId": items, "rating": rng.integers(1, 6, size=users.shape[0]).astype(float),
                  "timestamp": times}).write_csv(folder / "ratings.csv")
    pl.DataFrame({"movieId": np.arange(first_id, first_id + n_items), "title": titles,
                  "genres": ["Drama|Comedy" if i % 2 else "Action" for i in range(n_items)]}
                 ).write_csv(folder / "movies.csv")
    return folder


def film_titles(start: int, stop: int, word: str = "Film") -> list[str]:
    """``["Film 3 (1993)", ...]``: titles with a year, for `write_movielens_latest`."""
    return [f"{word} {i} ({1990 + i % 10})" for i in range(start, stop)]
