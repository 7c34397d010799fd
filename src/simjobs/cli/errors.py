"""The command's exit codes and its one-line user error."""

from __future__ import annotations



EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130



class CliError(Exception):
    """A one-line error for the user, with the exit code to end with."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code
