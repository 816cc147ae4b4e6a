"""The graph built from the KB and the reasoner over it: predict, explain, evaluate."""

from interplay.interactions.graph import ContextError, build_graph
from interplay.interactions.reasoner import METHODS, Prediction, predict, predict_all

__all__ = ["METHODS", "ContextError", "Prediction", "build_graph", "predict", "predict_all"]
