"""User-facing errors: the CLI prints their message on one line, without a traceback, and exits non-zero."""


class HarnessError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do."""


class UnknownPaperError(HarnessError):
    pass


class ConfigError(HarnessError):
    pass


class DataError(HarnessError):
    pass


class ParamsError(HarnessError):
    pass


class ResultsError(HarnessError):
    pass


class TrainingDivergedError(HarnessError):
    """NaN or inf appeared during training; raised with the step and the offending quantity."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main process like Ctrl-C so the same cleanup runs (workers ended,
    finished records kept); the CLI exits 128 + the signal's number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
