"""Tests of `synthrec.evaluation.fidelity`: hand-computed tiny cases, identities, and a real check."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synthrec.data.interactions import InteractionData
from synthrec.errors import ConfigError, DataValidationError
from synthrec.evaluation import fidelity as fid
from synthrec.evaluation.fidelity import (
    FIDELITY_KEYS,
    FidelityWarning,
    activity_fidelity,
    boundary_adherence,
    cooccurrence_fidelity,
    fidelity_report,
    gini,
    popularity_fidelity,
    rating_fidelity,
    time_gap_fidelity,
)
from synthrec.generators import LatentFactorGenerator

CATALOGUE = pl.Series("item", ["a", "b", "c", "d", "e"])


def log(users: list[str], items: list[str], *, ts: list[int] | None = None,
        rating: list[float] | None = None, name: str = "t") -> InteractionData:
    cols: dict[str, object] = {"user": users, "item": items}
    if ts is not None:
        cols["ts"] = ts
    if rating is not None:
        cols["rating"] = rating
    return InteractionData.from_frame(
        pl.DataFrame(cols), time_col="ts" if ts is not None else None,
        rating_col="rating" if rating is not None else None, item_vocabulary=CATALOGUE, name=name,
    )


@pytest.fixture
def tiny() -> tuple[InteractionData, InteractionData]:
    # real: u0 {a, b}, u1 {a, c}, u2 {a, b, d} (+ a repeat of u2-a) -> degrees a3 b2 c1 d1 e0
    real = log(["u0", "u0", "u1", "u1", "u2", "u2", "u2", "u2"], ["a", "b", "a", "c", "a", "b", "d", "a"],
               ts=[10, 40, 5, 5, 100, 100, 120, 20], rating=[1, 2, 2, 5, 1, 2, 2, 5], name="real")
    # synthetic: s0 {a, b}, s1 {b, e} -> degrees a1 b2 c0 d0 e1
    syn = log(["s0", "s0", "s1", "s1"], ["a", "b", "b", "e"], ts=[0, 10, 50, 30],
              rating=[1, 1, 2, 4], name="syn")
    return real, syn


# ---------------------------------------------------------------------------------------- gini


def test_gini_hand_values() -> None:
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25)  # (−3 −2 +3 +12) / (4 · 10)
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75)  # (n − 1)/n
    assert gini([3, 2, 1, 1, 0]) == pytest.approx(14 / 35)
    assert gini([5, 5, 5]) == 0.0
    assert gini([]) == 0.0 and gini([0, 0]) == 0.0
    with pytest.raises(ValueError):
        gini([1, -1])
    with pytest.raises(ValueError):
        gini([1, np.nan])


def test_gini_agrees_with_the_mean_difference_form() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.poisson(rng.gamma(0.5, 10, size=rng.integers(1, 300))).astype(float)
        mad = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size * x.sum()) if x.sum() else 0.0
        assert gini(x) == pytest.approx(mad, abs=1e-12)


# ---------------------------------------------------------------------------------------- boundary


def test_boundary_adherence_pitfall_p16() -> None:
    real = [2.3, 4.2, 1.0, 10.0, 9.2]
    assert boundary_adherence(real, [3.4, np.nan, 1.2, 4.9, 9.1]) == pytest.approx(0.8)
    assert boundary_adherence(real, [1.0, 10.0, 0.99, 10.01]) == pytest.approx(0.5)  # bounds inclusive
    assert boundary_adherence([np.nan, 1.0, 3.0], [2.0, 4.0]) == pytest.approx(0.5)  # NaN real ignored
    with pytest.warns(FidelityWarning, match="all NaN"):
        assert math.isnan(boundary_adherence(real, [np.nan, np.nan, np.nan]))
    with pytest.warns(FidelityWarning):
        assert math.isnan(boundary_adherence([np.nan], [1.0]))


# ---------------------------------------------------------------------------------------- tiny logs


def test_popularity_hand_values(tiny: tuple[InteractionData, InteractionData]) -> None:
    real, syn = tiny
    out = popularity_fidelity(real, syn)
    assert out["popularity_gini_real"] == pytest.approx(0.4)  # [0,1,1,2,3]: 14 / (5 · 7)
    assert out["popularity_gini_synthetic"] == pytest.approx(0.5)  # [0,0,1,1,2]: 10 / (5 · 4)
    assert out["popularity_gini_diff"] == pytest.approx(0.1)
    assert out["popularity_ks"] == pytest.approx(0.2)
    # average ranks: real [5, 4, 2.5, 2.5, 1], synthetic [3.5, 5, 1.5, 1.5, 3.5]
    assert out["popularity_spearman"] == pytest.approx(3.5 / np.sqrt(9.5 * 9.0))
    assert out["catalogue_coverage_real"] == pytest.approx(0.8)
    assert out["catalogue_coverage_synthetic"] == pytest.approx(0.6)
    # real items a b c d; head = ⌈0.2 · 4⌉ = 1 item (a); tail b c d, of which b is synthetic
    assert out["long_tail_coverage"] == pytest.approx(1 / 3)


def test_activity_hand_values(tiny: tuple[InteractionData, InteractionData]) -> None:
    out = activity_fidelity(*tiny)
    # real degrees [2, 2, 3] (u2's repeat of a counts once), synthetic [2, 2]
    assert out == pytest.approx({"activity_ks": 1 / 3, "activity_mean_real": 7 / 3,
                                 "activity_mean_synthetic": 2.0, "activity_median_real": 2.0,
                                 "activity_median_synthetic": 2.0})


def test_rating_hand_values(tiny: tuple[InteractionData, InteractionData]) -> None:
    out = rating_fidelity(*tiny)
    assert out is not None
    # real {1: 2/8, 2: 4/8, 5: 2/8}, synthetic {1: 2/4, 2: 1/4, 4: 1/4}: ½(.25 + .25 + .25 + .25)
    assert out["rating_tvd"] == pytest.approx(0.5)
    assert out["rating_mean_real"] == pytest.approx(20 / 8)
    assert out["rating_mean_synthetic"] == pytest.approx(2.0)
    assert out["rating_boundary_adherence"] == pytest.approx(1.0)
    real, syn = tiny
    assert rating_fidelity(real, syn.with_interactions(syn.interactions.drop("rating"))) is None


def test_time_gap_hand_values(tiny: tuple[InteractionData, InteractionData]) -> None:
    out = time_gap_fidelity(*tiny)
    assert out is not None
    # real gaps: u0 [30], u1 [0], u2 times 20,100,100,120 -> [80, 0, 20]; synthetic: s0 [10], s1 [20]
    # ECDF real at 0: 2/5, 10: 2/5, 20: 3/5 ; synthetic 0, 1/2, 1 -> sup = 2/5 (at 0 and at 20)
    assert out["gap_ks"] == pytest.approx(0.4)
    assert out["gap_median_real"] == pytest.approx(20.0)
    assert out["gap_median_synthetic"] == pytest.approx(15.0)
    # real range [5, 120]: synthetic times 0, 10, 50, 30 -> 3 of 4 inside
    assert out["timestamp_boundary_adherence"] == pytest.approx(0.75)
    real, syn = tiny
    assert time_gap_fidelity(real.with_interactions(real.interactions.drop("timestamp")), syn) is None


def test_cooccurrence_cosine_hand_values(tiny: tuple[InteractionData, InteractionData]) -> None:
    real, syn = tiny
    out = cooccurrence_fidelity(real, syn, top_items=3)
    # top 3 by real degree: a(3), b(2), c(1) (c before d on the tie: lower id)
    # real cosine ab = 2/√6, ac = 1/√3, bc = 0 ; synthetic ab = 1/√2, ac = 0 (c unseen), bc = 0
    x = np.array([2 / np.sqrt(6), 1 / np.sqrt(3), 0.0])
    y = np.array([1 / np.sqrt(2), 0.0, 0.0])
    xc, yc = x - x.mean(), y - y.mean()
    assert out["cooccurrence_cosine_corr"] == pytest.approx(xc @ yc / np.sqrt((xc @ xc) * (yc @ yc)))
    # PMI defined in both only for ab: one pair, no correlation
    assert out["cooccurrence_pmi_pairs"] == 1.0
    assert math.isnan(out["cooccurrence_pmi_corr"])


def _reference_pmi_cosine(x: np.ndarray, top: np.ndarray) -> tuple[dict, dict]:
    """Loop-based reference over pairs of a dense binary user × item matrix."""
    n = float((x.sum(axis=1) > 0).sum())
    cos, pmi = {}, {}
    for a in range(top.size):
        for b in range(a + 1, top.size):
            i, j = top[a], top[b]
            gij, gi, gj = float(x[:, i] @ x[:, j]), float(x[:, i].sum()), float(x[:, j].sum())
            cos[(a, b)] = gij / math.sqrt(gi * gj) if gi and gj else 0.0
            if gij:
                pmi[(a, b)] = math.log(gij * n / (gi * gj))
    return cos, pmi


def test_cooccurrence_matches_loop_reference() -> None:
    m = 12
    cat = pl.Series("item", [f"i{j}" for j in range(m)])

    def make(n: int, p: float, seed: int) -> InteractionData:
        r = np.random.default_rng(seed)
        xs = r.random((n, m)) < r.uniform(0.05, p, size=m)
        u, i = np.nonzero(xs)
        return InteractionData.from_frame(
            pl.DataFrame({"user": u, "item": [f"i{j}" for j in i]}), item_vocabulary=cat)

    real, syn = make(40, 0.6, 1), make(30, 0.6, 2)
    top_items = 8
    out = cooccurrence_fidelity(real, syn, top_items=top_items)
    xr, xs = real.to_csr().toarray(), syn.to_csr().toarray()
    top = np.argsort(-xr.sum(axis=0), kind="stable")[:top_items]
    cr, pr = _reference_pmi_cosine(xr, top)
    cs, ps = _reference_pmi_cosine(xs, top)
    keys = sorted(cr)
    assert out["cooccurrence_cosine_corr"] == pytest.approx(
        np.corrcoef([cr[k] for k in keys], [cs[k] for k in keys])[0, 1])
    both = sorted(set(pr) & set(ps))
    assert out["cooccurrence_pmi_pairs"] == len(both)
    assert out["cooccurrence_pmi_corr"] == pytest.approx(
        np.corrcoef([pr[k] for k in both], [ps[k] for k in both])[0, 1])


# ---------------------------------------------------------------------------------------- report


def test_identical_data_is_perfect(tiny: tuple[InteractionData, InteractionData]) -> None:
    real, _ = tiny
    rep = fidelity_report(real, real, top_items=4)
    assert list(rep) == list(FIDELITY_KEYS)
    assert rep["popularity_ks"] == 0.0 and rep["activity_ks"] == 0.0 and rep["gap_ks"] == 0.0
    assert rep["rating_tvd"] == 0.0 and rep["popularity_gini_diff"] == 0.0
    assert rep["popularity_spearman"] == pytest.approx(1.0)
    assert rep["cooccurrence_cosine_corr"] == pytest.approx(1.0)
    assert rep["long_tail_coverage"] == 1.0
    assert rep["rating_boundary_adherence"] == 1.0 and rep["timestamp_boundary_adherence"] == 1.0


def test_report_none_without_optional_columns(tiny: tuple[InteractionData, InteractionData]) -> None:
    real, syn = tiny
    rep = fidelity_report(real.with_interactions(real.interactions.select("user", "item")), syn)
    assert list(rep) == list(FIDELITY_KEYS)
    for key in ("rating_tvd", "rating_mean_real", "rating_boundary_adherence", "gap_ks",
                "timestamp_boundary_adherence"):
        assert rep[key] is None
    assert rep["activity_ks"] == pytest.approx(1 / 3)


def test_errors(tiny: tuple[InteractionData, InteractionData]) -> None:
    real, _ = tiny
    other = InteractionData.from_frame(pl.DataFrame({"user": ["x"], "item": ["zz"]}), name="other")
    with pytest.raises(DataValidationError, match="item catalogues differ"):
        fidelity_report(real, other)
    for bad in (1, 2.5, True):
        with pytest.raises(ConfigError, match="top_items"):
            cooccurrence_fidelity(real, real, top_items=bad)  # type: ignore[arg-type]


def test_empty_synthetic_gives_nan_not_crash(tiny: tuple[InteractionData, InteractionData]) -> None:
    real, syn = tiny
    empty = syn.with_interactions(syn.interactions.clear())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no stray warnings either
        rep = fidelity_report(real, empty, top_items=4)
    assert math.isnan(rep["activity_ks"]) and math.isnan(rep["rating_tvd"])  # type: ignore[arg-type]
    assert rep["catalogue_coverage_synthetic"] == 0.0 and rep["long_tail_coverage"] == 0.0
    assert math.isnan(rep["cooccurrence_cosine_corr"])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- planted / real


def planted(n_users: int = 120, n_items: int = 40, per_user: int = 8, seed: int = 0) -> InteractionData:
    """Two taste groups: even users pick items 0..n/2-1, odd users the other half."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    keys = rng.random((n_users, half))
    picks = np.argsort(keys, axis=1)[:, :per_user] + (np.arange(n_users) % 2)[:, None] * half
    users = np.repeat(np.arange(n_users), per_user)
    return InteractionData.from_frame(
        pl.DataFrame({"user": users, "item": [f"i{j}" for j in picks.ravel()]}),
        item_vocabulary=pl.Series("item", [f"i{j}" for j in range(n_items)]), name="planted")


