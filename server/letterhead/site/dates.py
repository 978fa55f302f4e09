"""Dates as Jekyll reads them (`Time.parse(...).localtime`), in the site's `timezone:`."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from typing import Any

__all__ = ["SiteClock", "calendar_date", "parse_jekyll_date"]

_UTC = datetime.UTC

# What Ruby's Time.parse accepts in practice for front matter: ISO-like dates with an optional
# time and zone. Anything else Jekyll may or may not understand; we report it instead of guessing.
_DATE_TIME = re.compile(
    r"""\s*(?P<year>\d{4})[-/](?P<month>\d{1,2})[-/](?P<day>\d{1,2})
    (?:(?:[Tt]|\s+)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?P<fraction>\.\d+)?)?)?
    \s*(?P<zone>Z|z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)?\s*""",
    re.VERBOSE,
)
# The English month names, as Ruby's Date and Jekyll's permalinks write them.
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_NAMES = {name[:3].lower(): number for number, name in enumerate(MONTHS, start=1)}
# "March 1, 2014", "1 March 2014", "Mar 1 2014" (Ruby reads these too).
_NAMED_MONTH = re.compile(
    r"\s*(?:(?P<day1>\d{1,2})\s+(?P<month1>[A-Za-z]{3,9})\.?,?\s+(?P<year1>\d{4})"
    r"|(?P<month2>[A-Za-z]{3,9})\.?\s+(?P<day2>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year2>\d{4}))\s*"
)


def calendar_date(year: int, month: int, day: int) -> datetime.date | None:
    """A date the way Ruby's `Time` builds one: two-digit years are 20xx (69-99: 19xx), and a day
    past the month's end rolls over (`2014-02-30` is 2 March). None when out of range."""
    if year < 100:
        year += 1900 if year >= 69 else 2000
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1 <= year <= 9999):
        return None
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return datetime.date(year, month, 1) + datetime.timedelta(days=day - 1)


class SiteClock:
    """Converts instants to the site's wall clock: the configured `timezone`, else the local one
    (what Jekyll run on this machine would use)."""

    def __init__(self, timezone: str | None) -> None:
        self.zone: datetime.tzinfo | None = None
        self.problem: str | None = None
        if timezone:
            try:
                self.zone = zoneinfo.ZoneInfo(timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                self.problem = f"`timezone: {timezone}` is not a known IANA time zone"

    def local(self, instant: datetime.datetime) -> datetime.datetime:
        """`instant` (aware) on the site's clock."""
        if self.zone is not None:
            return instant.astimezone(self.zone)
        return instant.astimezone()

    def wall(
        self, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
    ) -> datetime.datetime:
        """A wall-clock time in the site's zone (how Ruby reads a date without an offset)."""
        naive = datetime.datetime(year, month, day, hour, minute, second)
        if self.zone is not None:
            return naive.replace(tzinfo=self.zone)
        return naive.astimezone()

    def now(self) -> datetime.datetime:
        return self.local(datetime.datetime.now(_UTC))


def parse_jekyll_date(value: Any, clock: SiteClock) -> datetime.datetime | None:
    """A front matter or file name date as Jekyll reads it, on the site clock; None if unreadable.

    - `datetime.date` (YAML `2014-03-01`): midnight on the site clock.
    - naive `datetime.datetime` (YAML `2014-03-01 10:00:00`): Psych reads a timestamp without an
      offset as UTC, so the instant is UTC and the site clock may show another day.
    - aware `datetime.datetime`: that instant.
    - strings: Ruby's `Time.parse`, where a missing offset means the site's own zone.
    """
    try:
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=_UTC)
            return clock.local(value)
        if isinstance(value, datetime.date):
            return clock.wall(value.year, value.month, value.day)
        if isinstance(value, str):
            return _parse_string(value, clock)
    except (ValueError, OverflowError):
        return None
    return None


def _parse_string(text: str, clock: SiteClock) -> datetime.datetime | None:
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        named = _NAMED_MONTH.fullmatch(text)
        if named is None:
            return None
        month_name = (named["month1"] or named["month2"])[:3].lower()
        if month_name not in _MONTH_NAMES:
            return None
        day_date = calendar_date(
            int(named["year1"] or named["year2"]),
            _MONTH_NAMES[month_name],
            int(named["day1"] or named["day2"]),
        )
        return clock.wall(day_date.year, day_date.month, day_date.day) if day_date else None
    day_date = calendar_date(int(match["year"]), int(match["month"]), int(match["day"]))
    if day_date is None:
        return None
    year, month, day = day_date.year, day_date.month, day_date.day
    hour = int(match["hour"] or 0)
    minute = int(match["minute"] or 0)
    second = int(match["second"] or 0)
    microsecond = int(float(match["fraction"]) * 1_000_000) if match["fraction"] else 0
    zone = match["zone"]
    if zone is None:
        return clock.wall(year, month, day, hour, minute, second).replace(microsecond=microsecond)
    if zone.upper() in ("Z", "UTC", "GMT"):
        offset = datetime.timedelta(0)
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        hours = int(digits[:-2]) if len(digits) > 2 else int(digits)
        minutes = int(digits[-2:]) if len(digits) > 2 else 0
        offset = sign * datetime.timedelta(hours=hours, minutes=minutes)
    instant = datetime.datetime(
        year, month, day, hour, minute, second, microsecond, tzinfo=datetime.timezone(offset)
    )
    return clock.local(instant)
