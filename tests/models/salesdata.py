"""The rows of the ``sales`` table the model tests load into both warehouses, and the oracle they check against."""

from __future__ import annotations

import datetime as dt

CITIES = ("Madrid", "Málaga", "Nice", "Monaco", "Paris")
COLUMNS = ("id", "city", "amount", "qty", "ts", "tz", "lon", "lat")


def make_rows() -> list[tuple]:
    rows = []
    for i in range(1, 201):
        ts = dt.datetime(2024, 1, 1) + dt.timedelta(hours=29 * i)
        rows.append(
            (
                i,
                CITIES[i % 5] if i % 13 else None,
                (i * 37) % 101 + 0.5,
                None if i % 11 == 0 else i % 7,
                ts,
                ts.replace(tzinfo=dt.UTC),
                round(7.0 + i * 0.01, 6),
                round(43.0 + i * 0.005, 6),
            )
        )
    return rows


ROWS = make_rows()
RECORDS = [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]