def independent_items(real: InteractionData, *, weighted: bool, seed: int) -> InteractionData:
    """Each real user's activity kept, items drawn independently of each other (no co-occurrence).

    ``weighted``: without replacement in proportion to real item degree (Gumbel-top-k); else uniform.
    """
    rng = np.random.default_rng(seed)
    x = real.to_csr()
    act = np.asarray(x.sum(axis=1)).ravel().astype(np.int64)
    deg = np.asarray(x.sum(axis=0)).ravel()
    logp = np.log(deg + 1e-12) if weighted else np.zeros(real.n_items)
    keys = logp[None, :] + rng.gumbel(size=(real.n_users, real.n_items))
    order = np.argsort(-keys, axis=1)
    take = np.arange(real.n_items)[None, :] < act[:, None]
    users = np.nonzero(take)[0].astype(np.int32)
    items = order[take].astype(np.int32)
    return real.with_interactions(pl.DataFrame({"user": users, "item": items}), name="independent")


def test_planted_generator_beats_independent_items() -> None:
    real = planted()
    gen = LatentFactorGenerator(n_factors=2, calibration_users=300, seed=0).fit(real)
    syn = gen.sample(real.n_users, seed=1)
    good = cooccurrence_fidelity(real, syn)
    bad = cooccurrence_fidelity(real, independent_items(real, weighted=False, seed=2))
    assert good["cooccurrence_cosine_corr"] > 0.6, good
    assert bad["cooccurrence_cosine_corr"] < good["cooccurrence_cosine_corr"] - 0.4, (good, bad)


