"""engine: spark: the cohort of each shipped sample derived on Spark (pyspark, local mode) is the
DuckDB one, table for table.

Reference: the default DuckDB engine on the same config, same files, compared byte for byte
(``assert_frame_equal``: values, dtypes, row order) on the person, panel and flow tables of
configs/seattle.yaml, santa_fe.yaml and longmont.yaml. One local SparkSession serves the module
(one shuffle partition, no web UI, no code generation); needs Java 17 (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import leadeval as le
from leadeval.engine import EngineConfig

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java 17 (openjdk-17-jre-headless)", allow_module_level=True)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
ENGINE = EngineConfig(
    name="spark",
    master="local[2]",
    # tiny data: one partition, no adaptive re-planning, no code generation (~15% faster here)
    conf={
        "spark.sql.shuffle.partitions": "1",
        "spark.default.parallelism": "1",
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.codegen.wholeStage": "false",
    },
)


@pytest.fixture(scope="module")
def spark_backend():
    import ibis

    from leadeval.engine import spark_session

    session = spark_session(ENGINE)
    session.sparkContext.setLogLevel("ERROR")
    yield ibis.pyspark.connect(session)
    session.stop()


@pytest.mark.parametrize("site", ["seattle", "santa_fe", "longmont"])
def test_spark_cohort_is_the_duckdb_cohort(site, spark_backend, tmp_path):
    cfg = le.load_config(ROOT / "configs" / f"{site}.yaml")
    duck_extracts = le.load_extracts(cfg)
    duck = le.build_cohort(duck_extracts, cfg)
    spark_cfg = cfg.model_copy(update={"engine": ENGINE})
    extracts = le.load_extracts(spark_cfg, backend=spark_backend, work_dir=tmp_path)
    assert extracts.backend.name == "pyspark"
    spark = le.build_cohort(extracts, spark_cfg)
    pd.testing.assert_frame_equal(extracts.quality, duck_extracts.quality)
    for table in ("persons", "panel", "flow"):
        pd.testing.assert_frame_equal(getattr(spark, table), getattr(duck, table), obj=table)
