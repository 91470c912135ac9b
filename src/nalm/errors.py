"""The one exception type for bad user input."""


class NalmError(ValueError):
    """Bad input from a user: the message is one sentence naming the bad value.

    A subclass of ``ValueError``, so ``except ValueError`` catches it too. The command line prints
    the message alone (no traceback) and exits with status 2.
    """
