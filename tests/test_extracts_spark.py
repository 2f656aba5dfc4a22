"""engine: spark validates CSV, Parquet and Spark-catalog extracts in Spark itself
(leadeval.extracts.spark_loading), with the same outcome as the DuckDB loader.

Reference: the default DuckDB loader on the same config and files, compared exactly
(``assert_frame_equal``: values, dtypes, row order) on the quality table, the quarantine reasons,
the quarantined rows (source_row, line, reason, column, detail and the source columns), the loaded
tables and the quarantine messages. The bad input is every case of tests/test_extracts_rules.py's
CASES (bad dates, numbers, bools and codes, missing values, unknown persons, intervals, before
birth, after death, after the data end, two-digit years, implausible ages), each as an extra row,
plus duplicates, a date_format, yes/no values, padded text and ragged CSV lines. The local Spark
session is tests/conftest.py's ``spark``; needs Java 17.
"""

from __future__ import annotations

import pandas as pd
import pytest
from extracts_helpers import canonical_frames, site_config
from test_extracts_rules import CASES

from leadeval.config import parse_config
from leadeval.engine import EngineConfig
from leadeval.errors import ExtractError
from leadeval.extracts import load_extracts, quarantine_messages

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]
ENGINE = EngineConfig(name="spark")  # the session is conftest's shared ``spark``
_IDS = {"roster": "person_id", "arrests": "arrest_id", "charges": "charge_id",
        "jail": "booking_id", "ems": "call_id"}  # fmt: skip


def bad_frames() -> dict[str, pd.DataFrame]:
    """The canonical extracts with every rule-breaking case of CASES appended as a row of its own
    (a fresh id where the extract has one), duplicates, padded text and other date layouts."""
    frames = canonical_frames()
    extra: dict[str, list[pd.DataFrame]] = {n: [] for n in frames}
    for k, (name, row, cells, _, _) in enumerate(CASES):
        copy = frames[name].iloc[[row]].copy()
        for col, value in cells.items():
            copy[col] = value
        if name in _IDS and _IDS[name] not in cells:
            copy[_IDS[name]] = copy[_IDS[name]] + f"_{k}"
        extra[name].append(copy)
    arrests = frames["arrests"]
    extra["arrests"] += [
        arrests.iloc[[1]].assign(arrest_date="2014-9-1"),  # an exact copy, written differently
        arrests.iloc[[2]].assign(severity="felony"),  # the same key, another version
        arrests.iloc[[0]].assign(arrest_date="not a date"),
        arrests.iloc[[3]].assign(arrest_id="A90", offense_category="  drug "),
    ]
    extra["jail"].append(
        frames["jail"].iloc[[0]].assign(booking_id="B90", booking_date="06/01/2013")
    )
    extra["contacts"].append(frames["contacts"].iloc[[0]].assign(substantive="YES"))
    return {n: pd.concat([f, *extra[n]], ignore_index=True) for n, f in frames.items()}


def _config(tmp_path, suffix: str):
    config = site_config(
        tmp_path,
        bad_frames(),
        suffix=suffix,
        max_quarantined_share=1,
        sources={
            "jail": {"date_format": "%m/%d/%Y"},
            "contacts": {"true_values": ["yes", "true"], "false_values": ["no", "false"]},
        },
    )
    if suffix == ".csv":  # ragged lines: more and fewer fields than the header
        with open(tmp_path / "jail.csv", "a") as fh:
            fh.write("B91,P1,2014-01-02,2014-01-03,extra\nB92,P1\n")
    return parse_config(config, base_dir=tmp_path)


def _ns(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps in nanoseconds: Ibis gives DuckDB's in microseconds and Spark's in
    nanoseconds (whichever path loaded them), the values are the same."""
    stamps = frame.select_dtypes("datetime").columns
    return frame.astype(dict.fromkeys(stamps, "datetime64[ns]"))


def assert_same_load(duck, spark, cfg) -> None:
    pd.testing.assert_frame_equal(spark.quality, duck.quality)
    pd.testing.assert_frame_equal(spark.quarantine_reasons, duck.quarantine_reasons)
    assert spark.quarantined.keys() == duck.quarantined.keys()
    for name, rows in duck.quarantined.items():
        pd.testing.assert_frame_equal(spark.quarantined[name], rows, obj=name)
    for name in duck.tables:
        pd.testing.assert_frame_equal(
            _ns(spark.to_pandas(name)), _ns(duck.to_pandas(name)), obj=name
        )
    assert quarantine_messages(spark, cfg) == quarantine_messages(duck, cfg)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_bad_input_is_quarantined_as_on_duckdb(spark, tmp_path, suffix):
    cfg = _config(tmp_path, suffix)
    duck = load_extracts(cfg)
    assert duck.quality["quarantined"].sum() >= len(CASES)  # the fixture does break the rules
    native = load_extracts(cfg.model_copy(update={"engine": ENGINE}), backend=spark)
    assert native.backend.name == "pyspark"
    assert_same_load(duck, native, cfg)


def test_spark_table_source(spark, tmp_path):
    """format: spark reads a table of the session's catalog; its rows are numbered in the order
    of their columns (a table has no order), so only source_row may differ from the file's."""
    cfg = _config(tmp_path, ".parquet")
    duck = load_extracts(cfg)
    spark._session.read.parquet(str(tmp_path / "arrests.parquet")).createOrReplaceTempView("arr")
    src = cfg.extracts["arrests"].model_copy(
        update={"path": None, "format": "spark", "table": "arr"}
    )
    cfg = cfg.model_copy(update={"engine": ENGINE, "extracts": {**cfg.extracts, "arrests": src}})
    native = load_extracts(cfg, backend=spark)
    pd.testing.assert_frame_equal(
        native.quality.drop(columns="source"), duck.quality.drop(columns="source")
    )
    assert native.quality.set_index("extract").loc["arrests", "source"] == "spark:arr"
    for name in duck.tables:
        pd.testing.assert_frame_equal(
            _ns(native.to_pandas(name)), _ns(duck.to_pandas(name)), obj=name
        )
    cols = ["reason", "column", "detail", "arrest_id", "arrest_date"]

    def rows(ex):
        return ex.quarantined["arrests"][cols].sort_values(cols, ignore_index=True)

    pd.testing.assert_frame_equal(rows(native), rows(duck))


def test_bad_sources_give_the_duckdb_errors(spark, tmp_path):
    """A missing required column and an invalid UTF-8 line fail with the DuckDB path's message."""
    frames = canonical_frames()
    config = site_config(tmp_path, {"roster": frames["roster"]})
    (tmp_path / "arrests.csv").write_text("arrest_id,arrest_date\nA1,2014-01-01\n")
    config["extracts"]["arrests"] = {"path": "arrests.csv"}
    (tmp_path / "jail.csv").write_bytes(
        b"booking_id,person_id,booking_date\nB1,P1,2014-01-01\nB2,P1,2014-01-0\xe9\n"
    )
    config["extracts"]["jail"] = {"path": "jail.csv"}
    for bad in ("arrests", "jail"):
        one = {**config, "extracts": {k: v for k, v in config["extracts"].items()
                                      if k in ("roster", bad)}}  # fmt: skip
        cfg = parse_config(one, base_dir=tmp_path)
        with pytest.raises(ExtractError) as duck:
            load_extracts(cfg)
        with pytest.raises(ExtractError) as native:
            load_extracts(cfg.model_copy(update={"engine": ENGINE}), backend=spark)
        assert str(native.value) == str(duck.value)
