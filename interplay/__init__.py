"""interplay: unintended interactions among ML defenses and risks.

Importing the package, the knowledge base or the reasoner never imports torch.
"""

from interplay.kb import KB, KBError, UnknownName, load_kb

__all__ = ["KB", "KBError", "UnknownName", "load_kb"]
__version__ = "0.1.0"
