"""Calendar rules of collaboration: business days (a contest's escalation) and quarters (the pulse)."""

import datetime as dt

# Monday to Friday; public holidays differ by country and are not known here.
WEEKEND = (5, 6)


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Business days after `start` up to and including `end` (0 when `end` is not after `start`):
    a contest raised on a Monday has waited 10 business days on the Monday two weeks later."""
    if end <= start:
        return 0
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for offset in range(1, rest + 1):
        if (start + dt.timedelta(days=weeks * 7 + offset)).weekday() not in WEEKEND:
            count += 1
    return count


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The day `days` business days after `start`."""
    day = start
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() not in WEEKEND:
            days -= 1
    return day


def quarter_start(day: dt.date) -> dt.date:
    """The first day of the calendar quarter of `day`."""
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_end(day: dt.date) -> dt.date:
    start = quarter_start(day)
    following = dt.date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def previous_quarter(day: dt.date) -> dt.date:
    return quarter_start(quarter_start(day) - dt.timedelta(days=1))


def quarter_label(day: dt.date) -> str:
    """ "Q3 2026"."""
    return f"Q{(day.month - 1) // 3 + 1} {day.year}"


def quarter_key(day: dt.date) -> str:
    """ "2026-Q3", as URLs and the API name a quarter."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def parse_quarter(text: str) -> dt.date:
    """The first day of the quarter `text` names ("2026-Q3"); ValueError otherwise."""
    year, _, number = (text or "").strip().upper().partition("-Q")
    if not (year.isdigit() and len(year) == 4 and number in ("1", "2", "3", "4")):
        raise ValueError(f"Not a quarter: {text!r}; write it like 2026-Q3.")
    return dt.date(int(year), 3 * (int(number) - 1) + 1, 1)
