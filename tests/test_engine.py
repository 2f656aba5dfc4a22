"""The engine config: where the extracts are loaded (an on-disk DuckDB with a memory limit).

Reference: the DuckDB load of the shipped Seattle sample with the default engine, against the
same load under a memory limit far below the data (DuckDB must spill, the tables must not
change), and DuckDB's own settings as it reports them.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd
import pytest

import leadeval as le
from leadeval.engine import EngineConfig, connect
from leadeval.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _config(**engine):
    cfg = le.load_config(ROOT / "configs" / "seattle.yaml")
    return cfg.model_copy(update={"engine": EngineConfig.model_validate(engine)}) if engine else cfg


def test_engine_key_in_config(tmp_path):
    text = (ROOT / "configs" / "seattle.yaml").read_text()
    text = text.replace("../data_samples", str(ROOT / "data_samples"))
    path = tmp_path / "site.yaml"
    path.write_text(text + "engine: {name: duckdb, memory_limit: 1GB, database: work/x.duckdb}\n")
    cfg = le.load_config(path)
    assert cfg.engine.memory_limit == "1GB"
    assert cfg.engine.database == (tmp_path / "work" / "x.duckdb").resolve()
    path.write_text(text + "engine: spark\n")
    assert le.load_config(path).engine.name == "spark"
    path.write_text(text + "engine: postgres\n")
    with pytest.raises(ConfigError, match="engine.name"):
        le.load_config(path)


def test_on_disk_database_settings_and_private_folder(tmp_path):
    backend = connect(EngineConfig(memory_limit="300MB", threads=1), tmp_path / "work")
    settings = dict(
        backend.con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('memory_limit', 'threads', 'temp_directory')"
        ).fetchall()
    )
    assert settings["threads"] == "1"
    assert settings["memory_limit"].startswith("286")  # 300 MB in MiB as DuckDB prints it
    assert settings["temp_directory"] == str(tmp_path / "work" / "spill")
    assert (tmp_path / "work" / "extracts.duckdb").is_file()
    assert stat.S_IMODE((tmp_path / "work").stat().st_mode) == 0o700


@pytest.mark.slow
def test_spilling_load_gives_the_same_tables(tmp_path):
    """A memory limit below the data's size changes nothing but where DuckDB keeps it."""
    free = le.load_extracts(_config())
    tight = le.load_extracts(_config(memory_limit="40MB", threads=1), work_dir=tmp_path)
    pd.testing.assert_frame_equal(free.quality, tight.quality)
    for name in free.tables:
        pd.testing.assert_frame_equal(free.to_pandas(name), tight.to_pandas(name))
    tight.backend.con.execute("CHECKPOINT")
    assert (tmp_path / "extracts.duckdb").stat().st_size > 1_000_000  # the extracts are on disk