def test_ml100k_latent_factor_fidelity(shared_data: Path) -> None:
    frame = pl.read_csv(shared_data / "ml-100k" / "u.data", separator="\t", has_header=False,
                        new_columns=["user", "item", "rating", "ts"])
    real = InteractionData.from_frame(frame, rating_col="rating", time_col="ts", name="ml-100k")
    syn = LatentFactorGenerator(n_factors=32, seed=0).fit(real).sample(real.n_users, seed=0)
    rep = fidelity_report(real, syn)
    # measured (seed 0): Gini diff 0.008, cosine corr 0.935, PMI corr 0.896, rating TVD 0.010
    assert abs(rep["popularity_gini_diff"]) < 0.03, rep  # type: ignore[arg-type]
    assert rep["cooccurrence_cosine_corr"] > 0.8, rep  # type: ignore[operator]
    assert rep["cooccurrence_pmi_corr"] > 0.7, rep  # type: ignore[operator]
    assert rep["rating_tvd"] < 0.05 and rep["activity_ks"] < 0.1, rep  # type: ignore[operator]
    # items independent of each other, even with the real popularity, fail the co-occurrence checks
    # (measured: cosine corr 0.47, PMI corr 0.10)
    ind = fidelity_report(real, independent_items(real, weighted=True, seed=0))
    assert ind["cooccurrence_cosine_corr"] < 0.65, ind  # type: ignore[operator]
    assert ind["cooccurrence_pmi_corr"] < 0.3, ind  # type: ignore[operator]
    assert fid.FIDELITY_KEYS == tuple(rep)


