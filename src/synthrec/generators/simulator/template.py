"""The commented scenario template returned by `scenario_template()` (``synthrec scenario init``)."""

TEMPLATE = """\
# synthrec scenario — a description of a domain that `synthrec` turns into synthetic users, items and
# interaction logs. Every key is optional except where marked; unknown keys are errors (typos never pass
# silently). Shares must sum to 1 (±1e-6); weights are relative. Times are UTC, timestamps epoch seconds.
#
# Model in one paragraph: a user of segment g arrives (at the window start, or later if she is a new
# user), has sessions at a personal weekly rate until she churns, and in each session makes a geometric
# number of choices. A choice picks a category from her (drifting) category affinity, is shown an
# exposure slate of `behaviour.slate_size` items of that category (popular items are exposed more), and
# picks one item by a multinomial logit over
#   utility = log affinity + quality_weight·quality − price_sensitivity·log price
#             + conformity·log popularity + novelty·freshness + log position weight + Gumbel noise.
# The chosen item then goes down the event funnel (view → click → cart → purchase, or any stages you
# list); ratings are optional. Users' true utilities are kept as ground truth (Simulator.true_utilities).

name: my-domain
description: What this scenario models, in one line.

simulation:
  start: 2024-01-01              # first day of the window (UTC)
  days: 90                       # length of the window
  # relative weight of session starts per hour of day (UTC), hour 0 first — 24 numbers
  hourly_weights: [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 1.8, 2.0, 2.0, 2.2, 2.6, 2.4, 2.0, 2.0, 2.1, 2.4, 3.0, 3.6, 3.8, 3.4, 2.5, 1.6]
  # relative weight per day of week, Monday first — 7 numbers
  weekly_weights: [1.0, 1.0, 1.0, 1.0, 1.1, 1.3, 1.4]
  choice_gap_seconds: 60         # mean gap between two choices of a session (exponential)

items:
  count: 5000                    # number of items (required unless `source` is given)
  seed: 0                        # the catalogue depends only on this seed: all samples share it
  price: {median: 25.0, sigma: 0.6}   # default log-normal price: log(price) ~ N(log median, sigma²)
  # category taxonomy: shares of the parent; leaves are written parent/child; children inherit price
  categories:
    - name: electronics
      share: 0.4
      price: {median: 120.0, sigma: 0.9}
      children:
        - {name: phones, share: 0.5}
        - {name: audio, share: 0.5, price: {median: 60.0, sigma: 0.7}}
    - {name: books, share: 0.6, price: {median: 14.0, sigma: 0.4}}
  # brands with Zipf-distributed sizes; a brand shifts the quality of its items by N(0, quality_sd²)
  brands: {count: 50, zipf_exponent: 1.0, quality_sd: 0.3}
  quality_sd: 1.0                # spread of item quality within a brand (standard units)
  # base popularity: log buzz = quality_weight·quality + sigma·N(0, 1), rescaled to mean 1
  popularity: {sigma: 1.0, quality_weight: 0.5}
  # release times: back catalogue before the window; new_share of items released during it (cold items)
  release: {back_catalogue_days: 730, new_share: 0.1}
  # To import a real catalogue instead, give `source` (count and categories are then taken from it):
  # source:
  #   path: catalogue.csv          # CSV or Parquet; relative to this file
  #   id_column: item_id
  #   category_column: category
  #   price_column: price          # optional columns; missing attributes are simulated
  #   brand_column: brand
  #   quality_column: rating_avg   # numeric, standardised
  #   release_column: released_at  # epoch seconds
  #   attributes: [title]          # extra columns copied to the items table

users:
  new_share: 0.2                 # share of users who arrive during the window (cold users)
  demographics:                  # attribute -> {value: share}; written to the users table
    age: {"18-34": 0.45, "35-54": 0.35, "55+": 0.2}
    device: {mobile: 0.6, desktop: 0.4}
  segments:                      # personas (at least one)
    - name: enthusiasts
      share: 0.3
      demographics:              # optional: this segment's own distribution of an attribute
        age: {"18-34": 0.7, "35-54": 0.25, "55+": 0.05}
      # sessions: 1 + Poisson(λ · active weeks); λ ~ Gamma(dispersion, mean/dispersion) — a negative
      # binomial count — or distribution: lognormal with sigma
      activity: {distribution: negative_binomial, sessions_per_week: 2.5, dispersion: 1.0, max_sessions: 1000}
      session_length: 6          # mean choices per session (geometric, >= 1)
      churn_per_week: 0.01       # hazard of leaving for good
      # category affinity ~ Dirichlet(concentration · m), m ∝ category share · weight (unnamed: 1);
      # small concentration = specialists. Names: a top-level category or parent/child.
      affinity: {concentration: 1.5, weights: {electronics: 2.0}}
      price_sensitivity: {mean: 0.5, sd: 0.3}   # per-user coefficient ~ N(mean, sd²)
      conformity: {mean: 1.0, sd: 0.3}          # weight of log popularity (herding)
      novelty: {mean: 0.8, sd: 0.3}             # weight of item freshness (recent releases)
      repeat: 0.1                # probability that a choice re-consumes one of her earlier items
      drift_per_30_days: 0.2     # rate at which her affinity moves towards a second Dirichlet draw
      funnel: {click: 0.45, cart: 0.15, purchase: 0.08}   # overrides behaviour.funnel rates
    - name: casual
      share: 0.7
      activity: {distribution: lognormal, sessions_per_week: 0.7, sigma: 0.9}
      session_length: 3
      churn_per_week: 0.05
      affinity: {concentration: 5.0}
      price_sensitivity: {mean: 1.5, sd: 0.4}
      conformity: {mean: 0.6, sd: 0.2}

behaviour:
  slate_size: 10                 # items exposed per organic choice
  exposure_popularity: 0.5       # exposure ∝ popularity^this (0 = uniform exposure within a category)
  position_bias: 0.5             # slate position k adds −position_bias·log(k) to utility
  quality_weight: 1.0
  freshness_days: 14             # freshness = exp(−item age / freshness_days)
  funnel:
    # cumulative: a row per stage reached; final: one row per choice labelled with the deepest stage
    # (e.g. music: stages [skip, play]). Rates are shares of all choices, so they cannot increase.
    mode: cumulative
    stages:
      - {name: view}             # the first stage is every choice
      - {name: click, rate: 0.3}
      - {name: cart, rate: 0.1}
      - {name: purchase, rate: 0.05}
  # explicit ratings on the rows of one stage: clip(round_step(mean + utility_weight·utility + noise)).
  # `mean` is the rating of a utility-0 item; chosen items usually rate higher. Remove to skip ratings.
  # Optional `thresholds`: increasing cut points on that latent scale, one fewer than the rating values
  # (ordered probit); `synthrec.generators.simulator.calibrate` sets them to match a real histogram.
  ratings: {stage: purchase, scale: [1, 5], step: 1, mean: 2.8, utility_weight: 0.45, noise_sd: 1.0}
"""
