"""Calendar quarters as a QBR names them: 2026Q3 is July to September 2026."""

import datetime as dt
import re
from dataclasses import dataclass

from kpis import scoring

_CODE = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1–4

    @classmethod
    def parse(cls, code: str) -> "Quarter":
        """ "2026Q3" → Quarter(2026, 3); anything else raises ValueError with a message for people."""
        match = _CODE.match(code.strip()) if isinstance(code, str) else None
        if match is None or not 1950 <= int(match.group(1)) <= 2100:
            raise ValueError("Give a quarter as YYYYQn, e.g. 2026Q3 (July to September 2026).")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def last_complete(cls, today: dt.date) -> "Quarter":
        """The last quarter that has ended by `today` (the default pack)."""
        return cls.of(today).shifted(-1)

    def shifted(self, quarters: int) -> "Quarter":
        index = self.year * 4 + self.number - 1 + quarters
        return Quarter(index // 4, index % 4 + 1)

    @property
    def code(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def label(self) -> str:
        return f"Q{self.number} {self.year}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> dt.date:
        return scoring.month_end(self.last_month)

    @property
    def months(self) -> tuple[dt.date, dt.date, dt.date]:
        """The first day of each of its three months."""
        return tuple(scoring.add_months(self.first_day, offset) for offset in range(3))

    @property
    def last_month(self) -> dt.date:
        return scoring.add_months(self.first_day, 2)

    def contains(self, day: dt.date | None) -> bool:
        return day is not None and self.first_day <= day <= self.last_day

    def has_ended(self, today: dt.date) -> bool:
        return self.last_day < today

    def __str__(self) -> str:
        return self.code
