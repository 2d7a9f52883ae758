"""One error type for bad user input: the CLI prints its message on one line and exits 2."""


class BrevityError(Exception):
    """Bad input that the user can fix; the message says what was wrong and how to fix it."""
