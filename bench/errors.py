"""User-facing errors: one clear message and an exit code, never a traceback."""


class UserError(Exception):
    """Bad input from the user (suite file, CLI argument, data path).

    The CLI prints ``str(err)`` and exits with ``exit_code`` (2 = unusable input).
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


class Unsupported(Exception):
    """This cell's device/precision/runtime combination cannot run here (a reason, not a bug).

    The worker records it as a ``skipped`` cell with this message. It lives here, not with the
    runtimes, so every backend can raise it without importing the module that dispatches to it.
    """
