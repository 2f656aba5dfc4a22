"""Property: malformed extracts never crash the loader.

Reference: the issue's acceptance rule: fed random strings, dates, missing values and duplicate
ids in CSV cells (and, in the second test, random bytes spliced into the CSV text: stray
delimiters, quotes, line breaks, invalid UTF-8), ``load_extracts`` either raises ``ExtractError``
or loads with every bad row quarantined, ``read == loaded + quarantined``, and the loaded tables
satisfy the contract. 1,200 + 800 = 2,000 examples (slow-marked: about two minutes).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from extracts_helpers import DATA_END, assert_reconciled, load, load_frames, site_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadeval.errors import ExtractError, LeadevalError
from leadeval.extracts import REASONS

_ALPHABET = st.characters(
    min_codepoint=32, max_codepoint=0x2FF, exclude_categories=("Cs",)
) | st.sampled_from([",", ";", '"', "'", "\n", "\t", "|", "€", "日"])
junk = st.text(_ALPHABET, max_size=12)
odd_dates = st.sampled_from(
    [
        "2015-02-29",
        "2015-13-01",
        "03/04/2015",
        "2015-3-4",
        "0000-00-00",
        "2015-03-04 10:11:12",
        "2015-03-04T10:11",
        "  2015-03-04 ",
        "NaN",
        "1900-01-01",
        "2030-01-01",
        "1969-12-31",
        "70-10-03",
        "2014-3",
        "10/03/70",
    ]
)
bad_cells = {
    "person_id": st.sampled_from(["P1", "p1", " P1", "P9", ""]) | junk | st.none(),
    "group": st.sampled_from(["LEAD", "Pool", "control"]) | junk | st.none(),
    "referral_date": odd_dates | junk | st.none(),
    "birth_date": odd_dates | junk | st.none(),
    "birth_year": st.sampled_from(["1e3", "-5", "99999999999", "0x1F", "inf", "1980.5", "1990.0"])
    | junk
    | st.none(),
    "death_date": odd_dates | junk | st.sampled_from(["2014-01-01", "2016-12-31"]),
    "arrest_id": st.sampled_from(["A1", "A2", ""]) | junk | st.none(),
    "arrest_date": odd_dates | junk | st.none(),
    "severity": st.sampled_from(["FEL", "Felony"]) | junk,
    "warrant": st.sampled_from(["Y", "0", "maybe"]) | junk,
}
day = st.dates(dt.date(2010, 1, 1), dt.date(2016, 6, 30)).map(str)


@st.composite
def corrupt(draw, frame: pd.DataFrame) -> pd.DataFrame:
    """Break a few cells, append exact copies of some rows, and now and then drop a column."""
    frame = frame.copy()
    n = len(frame)
    if n:
        cells = draw(
            st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(list(frame))), max_size=4)
        )
        for row, col in cells:
            frame.loc[row, col] = draw(bad_cells[col])
        if draw(st.booleans()):
            frame = pd.concat([frame, frame.iloc[: draw(st.integers(1, n))]], ignore_index=True)
    if draw(st.integers(0, 9)) == 0:  # now and then a structural problem
        frame = frame.drop(columns=draw(st.sampled_from(list(frame.columns))))
    return frame


@st.composite
def roster_frames(draw):
    n = draw(st.integers(0, 6))
    frame = pd.DataFrame(
        {
            "person_id": [f"P{i + 1}" for i in range(n)],
            "group": draw(st.lists(st.sampled_from(["lead", "pool"]), min_size=n, max_size=n)),
            "referral_date": draw(st.lists(day, min_size=n, max_size=n)),
            "birth_date": draw(
                st.lists(
                    st.dates(dt.date(1940, 1, 1), dt.date(1999, 12, 31)).map(str) | st.none(),
                    min_size=n,
                    max_size=n,
                )
            ),
            "birth_year": ["1970"] * n,
            "death_date": [None] * n,
        },
        dtype=object,
    )
    return draw(corrupt(frame))


@st.composite
def arrest_frames(draw):
    n = draw(st.integers(0, 8))
    frame = pd.DataFrame(
        {
            "arrest_id": [f"A{i + 1}" for i in range(n)],
            "person_id": draw(
                st.lists(st.sampled_from(["P1", "P2", "P3", "P4"]), min_size=n, max_size=n)
            ),
            "arrest_date": draw(st.lists(day, min_size=n, max_size=n)),
            "severity": draw(
                st.lists(st.sampled_from(["felony", "misdemeanor", None]), min_size=n, max_size=n)
            ),
            "warrant": draw(
                st.lists(st.sampled_from(["true", "false", None]), min_size=n, max_size=n)
            ),
        },
        dtype=object,
    )
    return draw(corrupt(frame))


def _check_loaded(ex) -> None:
    """The contract holds on whatever loaded."""
    assert_reconciled(ex)
    for name in ("roster", "arrests"):
        assert set(ex.quarantined[name]["reason"]) <= set(REASONS)
    r = ex.to_pandas("roster")
    a = ex.to_pandas("arrests")
    assert r["person_id"].is_unique and r["person_id"].notna().all()
    assert set(r["group"]) <= {"lead", "pool"}
    assert r["referral_date"].notna().all()
    assert (r["birth_date"].isna() | (r["birth_date"] <= r["referral_date"])).all()
    assert (r["birth_date"].dropna().dt.year >= 100).all()  # no two-digit year became 00xx
    assert a["arrest_id"].is_unique and a["arrest_date"].notna().all()
    assert set(a["person_id"]) <= set(r["person_id"])
    assert (a["arrest_date"] <= pd.Timestamp(DATA_END)).all()
    assert set(a["severity"].dropna()) <= {"felony", "misdemeanor", "gross_misdemeanor"}
    births = r.set_index("person_id")["birth_date"]
    born = a["person_id"].map(births)
    assert (born.isna() | (a["arrest_date"] >= born)).all()
    died = a["person_id"].map(r.set_index("person_id")["death_date"])
    assert (died.isna() | (a["arrest_date"] <= died)).all()


_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@pytest.mark.slow
@settings(max_examples=1200, **_SETTINGS)
@given(roster=roster_frames(), arrests=arrest_frames())
def test_malformed_extracts_give_extract_error_or_quarantine(tmp_path_factory, roster, arrests):
    tmp = tmp_path_factory.mktemp("prop")
    try:
        ex = load_frames(tmp, {"roster": roster, "arrests": arrests})
    except ExtractError:
        return
    _check_loaded(ex)


_SPLICE = st.sampled_from(
    [b",", b";", b'"', b"\n", b"\r\n", b'""', b"\xe9", b"\xff\xfe", b"\t", b"=1+1", b" ", b""]
) | st.binary(max_size=6)


@pytest.mark.slow
@settings(max_examples=800, **_SETTINGS)
@given(
    roster=roster_frames(),
    arrests=arrest_frames(),
    cuts=st.lists(st.tuples(st.booleans(), st.floats(0, 1), _SPLICE), min_size=1, max_size=4),
)
def test_corrupted_csv_bytes_never_crash(tmp_path_factory, roster, arrests, cuts):
    """Bytes spliced into the written CSVs (either file, anywhere, header included)."""
    tmp = tmp_path_factory.mktemp("bytes")
    config = site_config(tmp, {"roster": roster, "arrests": arrests})
    for in_roster, where, piece in cuts:
        path = tmp / ("roster.csv" if in_roster else "arrests.csv")
        data = path.read_bytes()
        at = int(where * len(data))
        path.write_bytes(data[:at] + piece + data[at:])
    try:
        ex = load(tmp, config)
    except LeadevalError:
        return
    _check_loaded(ex)