def test_session_length_hand_values(tiny: tuple[InteractionData, InteractionData]) -> None:
    real, syn = tiny
    # real sessions: (u0, 1) 2 events, (u1, 1) 1, (u1, 2) 1, (u2, 7) 4 -> lengths [2, 1, 1, 4], mean 2
    real = real.with_interactions(real.interactions.with_columns(
        pl.Series("session", [1, 1, 1, 2, 7, 7, 7, 7], dtype=pl.Int64)))
    # synthetic: (s0, 1) 1, (s0, 2) 1, (s1, 1) 2 -> lengths [1, 1, 2], mean 4/3
    syn = syn.with_interactions(syn.interactions.with_columns(pl.Series("session", [1, 2, 1, 1], dtype=pl.Int64)))
    out = fid.session_fidelity(real, syn)
    assert out is not None
    # CDFs: real at 1 -> 2/4, at 2 -> 3/4; synthetic at 1 -> 2/3, at 2 -> 1: sup |diff| = 1/4
    assert out["session_length_ks"] == pytest.approx(0.25)
    assert out["session_length_mean_real"] == pytest.approx(2.0)
    assert out["session_length_mean_synthetic"] == pytest.approx(4 / 3)
    assert fidelity_report(real, syn)["session_length_ks"] == pytest.approx(0.25)
    # no session column in one log: not applicable, and the report keeps the key with None
    assert fid.session_fidelity(tiny[0], syn) is None
    assert fidelity_report(tiny[0], syn)["session_length_ks"] is None
