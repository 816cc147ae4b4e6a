"""Empirical validators: small PyTorch experiments that confirm or refute a predicted interaction."""
