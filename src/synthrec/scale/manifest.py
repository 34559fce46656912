"""The JSON manifest of a sharded run: what was generated, how, and the checksum of every finished shard.

``<out>/_manifest.json`` is the single source of truth of a run (the leading underscore makes
``pyarrow.dataset`` and Spark-style readers skip it, so the folder reads as a Parquet dataset). A shard counts as done only when it is
listed here **and** its file's SHA-256 equals the recorded one; a file without a manifest entry (the run
stopped between the rename and the next manifest write) is simply generated again. The manifest is always
rewritten whole, atomically (temporary name, then rename), so a crash leaves the previous version.

Layout (``format_version`` 1)::

    {
      "format_version": 1,
      "complete": false,                 # true once every shard is listed
      "generator": {"class": "synthrec.generators.latent_factor.LatentFactorGenerator",
                    "params": {"n_factors": 64, ...}},
      "model_sha256": "…",               # checksum of the fitted generator (see `model_checksum`)
      "seed": 0, "n_users": 1000000, "shard_users": 10000, "n_shards": 100,
      "format": "parquet",
      "time_type": "seconds",            # how times are written (seconds, date, datetime)
      "shards": [{"index": 0, "file": "part-000000.parquet", "rows": 1612345, "users": 10000,
                  "sha256": "…", "format": "parquet"}, ...]
    }
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from synthrec._params import read_params
from synthrec.data.atomic import atomic_write_text
from synthrec.errors import ConfigError, DataValidationError

MANIFEST_NAME = "_manifest.json"
FORMAT_VERSION = 1
#: the run parameters that must agree for a rerun to resume an earlier run in the same folder
RUN_KEYS = ("generator", "model_sha256", "seed", "n_users", "shard_users", "format", "time_type")


@dataclass(frozen=True)
class ShardRecord:
    """One finished shard: its file (relative to the output folder), size and SHA-256 of the bytes."""

    index: int
    file: str
    rows: int
    users: int
    sha256: str
    format: str


@dataclass
class Manifest:
    """In-memory manifest; `write` saves it atomically, `read` loads and checks it."""

    generator: dict[str, Any]
    model_sha256: str
    seed: int
    n_users: int
    shard_users: int
    n_shards: int
    format: str
    shards: dict[int, ShardRecord] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    time_type: str = "seconds"

    @property
    def complete(self) -> bool:
        """True when every shard of the plan is recorded."""
        return len(self.shards) == self.n_shards

    @property
    def rows(self) -> int:
        """Total rows over the recorded shards."""
        return sum(r.rows for r in self.shards.values())

    def run_key(self) -> dict[str, Any]:
        """The parameters a resumed run must share with this one (`RUN_KEYS`)."""
        return {k: getattr(self, k) for k in RUN_KEYS}

    def to_json(self) -> str:
        """Pretty JSON text; shards sorted by index."""
        doc = {
            "format_version": self.format_version, "complete": self.complete, "generator": self.generator,
            "model_sha256": self.model_sha256, "seed": self.seed, "n_users": self.n_users,
            "shard_users": self.shard_users, "n_shards": self.n_shards, "format": self.format,
            "time_type": self.time_type,
            "rows": self.rows,
            "shards": [asdict(self.shards[i]) for i in sorted(self.shards)],
        }
        return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"

    def write(self, folder: str | Path) -> Path:
        """Write ``<folder>/_manifest.json`` atomically; returns its path."""
        return atomic_write_text(Path(folder) / MANIFEST_NAME, self.to_json())

    @classmethod
    def read(cls, folder: str | Path) -> Manifest | None:
        """The manifest in ``folder``, or None when there is none.

        Raises:
            DataValidationError: the file is not valid JSON or lacks a field (names the file and field).
        """
        path = Path(folder) / MANIFEST_NAME
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            shards = {int(s["index"]): ShardRecord(**s) for s in doc["shards"]}
            return cls(generator=doc["generator"], model_sha256=doc["model_sha256"], seed=int(doc["seed"]),
                       n_users=int(doc["n_users"]), shard_users=int(doc["shard_users"]),
                       n_shards=int(doc["n_shards"]), format=doc["format"], shards=shards,
                       format_version=int(doc["format_version"]),
                       time_type=str(doc.get("time_type", "seconds")))  # older manifests: seconds
        except (ValueError, KeyError, TypeError) as exc:
            raise DataValidationError(
                f"not a valid synthrec manifest ({type(exc).__name__}: {exc})", source=str(path),
                hint="delete the output folder (or pick another --out) and run again",
            ) from None

    def check_same_run(self, other: Manifest, folder: str | Path) -> None:
        """Raise unless ``other`` describes the same run (so its finished shards can be reused).

        Raises:
            ConfigError: naming every differing parameter, with both values.
        """
        mine, theirs = self.run_key(), other.run_key()
        diff = [f"{k}: {theirs[k]!r} in the folder vs {mine[k]!r} now" for k in RUN_KEYS if mine[k] != theirs[k]]
        if diff:
            raise ConfigError(
                f"{Path(folder) / MANIFEST_NAME} belongs to a different run ({'; '.join(diff)}); "
                "use another --out folder, or delete this one to start over"
            )


def model_checksum(generator: object) -> str:
    """SHA-256 (hex) of the generator's model file: the bytes `BaseGenerator.save` writes.

    Those bytes are deterministic (`synthrec.generators._model_file.model_bytes`), so this equals the
    checksum of the saved file; `file_sha256` of the file can be passed instead when it is at hand (and
    must be, for a legacy pickle loaded with ``trusted=True``). A generator the model file cannot hold
    (a class of your own, outside synthrec) is identified by the SHA-256 of its pickle instead.
    """
    from synthrec.generators._model_file import model_bytes

    try:
        data = model_bytes(generator)
    except TypeError:  # not savable as a model file: its pickle still identifies it within a run
        import pickle

        data = pickle.dumps(generator, protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path, *, chunk: int = 1 << 22) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks of ``chunk`` bytes (memory stays bounded)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def generator_description(generator: object) -> dict[str, Any]:
    """``{"class": "module.QualName", "params": {constructor argument: value}}`` for the manifest.

    Parameters are the constructor's argument names read back from attributes of the same name (the
    scikit-learn convention our generators follow); values JSON cannot hold are stored as ``repr``.
    """
    cls = type(generator)
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "params": read_params(generator, as_json=True)}
