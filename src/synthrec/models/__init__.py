"""Recommenders: popularity, EASE, ALS and BPR (via `implicit`), genre item-kNN (`AttributeKNN`), all
scoring users by their histories.

See `synthrec.models.base` for the shared conventions (binary feedback, eligible items, cold-user
popularity fallback, deterministic ranking).
"""

from synthrec.models.als import ALS, BPR
from synthrec.models.attribute_knn import AttributeKNN
from synthrec.models.base import NO_ITEM, BaseRecommender, Recommender, cold_rows, top_k
from synthrec.models.ease import EASE
from synthrec.models.external import ExternalRecommendations, recommend_external
from synthrec.models.popularity import MostPopular
from synthrec.models.registry import MODELS, make_model

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "MODELS",
    "NO_ITEM",
    "AttributeKNN",
    "BaseRecommender",
    "ExternalRecommendations",
    "MostPopular",
    "Recommender",
    "cold_rows",
    "make_model",
    "recommend_external",
    "top_k",
]
