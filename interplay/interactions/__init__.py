"""The graph built from the KB and the reasoner over it: predict, explain, evaluate."""
