"""User-level differential privacy: contribution bounds, noise mechanisms, the ε ledger, DP-SGD.

The unit of privacy is the user (add/remove one person and all her rows). A fitted generator states its
guarantee as a `PrivacyGuarantee` (its ``privacy`` property). `dp_sgd` imports torch and
opacus's engine; import it explicitly (``from synthrec.privacy.dp_sgd import make_private_training``).
"""

from synthrec.privacy.contribution import (
    ContributionBound,
    bound_user_contributions,
    bound_user_contributions_hashed,
)
from synthrec.privacy.guarantee import PrivacyGuarantee
from synthrec.privacy.ledger import (
    GaussianSpend,
    PlannedGaussian,
    PrivacyLedger,
    PureSpend,
    calibrate_noise_multipliers,
)
from synthrec.privacy.mechanisms import (
    bin_index,
    dp_histogram,
    gaussian_mechanism,
    laplace_mechanism,
    noisy_gram,
    pair_gram,
    quantiles_from_histogram,
    release_pair_gram,
)

__all__ = [
    "ContributionBound",
    "GaussianSpend",
    "PlannedGaussian",
    "PrivacyGuarantee",
    "PrivacyLedger",
    "PureSpend",
    "bin_index",
    "bound_user_contributions",
    "bound_user_contributions_hashed",
    "calibrate_noise_multipliers",
    "dp_histogram",
    "gaussian_mechanism",
    "laplace_mechanism",
    "noisy_gram",
    "pair_gram",
    "quantiles_from_histogram",
    "release_pair_gram",
]
