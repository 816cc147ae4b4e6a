"""The knowledge base: YAML data edited by people, a pydantic schema, a loader with integrity checks."""

from interplay.kb.errors import KBError, Problem
from interplay.kb.loader import BUILTIN_DIR, load_kb
from interplay.kb.model import KB, UnknownName

__all__ = ["BUILTIN_DIR", "KB", "KBError", "Problem", "UnknownName", "load_kb"]
