"""User-facing errors: one clear line that names the file, line or key and what was expected."""


class FacesslError(Exception):
    """An error caused by the user's input or environment; the CLI prints it on one line, no traceback."""


class DataFormatError(FacesslError):
    """A benchmark or dataset file does not follow its format."""

    def __init__(self, path, message, line=None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path, self.line = str(path), line


class Terminated(Exception):
    """Training stopped on SIGTERM or Ctrl-C after saving a checkpoint at the step it had reached (the CLI exits
    with the shell's code for the signal: 143, 130)."""

    def __init__(self, message: str, exit_code: int = 143):
        super().__init__(message)
        self.exit_code = exit_code
