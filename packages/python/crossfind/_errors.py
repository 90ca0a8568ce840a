class CrossfindError(Exception):
    """An error to print as it is (no traceback): the user can act on its message.

    exit_code 2 is a bad command line, 1 anything else (as the native CLI)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code
