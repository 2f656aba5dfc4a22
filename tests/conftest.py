"""Shared fixtures: one local Spark per test process, for every Spark test.

``spark`` (an Ibis PySpark backend over a classic session) and ``spark_connect`` (the same over
Spark Connect) share one JVM: starting it costs more than most Spark tests, so the session is
started once and the Spark test modules are one xdist group (``--dist loadgroup`` in the
Makefile), run by one worker. With Spark Connect's client installed (``pyspark[connect]``, in
the dev extra) the classic local session also runs the Spark Connect server (its plugin, on a
free port of 127.0.0.1: not 15002, which another process may hold), and ``spark_connect`` is a
client of it through ``engine.remote: sc://127.0.0.1:<port>``, as a cluster's URL is given;
without the client, ``spark_connect`` skips. Needs Java 17 (``.ci/run`` installs it); without
Java or pyspark every Spark test skips.
"""

from __future__ import annotations

import shutil
import socket
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Tiny data: one partition, no adaptive re-planning, no code generation (~15% faster here).
SPARK_CONF = {
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
}
#: The test JVM's own flags (the classic session's; set before it starts): the client JIT only and
#: the serial collector. The tests' queries are many and small, so the JVM's CPU goes to compiling
#: and collecting, not to the data: the longmont cohort took 76-84 JVM CPU s against 150-151.
JVM_CONF = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}


#: The number of tests in each xdist group, counted over the whole collection (before ``-k`` or
#: ``-m`` deselect any): tests/test_xdist_groups.py checks the Spark group is handed out first.
GROUP_SIZES = pytest.StashKey[Counter]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    config.stash[GROUP_SIZES] = Counter(
        (mark.args[0] if mark.args else mark.kwargs.get("name", "default"), item.path.name)
        for item in items
        if (mark := item.get_closest_marker("xdist_group")) is not None
    )


class ShippedReports(dict):
    """``reports[site]``: the report of configs/<site>.yaml (``write_report``), written on first
    use into one temporary folder and kept for the test process."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def __missing__(self, site: str):
        from leadeval.report.writer import write_report

        self[site] = write_report(ROOT / "configs" / f"{site}.yaml", self.folder / site)
        return self[site]


@pytest.fixture(scope="session")
def shipped_reports(tmp_path_factory) -> ShippedReports:
    """The shipped sites' reports, shared by every test that only reads them (test_report_e2e,
    test_notebooks): those tests are ``xdist_group("reports")``, so one worker writes them."""
    return ShippedReports(tmp_path_factory.mktemp("reports"))


def _has_connect_client() -> bool:
    try:
        import google.rpc  # noqa: F401
        import grpc  # noqa: F401
    except ImportError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def _spark_sessions():
    """(classic session, Spark Connect session or None), on one local JVM."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17 (openjdk-17-jre-headless)")
    from leadeval.engine import EngineConfig, spark_session

    conf, port = SPARK_CONF | JVM_CONF, None
    if _has_connect_client():  # the classic session also serves Spark Connect, on a free port
        port = _free_port()
        conf |= {
            "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(port),
        }
    classic = spark_session(EngineConfig(name="spark", master="local[2]", conf=conf))
    classic.sparkContext.setLogLevel("ERROR")
    connect = None
    if port is not None:  # engine.remote as a user gives it: the server's URL
        remote = EngineConfig(name="spark", remote=f"sc://127.0.0.1:{port}", conf=SPARK_CONF)
        connect = spark_session(remote)
    yield classic, connect
    if connect is not None:
        connect.stop()
    classic.stop()


@pytest.fixture(scope="session")
def spark(_spark_sessions):
    """An Ibis PySpark backend over the shared classic local session."""
    import ibis

    return ibis.pyspark.connect(_spark_sessions[0])


@pytest.fixture(scope="session")
def spark_connect(_spark_sessions):
    """An Ibis PySpark backend over Spark Connect (a local server, same JVM as ``spark``)."""
    import ibis

    if _spark_sessions[1] is None:
        pytest.skip("Spark Connect's client is not installed: pip install 'pyspark[connect]'")
    return ibis.pyspark.connect(_spark_sessions[1])
