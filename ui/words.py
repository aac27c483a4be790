"""Counts as a journalist reads them: "1 frame", "2 frames", never "1 frames"."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def frame_origin(ws, video_id: int | None, timestamp_s: float | None) -> str:
    """Where a frame comes from, as the journalist knows it: "Biden.mp4 at 0:16", not "video 2 at 16.0 s"."""
    if video_id is None:
        return "imported"
    video = ws.db.execute("SELECT url, path FROM videos WHERE id = ?", (video_id,)).fetchone()
    name = (video["url"] or video["path"].replace("\\", "/").rsplit("/", 1)[-1]) if video else f"video {video_id}"
    seconds = round(timestamp_s or 0)
    return f"{name} at {seconds // 60}:{seconds % 60:02d}"
