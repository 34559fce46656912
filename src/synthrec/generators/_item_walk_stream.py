"""`ItemWalkGenerator`'s exact fit from a `synthrec.generators._pass_source.PassSource`: a log read in passes.

The walk's item–item model needs only integer statistics of all users — item counts and the Gram block
XᵀX of the modelled items (`walk_from_statistics`) — and the calibration needs the activity distribution
(the exact histogram of all users). The per-user parts (trait copula, time model, rating model) come from
the hash-chosen user sample, as in `synthrec.generators._latent_factor_stream`. Memory: the M × M Gram
block and the user sample, whatever the number of rows.

Differences from the in-memory fit (`ItemWalkGenerator._fit_exact`), by construction: the calibration draws
activities from the histogram (the same law as drawing real users' activities, another random stream),
and with more users than the sample size the per-user parts are fitted on the sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from synthrec.data.interactions import RATING
from synthrec.generators._gmm import fit_gaussian_mixture
from synthrec.generators._logs import first_pairs, user_traits
from synthrec.generators._pass_source import CALIBRATING, PassSource, stamp_fitted
from synthrec.generators._ratings import RatingModel

if TYPE_CHECKING:
    from synthrec.generators.item_walk import ItemWalkGenerator


def fit_item_walk_from_source(gen: ItemWalkGenerator, source: PassSource) -> None:
    """Fit ``gen`` from a `PassSource` — its exact model, or with ``epsilon`` finite its user-level DP model
    (`_fit_dp`); marks it fitted."""
    from synthrec.generators.item_walk import EXACT_RELATIVE_SCALE, select_modelled, walk_from_statistics

    gen._fitted = False
    s = source.summary
    if gen.is_private:
        with threadpool_limits(limits=1, user_api="blas"):
            _fit_dp(gen, source)
        stamp_fitted(gen, s)
        return
    with threadpool_limits(limits=1, user_api="blas"):
        modelled = select_modelled(s.counts, gen.max_items)
        gen.fit_report_ = {"modelled_items": len(modelled), "l2": gen.l2}
        rel = EXACT_RELATIVE_SCALE if gen.affinity_scale is None else float(gen.affinity_scale)
        gram = source.gram(modelled)
        gen.walk_ = walk_from_statistics(s.counts, modelled, gram, l2=gen.l2, relative_scale=rel,
                                         neighbours=gen.neighbours)
        gen._note_walk(rel)
        lengths = np.flatnonzero(s.activity)
        share = s.activity[lengths] / s.activity.sum()
        source.note(CALIBRATING)
        gen._calibrate(s.counts.astype(np.float64), lambda k, g: g.choice(lengths, size=k, p=share))

        frame, users, items, has_time, has_rating = first_pairs(s.sample)
        n_s = int(users.max()) + 1
        x = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n_s, len(s.counts)))
        traits, names, quantiles, time_model = user_traits(frame, users, x, has_time, has_rating)
        gen.trait_model_ = fit_gaussian_mixture(np.column_stack(traits), 1, seed=gen.seed)
        gen.trait_names_ = names
        gen.trait_quantiles_ = quantiles
        gen.time_model_ = time_model
        gen.rating_model_ = None
        if has_rating:
            scores = gen._real_logits(x, users, items)
            gen.rating_model_ = RatingModel.fit(users, frame[RATING].to_numpy(), scores, n_s)
        gen.privacy_ledger_ = None
        gen.privacy_delta_ = 0.0
        gen.fit_report_["streaming"] = {"users": s.n_users, "pairs": s.n_pairs, "rows": s.n_rows,
                                        "sample_users": n_s, "passes": 1}
    stamp_fitted(gen, s)


def _fit_dp(gen: ItemWalkGenerator, source: PassSource) -> None:
    """The DP fit of `ItemWalkGenerator._fit_dp_from`, its exact statistics from passes: the activity
    histogram and the unit-norm popularity of every user (the scan), the pair (or unit-norm) Gram block of
    the modelled items (one pass), and the time and rating releases from the user sample (a mechanism on a
    subset chosen without looking at the data keeps its guarantee; its signal is the sample's)."""
    from synthrec.generators.item_walk import WalkDPInputs

    s = source.summary
    frame, users, items, has_time, has_rating = first_pairs(s.sample)
    x = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(int(users.max()) + 1, len(s.counts)))
    source.note(CALIBRATING)  # the releases are quick; the walk-length calibration is not
    gen._fit_dp_from(WalkDPInputs(
        n_users=s.n_users, n_items=len(s.counts), users_per_degree=s.activity, unit_popularity=s.unit_popularity(),
        pair_gram=source.pair_gram, normalised_gram=lambda modelled: source.normalised(modelled)[0], frame=frame,
        users=users, items=items, has_time=has_time, has_rating=has_rating, x=x))
    gen.fit_report_["streaming"] = {"users": s.n_users, "pairs": s.n_pairs, "rows": s.n_rows,
                                    "sample_users": int(users.max()) + 1, "passes": 1}
