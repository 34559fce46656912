"""The saved model file: safe to load (no code runs), versioned, deterministic, and every registered
generator round-trips through it bit for bit."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import pathlib
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from synthrec.cli import app
from synthrec.data.interactions import InteractionData
from synthrec.errors import DataValidationError, NotFittedError
from synthrec.generators._model_file import (
    FORMAT_VERSION,
    ModelFileVersionWarning,
    model_bytes,
    read_header,
    read_model,
)
from synthrec.generators.base import BaseGenerator
from synthrec.generators.registry import GENERATORS, make_generator

runner = CliRunner()

#: tiny settings per registered generator (a new generator must add its own: see the test below)
SMALL: dict[str, dict[str, Any]] = {
    "latent-factor": {"n_factors": 4, "calibration_users": 100},
    "item-walk": {},
    "vae": {"hidden": 8, "latent": 2, "max_epochs": 2, "batch_size": 16},
    "gan": {"noise_dim": 4, "hidden": 8, "critic_hidden": 8, "batch_size": 16, "max_epochs": 2,
            "collapse_users": 50},
    "sequence": {"dim": 8, "hidden": 16, "n_mixture": 2, "batch_size": 32, "epochs": 1},
    "profiled": {"n_factors": 3, "n_taste": 2, "generator_params": {"calibration_users": 100, "gram_items": 20}},
}


def small_log(n_users: int = 60, n_items: int = 20, seed: int = 0) -> InteractionData:
    """Users with 3-7 distinct items, ratings, timestamps, two user attributes and an items table."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for j, i in enumerate(rng.choice(n_items, int(rng.integers(3, 8)), replace=False)):
            rows.append((f"u{u}", f"i{i}", float(rng.integers(1, 6)), 1_000_000 + 3600 * u + 60 * j))
    frame = pl.DataFrame(rows, schema=["user", "item", "rating", "ts"], orient="row")
    users = pl.DataFrame({"user": [f"u{u}" for u in range(n_users)],
                          "gender": np.where(rng.random(n_users) < 0.5, "F", "M"),
                          "age": rng.integers(18, 70, n_users)})
    items = pl.DataFrame({"item": [f"i{i}" for i in range(n_items)],
                          "genre": pl.Series(["a", "b"] * (n_items // 2), dtype=pl.Categorical)})
    return InteractionData.from_frame(frame, rating_col="rating", time_col="ts", users=users, items=items,
                                      name="toy")


@pytest.fixture(scope="module")
def log() -> InteractionData:
    return small_log()


@pytest.fixture(scope="module")
def fitted(log: InteractionData) -> dict[str, BaseGenerator]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: make_generator(name, **SMALL[name], seed=0).fit(log) for name in GENERATORS}


class PlantedPayload:
    """Unpickling this creates ``marker``: what a hostile 'generator' file could do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _rewrite(src: Path, dst: Path, *, header: dict[str, Any] | None = None, state: Any = None,
             extra: dict[str, bytes] | None = None) -> Path:
    """A copy of the model file ``src`` with its header, state or members replaced."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "header.json" and header is not None:
                data = json.dumps(header).encode()
            elif name == "state.json" and state is not None:
                data = json.dumps(state).encode()
            zout.writestr(name, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return dst


def _header(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("header.json"))


def test_every_registered_generator_has_small_settings_here() -> None:
    assert set(SMALL) == set(GENERATORS)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_round_trip_is_exact_and_deterministic(name: str, fitted: dict[str, BaseGenerator], tmp_path: Path) -> None:
    gen = fitted[name]
    path = tmp_path / "g.synthrec"
    gen.save(path)
    first = path.read_bytes()
    assert first[:4] == b"PK\x03\x04"
    gen.save(path)
    assert path.read_bytes() == first  # the same generator, the same bytes
    assert model_bytes(gen) == first
    back = BaseGenerator.load(path)
    assert type(back) is type(gen)
    a, b = gen.sample(40, seed=7), back.sample(40, seed=7)
    assert a.interactions.equals(b.interactions)
    assert (a.users is None) == (b.users is None) and (a.users is None or a.users.equals(b.users))
    assert model_bytes(back) == first  # loading loses nothing
    header = read_header(path)
    assert header["format"] == "synthrec-model" and header["format_version"] == FORMAT_VERSION
    assert header["generator"] == name and header["class"].endswith(type(gen).__name__)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert names[:2] == ["header.json", "state.json"]
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_dp_generator_header_carries_its_guarantee(log: InteractionData, fitted: dict[str, BaseGenerator],
                                                   tmp_path: Path) -> None:
    dp = make_generator("item-walk", epsilon=1.0, delta=1e-5, seed=0).fit(log)
    dp.save(tmp_path / "dp.synthrec")
    privacy = read_header(tmp_path / "dp.synthrec")["privacy"]
    assert privacy["epsilon"] == pytest.approx(dp.privacy.epsilon) and privacy["epsilon"] <= 1.0
    assert privacy["delta"] == 1e-5
    fitted["item-walk"].save(tmp_path / "plain.synthrec")
    assert read_header(tmp_path / "plain.synthrec")["privacy"] is None  # ε = ∞: no guarantee


def test_a_header_whose_privacy_was_edited_is_refused(log: InteractionData, fitted: dict[str, BaseGenerator],
                                                      tmp_path: Path) -> None:
    """The header is what a tool that does not load the state reads: synthrec accepts a file only when the
    header's ε and δ are the state's, so a file it loads never overstates its privacy."""
    dp_path = tmp_path / "dp.synthrec"
    make_generator("item-walk", epsilon=8.0, delta=1e-5, seed=0).fit(log).save(dp_path)
    plain_path = tmp_path / "plain.synthrec"
    fitted["item-walk"].save(plain_path)
    header = _header(dp_path)
    BaseGenerator.load(_rewrite(dp_path, tmp_path / "same.synthrec", header=dict(header)))  # unchanged: loads
    edits = {
        "claims-less": (dp_path, {**header, "privacy": {**header["privacy"], "epsilon": 1.0}}),
        "drops-it": (dp_path, {**header, "privacy": None}),
        "invents-it": (plain_path, {**_header(plain_path), "privacy": {"epsilon": 1.0, "delta": 1e-5}}),
        "not-a-number": (dp_path, {**header, "privacy": {"epsilon": "1", "delta": 1e-5}}),
    }
    for name, (src, edited) in edits.items():
        bad = _rewrite(src, tmp_path / f"{name}.synthrec", header=edited)
        with pytest.raises(DataValidationError, match=r"header states privacy .* the header was edited, or") as info:
            BaseGenerator.load(bad)
        assert str(bad) in str(info.value)


def test_unknown_types_are_refused_at_save_time_with_their_path(fitted: dict[str, BaseGenerator],
                                                                tmp_path: Path) -> None:
    gen = make_generator("item-walk", seed=0)
    gen._fitted = True  # what the format stores is under test, not a fit
    gen.extra_ = {"inner": [1, object()]}  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"generator\.extra_\['inner'\]\[1\]: cannot store a builtins\.object"):
        gen.save(tmp_path / "x.synthrec")
    gen.extra_ = np.array([object()])  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"generator\.extra_: numpy array of dtype object"):
        gen.save(tmp_path / "x.synthrec")
    assert not (tmp_path / "x.synthrec").exists()


def test_plain_values_round_trip(tmp_path: Path) -> None:
    gen = make_generator("item-walk", seed=0)
    gen._fitted = True  # what the format stores is under test, not a fit
    values = {"nan": float("nan"), "inf": -float("inf"), "big": 2**80, "tuple": (1, "a", None),
              "set": {3, 1, 2}, "frozen": frozenset({"x"}), "keys": {1.5: "a", (1, 2): "b"},
              "np": np.float32(0.1), "i": np.int16(-3), "b": np.bool_(True), "bytes": b"\x00\x01",
              "rng": np.random.default_rng(4), "mt": np.random.Generator(np.random.MT19937(2)),
              "series": pl.Series("s", [1, None, 3]), "dtype": pl.Datetime("ms"),
              "arr": np.arange(6, dtype=np.uint8).reshape(2, 3), "strs": np.array(["ab", "c"])}
    gen.extra_ = values  # type: ignore[attr-defined]
    gen.save(tmp_path / "v.synthrec")
    # read_model: the format alone (BaseGenerator.load would also try to sample, and this one is no fit)
    back = read_model(tmp_path / "v.synthrec").extra_  # type: ignore[attr-defined]
    assert np.isnan(back["nan"]) and back["inf"] == -float("inf") and back["big"] == 2**80
    assert back["tuple"] == (1, "a", None) and back["set"] == {1, 2, 3} and back["frozen"] == frozenset({"x"})
    assert back["keys"] == {1.5: "a", (1, 2): "b"} and back["bytes"] == b"\x00\x01"
    assert type(back["np"]) is np.float32 and back["np"] == np.float32(0.1) and type(back["i"]) is np.int16
    assert back["rng"].random() == np.random.default_rng(4).random()
    assert back["mt"].integers(1 << 30) == np.random.Generator(np.random.MT19937(2)).integers(1 << 30)
    assert back["series"].equals(values["series"]) and back["dtype"] == pl.Datetime("ms")
    np.testing.assert_array_equal(back["arr"], values["arr"])
    assert back["arr"].dtype == np.uint8 and back["strs"].tolist() == ["ab", "c"]


# ------------------------------------------------------------------------------ nothing runs on load


def test_a_planted_pickle_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "partner.synthrec"
    evil.write_bytes(pickle.dumps(PlantedPayload(marker), protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(DataValidationError, match="is a pickle") as info:
        BaseGenerator.load(evil)
    assert str(evil) in str(info.value) and "trusted" in str(info.value)
    res = runner.invoke(app, ["sample", str(evil), "--users", "3", "--out", str(tmp_path / "s.csv")])
    assert res.exit_code != 0
    assert "pickle" in res.output and "--trusted" in res.output, res.output
    res = runner.invoke(app, ["generate", str(evil), "--users", "3", "--out", str(tmp_path / "big")])
    assert res.exit_code != 0 and "pickle" in res.output, res.output
    assert not marker.exists()
    # the payload is real: trusting the file runs it (and then finds no generator in it)
    with pytest.raises(DataValidationError, match="holds a NoneType"):
        BaseGenerator.load(evil, trusted=True)
    assert marker.exists()


@pytest.mark.parametrize("cls", ["os.system", "builtins.eval", "subprocess.Popen", "synthrec.errors.ConfigError",
                                 "synthrec.data.atomic.Path", "synthrec.nope.Thing", "synthrec..x"])
def test_a_class_outside_the_allow_list_is_refused(cls: str, fitted: dict[str, BaseGenerator], tmp_path: Path) -> None:
    good = tmp_path / "good.synthrec"
    fitted["item-walk"].save(good)
    header = _header(good)
    as_root = _rewrite(good, tmp_path / "root.synthrec", header={**header, "class": cls},
                       state={"$": "object", "class": cls, "state": {"command": "touch pwned"}})
    with pytest.raises(DataValidationError, match="refused to load: it names") as info:
        BaseGenerator.load(as_root)
    assert str(as_root) in str(info.value)
    with zipfile.ZipFile(good) as zf:
        state = json.loads(zf.read("state.json"))
    state["state"]["fit_report_"] = {"$": "object", "class": cls, "state": {}}  # nested deep inside a generator
    nested = _rewrite(good, tmp_path / "nested.synthrec", state=state)
    with pytest.raises(DataValidationError, match="refused to load: it names"):
        BaseGenerator.load(nested)


def test_an_object_array_is_refused(fitted: dict[str, BaseGenerator], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    good = tmp_path / "good.synthrec"
    fitted["item-walk"].save(good)
    buf = io.BytesIO()
    np.save(buf, np.array([PlantedPayload(marker)], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(good) as zf:
        state = json.loads(zf.read("state.json"))
        first = sorted(n for n in zf.namelist() if n.startswith("arrays/"))[0]
    state["state"]["bait_"] = {"$": "ndarray", "member": "arrays/999999.npy"}
    bad = _rewrite(good, tmp_path / "bad.synthrec", state=state, extra={"arrays/999999.npy": buf.getvalue()})
    with pytest.raises(DataValidationError, match="not a plain numeric array"):
        BaseGenerator.load(bad)
    # the same payload in place of a legitimate member
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(tmp_path / "swap.synthrec", "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, buf.getvalue() if name == first else zin.read(name))
    with pytest.raises(DataValidationError, match="not a plain numeric array"):
        BaseGenerator.load(tmp_path / "swap.synthrec")
    assert not marker.exists()


def test_damaged_and_foreign_files_are_named(fitted: dict[str, BaseGenerator], tmp_path: Path) -> None:
    good = tmp_path / "good.synthrec"
    fitted["latent-factor"].save(good)
    cut = tmp_path / "cut.synthrec"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(DataValidationError, match="damaged") as info:
        BaseGenerator.load(cut)
    assert str(cut) in str(info.value)
    text = tmp_path / "notes.synthrec"
    text.write_text("hello")
    with pytest.raises(DataValidationError, match="not a synthrec model file") as info:
        BaseGenerator.load(text)
    assert str(text) in str(info.value)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(DataValidationError, match=r"header\.json"):
        BaseGenerator.load(tmp_path / "other.zip")
    from synthrec.generators.item_walk import ItemWalkGenerator

    with pytest.raises(DataValidationError, match="holds a LatentFactorGenerator, not an ItemWalkGenerator"):
        ItemWalkGenerator.load(good)


# ------------------------------------------------------------------------------ versions and legacy files


def test_another_synthrec_version_loads_with_a_warning(fitted: dict[str, BaseGenerator], tmp_path: Path) -> None:
    good = tmp_path / "good.synthrec"
    fitted["latent-factor"].save(good)
    old = _rewrite(good, tmp_path / "old.synthrec", header={**_header(good), "synthrec_version": "0.0.7"})
    with pytest.warns(ModelFileVersionWarning, match="saved by synthrec 0.0.7"):
        back = BaseGenerator.load(old)
    assert back.sample(10, seed=1).interactions.equals(fitted["latent-factor"].sample(10, seed=1).interactions)
    newer = _rewrite(good, tmp_path / "new.synthrec", header={**_header(good), "format_version": FORMAT_VERSION + 1})
    with pytest.raises(DataValidationError, match=f"format version {FORMAT_VERSION + 1}"):
        BaseGenerator.load(newer)


def test_a_legacy_pickle_loads_only_when_trusted(fitted: dict[str, BaseGenerator], tmp_path: Path) -> None:
    gen = fitted["sequence"]
    legacy = tmp_path / "generator.pkl"
    legacy.write_bytes(pickle.dumps(gen, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(DataValidationError, match="is a pickle"):
        BaseGenerator.load(legacy)
    back = BaseGenerator.load(legacy, trusted=True)
    assert back.sample(20, seed=3).interactions.equals(gen.sample(20, seed=3).interactions)
    out = tmp_path / "s.csv"
    res = runner.invoke(app, ["sample", str(legacy), "--users", "5", "--out", str(out)])
    assert res.exit_code != 0 and "--trusted" in res.output
    res = runner.invoke(app, ["sample", str(legacy), "--users", "5", "--out", str(out), "--trusted", "--quiet"])
    assert res.exit_code == 0, res.output
    assert pl.read_csv(out)["user"].n_unique() == 5


@pytest.mark.parametrize("cmd", ["sample", "generate", "report"])
def test_every_loading_command_offers_trusted(cmd: str) -> None:
    res = runner.invoke(app, [cmd, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "--trusted" in res.output and "run any code" in res.output


# ---------------------------------------------------------------------------------------------- the simulator


def test_a_saved_simulator_is_its_scenario_as_json(tmp_path: Path) -> None:
    """The model file holds the scenario as plain JSON (no world, no catalogue); a fresh process loads it
    with `BaseGenerator.load`, rebuilding the scenario by validation, and samples the same bytes."""
    import subprocess
    import sys

    from synthrec.generators.simulator.generator import Simulator

    sim = Simulator.from_preset("news")
    expected = sim.sample(20, seed=3)
    path = tmp_path / "news.synthrec"
    sim.save(path)
    assert path.read_bytes() == model_bytes(Simulator.from_preset("news"))  # deterministic, cache or not
    with zipfile.ZipFile(path) as zf:
        state = json.loads(zf.read("state.json"))
        assert [n for n in zf.namelist() if n not in ("header.json", "state.json")] == []
    assert state["class"] == "synthrec.generators.simulator.generator.Simulator"
    assert set(state["state"]) == {"scenario", "scenario_file"}
    assert state["state"]["scenario"]["$"] == "dict" and state["state"]["scenario"]["map"]["name"] == "news"
    out = tmp_path / "sample.arrow"
    code = ("import sys; from synthrec.generators.base import BaseGenerator; "
            "BaseGenerator.load(sys.argv[1]).sample(20, seed=3).interactions.write_ipc(sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(path), str(out)], check=True)
    assert pl.read_ipc(out).equals(expected.interactions)


def test_a_simulator_with_a_damaged_scenario_is_refused(tmp_path: Path) -> None:
    from synthrec.generators.simulator.generator import Simulator

    good = tmp_path / "sim.synthrec"
    Simulator.from_preset("news").save(good)
    with zipfile.ZipFile(good) as zf:
        state = json.loads(zf.read("state.json"))
    state["state"]["scenario"]["map"]["simulation"]["map"]["surprise"] = "x"  # unknown key: validation fails
    bad = _rewrite(good, tmp_path / "bad.synthrec", state=state)
    with pytest.raises(DataValidationError, match="unknown key"):
        Simulator.load(bad)


def test_a_pickled_simulator_keeps_its_scenario_and_rebuilds_its_world(tmp_path: Path) -> None:
    from synthrec.generators.simulator.generator import Simulator
    from synthrec.generators.simulator.scenario import load_scenario
    from synthrec.generators.simulator.template import TEMPLATE

    file = tmp_path / "s.yaml"
    file.write_text(TEMPLATE, encoding="utf-8")
    sim = Simulator(file)
    expected = sim.sample(10, seed=1)  # builds and caches the world
    copy = pickle.loads(pickle.dumps(sim))
    assert "world" not in vars(copy) and copy.scenario == load_scenario(file)
    assert copy.scenario.source_file == file
    assert copy.sample(10, seed=1).interactions.equals(expected.interactions)
    old = Simulator.__new__(Simulator)
    old.__setstate__(dict(vars(sim)))  # an older pickle held the Scenario object (and the cached world)
    assert old.scenario is sim.scenario


def test_an_unfitted_generator_is_not_saved(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError, match="fit it on a log before saving"):
        make_generator("latent-factor", seed=0).save(tmp_path / "u.synthrec")
    assert not (tmp_path / "u.synthrec").exists()


def test_a_file_missing_a_parameter_is_refused_naming_it(fitted: dict[str, BaseGenerator], tmp_path: Path) -> None:
    """A state without a constructor parameter (another version's file, or an edited one) is refused at load
    with the file and the parameter named, not left to crash while sampling."""
    gen = copy.deepcopy(fitted["latent-factor"])
    del gen.fixed_length  # type: ignore[attr-defined]
    path = tmp_path / "old.synthrec"
    path.write_bytes(model_bytes(gen))
    with pytest.raises(DataValidationError, match=r"without its parameter\(s\) fixed_length") as info:
        BaseGenerator.load(path)
    assert str(path) in str(info.value)


def test_the_source_name_keeps_no_folder(fitted: dict[str, BaseGenerator]) -> None:
    """A model file may cross to a partner: the fitted log's local folders stay home."""
    assert all("/" not in str(g.source_name_) for g in fitted.values())


def _misfit(fitted: dict[str, BaseGenerator], name: str) -> BaseGenerator:
    """A copy of a fitted generator whose arrays no longer fit together (each one well formed)."""
    gen = copy.deepcopy(fitted[name])
    if name == "latent-factor":
        gen.item_factors_ = gen.item_factors_[:-5]  # type: ignore[attr-defined]
    else:  # item-walk: the bias of fewer items than the walk's neighbours name
        gen.walk_ = dataclasses.replace(gen.walk_, bias=gen.walk_.bias[:3])  # type: ignore[attr-defined]
    return gen


@pytest.mark.parametrize("name", ["latent-factor", "item-walk"])
def test_a_file_whose_arrays_do_not_fit_is_refused_at_load(name: str, fitted: dict[str, BaseGenerator],
                                                          tmp_path: Path) -> None:
    """Each array is well formed, but their shapes disagree: refused when read, naming the file, rather than
    accepted by `report` or failing halfway through `generate`."""
    path = tmp_path / "edited.synthrec"
    path.write_bytes(model_bytes(_misfit(fitted, name)))
    with pytest.raises(DataValidationError, match="cannot sample: its parts do not fit together") as info:
        BaseGenerator.load(path)
    assert str(path) in str(info.value) and "fit the generator again" in str(info.value)


def test_generate_from_a_misfit_file_fails_before_writing_anything(fitted: dict[str, BaseGenerator],
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "edited.synthrec"
    path.write_bytes(model_bytes(_misfit(fitted, "latent-factor")))
    out = tmp_path / "shards"
    res = runner.invoke(app, ["generate", str(path), "--users", "20", "--shard-users", "10", "--out", str(out)])
    assert res.exit_code != 0
    assert "cannot sample" in res.output and "edited.synthrec" in res.output
    assert not out.exists()


def test_sample_from_a_misfit_file_names_it(fitted: dict[str, BaseGenerator], tmp_path: Path) -> None:
    path = tmp_path / "edited.synthrec"
    path.write_bytes(model_bytes(_misfit(fitted, "item-walk")))
    res = runner.invoke(app, ["sample", str(path), "--users", "5", "--out", str(tmp_path / "s.csv")])
    flat = " ".join(res.output.split())
    assert res.exit_code == 2 and "cannot sample" in flat and "edited.synthrec" in flat
    assert not (tmp_path / "s.csv").exists()


def test_the_load_check_leaves_sampling_unchanged(fitted: dict[str, BaseGenerator], tmp_path: Path) -> None:
    """The trial draw at load uses its own seed and no state: a loaded generator samples what the fitted one
    does."""
    for name, gen in fitted.items():
        path = tmp_path / f"{name}.synthrec"
        gen.save(path)
        assert BaseGenerator.load(path).sample(7, seed=11).interactions.equals(gen.sample(7, seed=11).interactions)


def test_a_folder_given_as_a_model_file_is_named_as_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="is a folder, not a model file"):
        BaseGenerator.load(tmp_path)
    res = runner.invoke(app, ["sample", str(tmp_path), "--users", "3", "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 2 and "is a folder" in " ".join(res.output.split())
