"""User-facing errors: one clear message and an exit code, never a traceback."""


class UserError(Exception):
    """Bad input from the user (suite file, CLI argument, data path).

    The CLI prints ``str(err)`` and exits with ``exit_code`` (2 = unusable input).
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
