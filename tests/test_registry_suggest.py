"""Unknown generator/model names and parameters get a "did you mean" hint before the list of valid ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from synthrec._suggest import close_matches, did_you_mean, did_you_mean_each
from synthrec.cli import app
from synthrec.errors import ConfigError
from synthrec.generators.registry import make_generator
from synthrec.models.registry import make_model


def test_close_matches_ignore_case_and_separators() -> None:
    assert close_matches("latent-factr", ["latent-factor", "vae", "gan"]) == ["latent-factor"]
    assert close_matches("Latent_Factor", ["latent-factor", "vae"]) == ["latent-factor"]
    assert close_matches("zzzz", ["latent-factor", "vae"]) == []
    assert close_matches(["not", "a", "name"], ["vae"]) == []  # type: ignore[arg-type]
    assert did_you_mean("zzzz", ["vae"]) == ""
    assert did_you_mean("vea", ["vae", "gan"]) == "did you mean 'vae'? "
    assert did_you_mean_each(["n_fctors", "zzz", "seeed"], ["n_factors", "seed"]) == (
        "did you mean 'n_factors' for n_fctors, 'seed' for seeed? ")


def test_unknown_generator_name_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError) as info:
        make_generator("latent-factr")
    msg = str(info.value)
    assert msg.startswith("unknown generator 'latent-factr'; did you mean 'latent-factor'? valid names: ")
    assert "gan, item-walk, latent-factor, profiled, sequence, vae" in msg


def test_unknown_generator_name_without_a_close_one_just_lists_them() -> None:
    with pytest.raises(ConfigError, match=r"^unknown generator 'zzz'; valid names: gan, "):
        make_generator("zzz")


def test_unknown_generator_parameter_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError) as info:
        make_generator("latent-factor", n_fctors=8)
    msg = str(info.value)
    assert msg.startswith("bad parameters for generator 'latent-factor': unknown parameter(s) n_fctors; "
                          "did you mean 'n_factors'? valid parameters: n_factors, ")
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) colour; valid parameters: n_factors"):
        make_generator("latent-factor", colour="red")
    # a known parameter with a bad value still reaches the constructor's own check
    with pytest.raises(ConfigError, match="n_factors"):
        make_generator("latent-factor", n_factors=-1)


def test_unknown_model_name_and_parameter_suggest_the_close_one() -> None:
    with pytest.raises(ConfigError, match=r"^unknown model 'eas'; did you mean 'ease'\? valid names: als, attribute-knn, bpr"):
        make_model("eas")
    with pytest.raises(ConfigError, match=r"^unknown model 'mfbpr'; did you mean 'mf-bpr'\? valid names: "):
        make_model("mfbpr")
    with pytest.raises(ConfigError) as info:
        make_model("als", factor=8)
    assert "unknown parameter(s) factor for model 'als'; did you mean 'factors'? valid parameters: factors" in str(
        info.value)
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) lamda for model 'ease'; valid parameters: l2"):
        make_model("ease", lamda=3)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_fit_suggests_the_close_generator_and_parameter(tmp_path: Path) -> None:
    """`fit` checks the name and --param itself (before loading the data): its messages suggest too."""
    runner = CliRunner()
    base = ["fit", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "g.pkl")]
    res = runner.invoke(app, [*base, "-g", "latent-factr"])
    assert res.exit_code == 2, res.output
    assert ("--generator: unknown generator 'latent-factr'; did you mean 'latent-factor'? valid names: gan, "
            in _flat(res.output))
    res = runner.invoke(app, [*base, "--param", "n_fctors=3"])
    assert res.exit_code == 2, res.output
    assert ("--param n_fctors: not a parameter of generator 'latent-factor'; did you mean 'n_factors'? its "
            "parameters: n_factors" in _flat(res.output))
    res = runner.invoke(app, [*base, "--param", "n_fctors=3", "--param", "epsilom=1"])
    assert "did you mean 'n_factors' for n_fctors, 'epsilon' for epsilom? its parameters" in _flat(res.output)
    res = runner.invoke(app, [*base, "-g", "zzz"])  # nothing close: just the list
    assert "unknown generator 'zzz'; valid names: gan" in _flat(res.output)


def test_bench_config_suggests_the_close_generator_recommender_and_parameter(tmp_path: Path) -> None:
    runner = CliRunner()
    log = tmp_path / "log.csv"
    log.write_text("user,item\n1,2\n")

    def run(**keys: object) -> str:
        cfg = {"datasets": [{"name": "d", "data": {"path": str(log)}}], **keys}
        (tmp_path / "bench.yaml").write_text(yaml.safe_dump(cfg))
        res = runner.invoke(app, ["bench", str(tmp_path / "bench.yaml"), "--out", str(tmp_path / "o"), "--dry-run"])
        assert res.exit_code == 2, res.output
        return _flat(res.output)

    assert ("generators: unknown generator 'latent-factr'; did you mean 'latent-factor'? registered: gan, "
            in run(generators=[{"name": "latent-factr"}]))
    assert "unknown recommender 'eas'; did you mean 'ease'? registered: als, " in run(recommenders=[{"name": "eas"}])
    assert ("generator 'latent-factor': unknown parameter(s) n_fctors; did you mean 'n_factors'? valid: n_factors"
            in run(generators=[{"name": "latent-factor", "params": {"n_fctors": 3}}]))
    assert ("recommender 'ease': unknown parameter(s) lamda; valid: l2"
            in run(recommenders=[{"name": "ease", "grid": {"lamda": [1.0]}}]))
    assert ("recommender 'als': unknown parameter(s) factor; did you mean 'factors'? valid: factors"
            in run(recommenders=[{"name": "als", "params": {"factor": 8}}]))
