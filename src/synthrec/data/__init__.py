"""Data model, readers, loaders, validation and splits. Imports nothing else of synthrec."""

from synthrec.data.interactions import InteractionData, concat_users

__all__ = ["InteractionData", "concat_users"]
