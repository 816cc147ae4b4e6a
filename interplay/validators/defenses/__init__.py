"""Defense plugins, each keyed by the KB's canonical defense slug."""
