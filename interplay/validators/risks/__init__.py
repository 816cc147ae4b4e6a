"""Risk probes, each keyed by the KB's canonical risk slug."""
