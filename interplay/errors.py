"""The one base of every error that a wrong input causes (a name, a parameter, a file, a value): the command
line reports these as a message with exit status 2, never as a traceback. Torch-free."""


class UsageError(Exception):
    """A wrong input: an unknown name, parameter or value, a missing file, a pair no plugin can run."""
