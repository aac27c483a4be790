"""Counts as a journalist reads them: "1 frame", "2 frames", never "1 frames"."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
