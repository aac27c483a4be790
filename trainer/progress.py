"""How long work reports progress and is cancelled (the app passes these in)."""

from collections.abc import Callable

from data.errors import LookoutError

Progress = Callable[[str, int, int], None]  # (stage, done, total)
ShouldStop = Callable[[], bool]


class Cancelled(LookoutError):
    """The user cancelled; nothing was exported."""

    def __init__(self):
        super().__init__("Training was cancelled; nothing was exported.")
