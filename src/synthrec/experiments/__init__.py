"""Strategies, the pipeline behind `synthrec run`, findings and results records."""

from synthrec.experiments.arms import Arm, plan_arms
from synthrec.experiments.pipeline import RunResult, run_experiment

__all__ = ["Arm", "RunResult", "plan_arms", "run_experiment"]
