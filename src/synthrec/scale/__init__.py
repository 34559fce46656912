"""Scale-out: sharded, resumable generation and streaming statistics / evaluation on local or Dask workers.

* `ShardPlan`, `sample_shard` — users cut into shards with per-shard seeds (worker-count independent).
* `write_sharded` — one file per shard (Parquet zstd, CSV or RecBole), atomic writes, manifest, resume.
* `make_backend` / `InProcessBackend` / `ProcessPoolBackend` / `DaskBackend` — where tasks run.
* `sufficient_stats` — item counts, item–item Gram matrix, activity histogram of a Parquet log.
* `evaluate_batched` — ranking metrics of a recommender in user batches.

Names are imported on first use (PEP 562), so a worker process that only needs
`synthrec.scale.backends` does not import the generators and models (and their heavy dependencies).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthrec.scale.backends import (
        BACKENDS,
        Backend,
        DaskBackend,
        InProcessBackend,
        ProcessPoolBackend,
        make_backend,
    )
    from synthrec.scale.evaluate import evaluate_batched
    from synthrec.scale.manifest import MANIFEST_NAME, Manifest, ShardRecord, file_sha256, model_checksum
    from synthrec.scale.shards import DEFAULT_SHARD_USERS, Shard, ShardPlan, sample_shard
    from synthrec.scale.stats import SufficientStats, interaction_stats, parquet_files, sufficient_stats
    from synthrec.scale.writer import FORMATS, ShardOutcome, write_sharded

_WHERE = {
    "backends": ("BACKENDS", "Backend", "DaskBackend", "InProcessBackend", "ProcessPoolBackend", "make_backend"),
    "evaluate": ("evaluate_batched",),
    "manifest": ("MANIFEST_NAME", "Manifest", "ShardRecord", "file_sha256", "model_checksum"),
    "shards": ("DEFAULT_SHARD_USERS", "Shard", "ShardPlan", "sample_shard"),
    "stats": ("SufficientStats", "interaction_stats", "parquet_files", "sufficient_stats"),
    "writer": ("FORMATS", "ShardOutcome", "write_sharded"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "BACKENDS",
    "DEFAULT_SHARD_USERS",
    "FORMATS",
    "MANIFEST_NAME",
    "Backend",
    "DaskBackend",
    "InProcessBackend",
    "Manifest",
    "ProcessPoolBackend",
    "Shard",
    "ShardOutcome",
    "ShardPlan",
    "ShardRecord",
    "SufficientStats",
    "evaluate_batched",
    "file_sha256",
    "interaction_stats",
    "make_backend",
    "model_checksum",
    "parquet_files",
    "sample_shard",
    "sufficient_stats",
    "write_sharded",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'synthrec.scale' has no attribute {name!r}")
    return getattr(import_module(f"synthrec.scale.{module}"), name)


def __dir__() -> list[str]:
    return __all__
