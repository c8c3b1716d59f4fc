"""The one exception type a user sees.

Anything a user can get wrong (a missing corpus, a damaged checkpoint, a malformed file) raises
`NameOriginError` with a message that says what to do. The CLI prints that message on one line and
exits with status 2, so a traceback always means a bug in nameorigin, never in the input.
"""


class NameOriginError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class DataError(NameOriginError):
    """The corpus could not be found, downloaded, verified or parsed."""


class CheckpointError(NameOriginError):
    """A checkpoint folder is missing, damaged or does not match this version of nameorigin."""


class Stopped(BaseException):
    """A training run stopped by a signal after saving its state; the message says how to resume.
    A BaseException, like KeyboardInterrupt, so that only the CLI's top level turns it into an
    exit status (128 + the signal's number)."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum
