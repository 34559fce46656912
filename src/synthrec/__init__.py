"""synthrec: synthetic data for recommender systems in data-scarce domains."""

from synthrec.data.interactions import InteractionData

__version__ = "0.1.0"
__all__ = ["InteractionData", "__version__"]
