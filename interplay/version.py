"""The package version (its own module, so that subpackages can read it without importing the API)."""

VERSION = "0.1.0"
