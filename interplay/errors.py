"""The one base of every error that a wrong input causes (a name, a parameter, a file, a value): the command
line reports these as a message with exit status 2, never as a traceback. Torch-free."""


class UsageError(Exception):
    """A wrong input: an unknown name, parameter or value, a missing file, a pair no plugin can run."""


class ArgumentError(UsageError, TypeError):
    """An argument of the public API of the wrong type (:func:`interplay.arguments.checked`)."""


class ArgumentValueError(UsageError, ValueError):
    """An argument of the right type with a value outside what the function takes (a count, a method's name)."""
