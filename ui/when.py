"""Times as a journalist reads them: "4 Dec 18:56" in this computer's time, not ISO in UTC."""

from datetime import UTC, datetime


def human_time(moment: datetime | str) -> str:
    """A moment (a datetime, or ISO text as stored) as '4 Dec 18:56', with the year when it is not this one."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment  # not a time we wrote: shown as it is
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone()
    shown = f"{local.day} {local:%b} {local:%H:%M}"
    return shown if local.year == datetime.now().astimezone().year else f"{local.day} {local:%b %Y} {local:%H:%M}"


def version_name(version: str, *, active: str | None = None) -> str:
    """A model version's id (its UTC training time) with the time in words: '20261204-185600 (4 Dec 18:56)'."""
    try:
        trained = datetime.strptime(version[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        when = ""
    else:
        when = human_time(trained)
    details = ", ".join(d for d in (when, "active" if version == active else "") if d)
    return f"{version} ({details})" if details else version
