"""The tidy results table of a sweep, on disk, resumable.

Layout of the output folder::

    parts/<cell_id>.parquet   the rows of one finished cell (written to a temporary name, then renamed)
    results.csv               the parts of the current config's cells combined (appended per finished
                              cell; rebuilt from the parts at the start and end of every sweep, so a kill
                              mid-append is repaired and cells no longer in the config leave it)
    manifest.json             the config and the list of cells of the last sweep
    cache/                    fitted-generator samples shared between cells (safe to delete)

A cell is *finished* when its part exists with status ok or skipped; a rerun skips finished cells, so a
sweep killed mid-way resumes where it stopped. A *failed* cell's part (status ``failed: <type>``) records
the error until the cell is retried: a rerun deletes it (`ResultStore.discard`) and runs the cell again,
so fixing the cause and rerunning replaces the error. The parts are the source of truth.

One row per cell × metric × group (`SCHEMA`); a skipped or failed cell has one row with null metric,
group and value and its reason in ``status`` / ``note``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from synthrec.data.atomic import atomic_write, atomic_write_text
from synthrec.errors import DataValidationError

#: Column -> dtype of the tidy table.
SCHEMA: dict[str, Any] = {
    "cell_id": pl.String, "dataset": pl.String, "split": pl.String, "level": pl.String,
    "level_kind": pl.String, "users_fraction": pl.Float64, "history_cap": pl.Int64, "seed": pl.Int64,
    "strategy": pl.String, "source": pl.String, "epsilon": pl.Float64, "generator": pl.String,
    "ratio": pl.Float64, "arm": pl.String, "recommender": pl.String,
    "metric": pl.String, "group": pl.String, "value": pl.Float64, "n_users": pl.Int64,
    "n_train_users": pl.Int64, "n_synthetic_users": pl.Int64, "status": pl.String, "note": pl.String,
    "chosen_arm": pl.String, "params": pl.String, "seconds": pl.Float64, "generator_seconds": pl.Float64,
}
#: Columns that depend on the machine, not on the measured result (left out when comparing runs).
VOLATILE = ("seconds", "generator_seconds")


def rows_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Rows (dicts with any subset of `SCHEMA`'s keys) as a frame with exactly `SCHEMA`."""
    return pl.DataFrame([{k: r.get(k) for k in SCHEMA} for r in rows], schema=SCHEMA)


class ResultStore:
    """Reads and writes the tidy table of one output folder (see the module docstring).

    Raises (constructor):
        DataValidationError: ``out_dir`` exists and is not a folder.
    """

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise DataValidationError("the output path exists and is not a folder", source=str(self.out_dir),
                                      hint="give a folder for --out")
        self.parts_dir = self.out_dir / "parts"
        self.cache_dir = self.out_dir / "cache"
        self.csv_path = self.out_dir / "results.csv"
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        self.cache_dir.mkdir(parents=True, exist_ok=True)

    def _statuses(self) -> pl.DataFrame:
        """``cell_id``, ``status`` of every part (one row per part row)."""
        parts = sorted(self.parts_dir.glob("*.parquet"))
        if not parts:
            return pl.DataFrame(schema={"cell_id": pl.String, "status": pl.String})
        return pl.concat([pl.read_parquet(p, columns=["cell_id", "status"]) for p in parts], how="vertical")

    def failed(self) -> set[str]:
        """Ids of the cells whose part records a failure (status ``failed: ...``)."""
        st = self._statuses()
        return set(st.filter(pl.col("status").str.starts_with("failed"))["cell_id"].to_list())

    def finished(self) -> set[str]:
        """Ids of the cells whose part exists and records no failure (ok or skipped): not run again."""
        return {p.stem for p in self.parts_dir.glob("*.parquet")} - self.failed()

    def discard(self, cell_ids: Iterable[str]) -> int:
        """Delete the parts of ``cell_ids`` (those that exist), so the cells run again. Returns how many."""
        n = 0
        for cid in cell_ids:
            path = self.parts_dir / f"{cid}.parquet"
            if path.exists():
                path.unlink()
                n += 1
        return n

    def write_part(self, cell_id: str, rows: Sequence[dict[str, Any]]) -> bool:
        """Write one cell's rows atomically; a part that already exists is kept (idempotent).

        Returns:
            True when the part was written now.
        """
        return write_part(self.parts_dir, cell_id, rows)

    def append_csv(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows to ``results.csv`` (header written when the file is new)."""
        frame = rows_frame(rows)
        new = not self.csv_path.exists()
        with self.csv_path.open("a", encoding="utf-8", newline="") as fh:
            fh.write(frame.write_csv(include_header=new))
            fh.flush()

    def table(self, order: Sequence[str] | None = None) -> pl.DataFrame:
        """Every finished row, optionally sorted by the position of ``cell_id`` in ``order``."""
        parts = sorted(self.parts_dir.glob("*.parquet"))
        if not parts:
            return rows_frame([])
        frames = [pl.read_parquet(p) for p in parts]
        expected = rows_frame([]).columns
        for path, part in zip(parts, frames, strict=True):
            if part.columns != expected:  # written by another synthrec version: never mix the two
                raise DataValidationError(
                    f"result part has columns {part.columns}, this synthrec writes {expected}",
                    source=str(path),
                    hint="the folder holds results of another synthrec version; give a new --out",
                )
        frame = pl.concat(frames, how="vertical")
        if order is not None:
            rank = pl.DataFrame({"cell_id": list(order), "_rank": range(len(order))},
                                schema={"cell_id": pl.String, "_rank": pl.Int64})
            frame = frame.join(rank, on="cell_id", how="left").sort("_rank", "metric", "group",
                                                                    nulls_last=True, maintain_order=True).drop("_rank")
        return frame

    def rebuild_csv(self, order: Sequence[str] | None = None) -> pl.DataFrame:
        """Rewrite ``results.csv`` from the parts (atomically) and return the table. With ``order`` (the
        cell ids of the current config), only those cells' rows, in that order: parts of cells no longer in
        the config stay on disk (another config's sweep into the same folder keeps them) but leave the CSV,
        as they leave summary.csv and the page."""
        frame = self.table(order)
        if order is not None:
            frame = frame.filter(pl.col("cell_id").is_in(list(order)))
        atomic_write(self.csv_path, lambda tmp: frame.write_csv(tmp))
        return frame

    def write_manifest(self, payload: dict[str, Any]) -> None:
        atomic_write_text(self.out_dir / "manifest.json", json.dumps(payload, indent=2, default=str))


def write_part(parts_dir: Path, cell_id: str, rows: Sequence[dict[str, Any]]) -> bool:
    """`ResultStore.write_part` without a store object (used inside worker processes)."""
    path = parts_dir / f"{cell_id}.parquet"
    if path.exists():
        return False
    frame = rows_frame(rows)
    atomic_write(path, lambda tmp: frame.write_parquet(tmp))
    return True
