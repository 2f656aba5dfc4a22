"""engine: spark: the cohort of each shipped sample derived on Spark (pyspark, local mode) is the
DuckDB one, table for table, with every extract read and validated in Spark itself (the native
path, not ``staged``), over a classic session and over Spark Connect.

Reference: the default DuckDB engine on the same config, same files, compared byte for byte
(``assert_frame_equal``: values, dtypes, row order) on the quality, person, panel and flow tables
of configs/seattle.yaml, santa_fe.yaml and longmont.yaml. The local Spark sessions are
tests/conftest.py's ``spark`` and ``spark_connect`` (one JVM); needs Java 17.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

import leadeval as le
from leadeval.engine import EngineConfig
from leadeval.extracts import spark_loading
from leadeval.synth.writer import write_synthetic_site

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]
ROOT = Path(__file__).resolve().parents[1]


def assert_spark_cohort_is_duckdb(config: Path, backend, tmp_path: Path) -> None:
    cfg = le.load_config(config)
    assert all(spark_loading.native(src) for src in cfg.extracts.values())  # no DuckDB staging
    duck_extracts = le.load_extracts(cfg)
    duck = le.build_cohort(duck_extracts, cfg)
    spark_cfg = cfg.model_copy(update={"engine": EngineConfig(name="spark")})
    extracts = le.load_extracts(spark_cfg, backend=backend, work_dir=tmp_path)
    assert extracts.backend.name == "pyspark"
    assert not list(tmp_path.rglob("*.parquet"))  # nothing was handed over from DuckDB
    spark = le.build_cohort(extracts, spark_cfg)
    pd.testing.assert_frame_equal(extracts.quality, duck_extracts.quality)
    for table in ("persons", "panel", "flow"):
        pd.testing.assert_frame_equal(getattr(spark, table), getattr(duck, table), obj=table)


@pytest.mark.parametrize("site", ["seattle", "santa_fe", "longmont"])
def test_spark_cohort_is_the_duckdb_cohort(site, spark, tmp_path):
    assert_spark_cohort_is_duckdb(ROOT / "configs" / f"{site}.yaml", spark, tmp_path)


def test_spark_connect_cohort_is_the_duckdb_cohort(spark_connect, tmp_path):
    """The same native path over Spark Connect (a local server): only the DataFrame API that
    Connect has (no SparkContext, no JVM access), on a smaller site of the Seattle sample's kind
    (agency layout: column maps and text dates; 200 participants, 400 pool members, the shipped
    Seattle config), since the classic session above checks the three shipped samples."""
    data = tmp_path / "site"
    write_synthetic_site(
        "seattle", data, n_participants=200, n_pool=400, layout="agency", formats=["csv"]
    )
    cfg = yaml.safe_load((ROOT / "configs" / "seattle.yaml").read_text())
    for src in cfg["extracts"].values():
        src["path"] = str(data / Path(src["path"]).name)
    config = tmp_path / "seattle_small.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert_spark_cohort_is_duckdb(config, spark_connect, tmp_path)
