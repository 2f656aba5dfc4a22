"""The engine the extracts and the cohort run on: embedded DuckDB (default) or Spark.

Config (``engine:`` in a site config; a bare name is enough)::

    engine: duckdb                      # default: DuckDB, on disk in the work folder if any
    engine:
      name: duckdb
      memory_limit: 4GB                 # DuckDB spills to temp_directory beyond this
      temp_directory: /scratch/leadeval
      threads: 2
      database: work/extracts.duckdb    # keep the loaded extracts (default: removed at exit)
    engine:
      name: spark
      master: local[2]                  # or remote: sc://host:15002 (Spark Connect,
                                        # pip install 'leadeval[spark-connect]')
      conf: {spark.sql.shuffle.partitions: 8}

Validation and quarantine are SQL written once for DuckDB (:mod:`leadeval.extracts.validation`).
With ``duckdb`` they run in the on-disk database with ``memory_limit`` and spilling; with
``spark``, CSV, Parquet and Spark-catalog extracts are read and validated in Spark itself (the
same SQL transpiled by sqlglot, :mod:`leadeval.extracts.spark_loading`), the others (or all, with
``staged: true``) in a DuckDB staging database and handed to Spark as Parquet. The cohort
derivation (Ibis expressions, :mod:`leadeval.cohort`) runs on the engine, the same code on both.
Only the quarantined rows, the quality counts and the person and person-month tables come out as
pandas. docs/scale.md has cluster set-ups.

>>> from leadeval.engine import EngineConfig, connect
>>> backend = connect(EngineConfig(memory_limit="1GB"))
>>> backend.name
'duckdb'
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import ibis
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Spark settings for a single machine: few shuffle partitions (the default 200 makes every
#: small aggregation slow), no web UI, dates and timestamps read and written as written.
SPARK_DEFAULTS = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
}


class EngineConfig(BaseModel):
    """Where the extracts are loaded and the cohort is derived (see the module doc)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Literal["duckdb", "spark"] = "duckdb"
    memory_limit: str | None = Field(
        None, description="DuckDB memory_limit, e.g. '4GB'; beyond it DuckDB spills to disk"
    )
    temp_directory: Path | None = Field(None, description="where DuckDB spills (default: work)")
    threads: int | None = Field(None, ge=1, description="DuckDB threads (default: all cores)")
    database: Path | None = Field(
        None, description="DuckDB file of the loaded extracts (default: removed at exit)"
    )
    master: str | None = Field(
        None, description="Spark master, e.g. local[4] (default: spark-submit's, else local[*])"
    )
    remote: str | None = Field(None, description="Spark Connect URL, e.g. sc://host:15002")
    conf: dict[str, str] = Field(default_factory=dict, description="Spark settings")
    staged: bool = Field(
        False,
        description="spark: validate every extract in a DuckDB staging database and hand the "
        "tables to Spark as Parquet (default: CSV, Parquet and Spark tables are validated in Spark)",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    def resolved(self, base: Path) -> EngineConfig:
        """The config with its relative paths resolved against ``base`` (the config's folder)."""
        paths = {k: (base / v).resolve() for k in ("database", "temp_directory")
                 if (v := getattr(self, k)) is not None}  # fmt: skip
        return self.model_copy(update=paths)


@functools.cache
def _process_work_folder() -> Path:
    """One private temporary folder per process, removed at exit (not one per load: a test run
    or a notebook loads many times)."""
    path = Path(tempfile.mkdtemp(prefix="leadeval-work-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _work_folder(work_dir: str | os.PathLike[str] | None) -> Path:
    """A private folder (mode 0700: it holds identifiable rows) for the engine's files; the
    process's temporary one without ``work_dir``."""
    if work_dir is None:
        return _process_work_folder()
    path = Path(work_dir)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


_SIZE = re.compile(r"([0-9.]+)\s*([KMGTP]?i?B)")
_UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
          "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}  # fmt: skip


def database_file(con) -> str | None:
    """Path of the database file a DuckDB connection works in (None in memory)."""
    sql = "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    return con.execute(sql).fetchall()[0][0]


def memory_limit_bytes(con) -> float | None:
    """A DuckDB connection's ``memory_limit`` in bytes (None if it cannot be read).

    >>> import duckdb
    >>> memory_limit_bytes(duckdb.connect(config={"memory_limit": "1GB"}))
    1000000000.0
    """
    size = _SIZE.fullmatch(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    return float(size[1]) * _UNITS[size[2]] if size is not None else None


def duckdb_backend(
    engine: EngineConfig | None = None, work_dir: str | os.PathLike[str] | None = None
) -> ibis.BaseBackend:
    """An Ibis DuckDB backend with the engine's memory settings: on disk (``engine.database``,
    else ``<work_dir>/extracts.duckdb``, made fresh), or in memory without either, spilling
    beyond ``memory_limit`` to ``temp_directory`` (default: a private temporary folder)."""
    engine = engine if engine is not None else EngineConfig()
    database = engine.database
    if database is None and work_dir is not None:
        database = _work_folder(work_dir) / "extracts.duckdb"
        for stale in (database, Path(f"{database}.wal")):  # a fresh database for each load
            stale.unlink(missing_ok=True)
    spill = engine.temp_directory
    if spill is None:
        spill = (Path(database).parent if database is not None else _work_folder(None)) / "spill"
    settings: dict[str, Any] = {"temp_directory": str(spill)}
    if engine.memory_limit is not None:
        settings["memory_limit"] = engine.memory_limit
    if engine.threads is not None:
        settings["threads"] = engine.threads
    return ibis.duckdb.connect(str(database) if database is not None else ":memory:", **settings)


def spark_session(engine: EngineConfig):
    """The Spark session of the engine: Spark Connect with ``remote``, else ``master``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        from leadeval.errors import ConfigError

        raise ConfigError(
            "engine: spark needs pyspark, which is not installed; run "
            "`pip install 'leadeval[spark]'` (and Java 17), or set engine: duckdb"
        ) from None
    builder = SparkSession.builder
    if engine.remote and engine.remote.startswith("sc://"):
        # Spark Connect's own builder: a client of a server, even beside a classic session
        try:
            from pyspark.sql.connect.session import SparkSession as RemoteSession
        except ImportError:
            from leadeval.errors import ConfigError

            raise ConfigError(
                "engine.remote: Spark Connect needs its client, which is not installed; run "
                "`pip install 'leadeval[spark-connect]'`, or set engine.master instead"
            ) from None
        builder = RemoteSession.builder
    builder = builder.appName("leadeval")
    if engine.remote:  # sc://host:port, or local[n]: a Spark Connect server in a local JVM
        builder = builder.remote(engine.remote)
    elif engine.master:
        builder = builder.master(engine.master)
    for key, value in {**SPARK_DEFAULTS, **engine.conf}.items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        # Spark Connect sets every setting again once connected, and warns for the static ones
        # (spark.ui.enabled...): a local server (remote: local[2]) started with them already,
        # a cluster's server keeps its own
        warnings.filterwarnings("ignore", message=".*CANNOT_MODIFY_CONFIG")
        return builder.getOrCreate()


def connect(
    engine: EngineConfig | None = None, work_dir: str | os.PathLike[str] | None = None
) -> ibis.BaseBackend:
    """The Ibis backend of ``engine`` (DuckDB by default), its files under ``work_dir``."""
    engine = engine if engine is not None else EngineConfig()
    if engine.name == "spark":
        return ibis.pyspark.connect(spark_session(engine))
    return duckdb_backend(engine, work_dir)
