"""Shared fixtures: the ``leadeval report`` runs that several tests only read (``cli_reports``,
``shipped_reports``, ``longmont_run``, ``santa_fe_without_ems``: one run each per test process,
its readers in one xdist group), and one local Spark per test process, for every Spark test.

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

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class CliRun:
    """One in-process ``leadeval report`` run: its CliRunner result (exit code, console output),
    its output folder, and the ``ReportPaths`` (with the evaluation) that write_report returned."""

    result: object
    out: Path
    paths: object | None


class CliReports(dict):
    """``runs.run(config, *options)``: ``leadeval report <config> --out <folder> <options>`` run
    once (typer's CliRunner, as a user runs it) on first use and kept for the test process, so
    the tests that only read one run's console output and files share it. Nobody may write into
    a run's folder: a test that changes it works on a copy."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def run(self, config, *options) -> CliRun:
        key = (str(config), *map(str, options))
        if key not in self:
            self[key] = self._invoke(*key)
        return self[key]

    def _invoke(self, config: str, *options: str) -> CliRun:
        from typer.testing import CliRunner

        import leadeval.report.writer as writer
        from leadeval.cli import app

        out = self.folder / f"{Path(config).stem}-{len(self)}"
        returned = []
        real = writer.write_report

        def keep(*args, **kwargs):  # the CLI imports write_report when it runs: patched here
            returned.append(real(*args, **kwargs))
            return returned[-1]

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(writer, "write_report", keep)
            result = CliRunner().invoke(app, ["report", config, "--out", str(out), *options])
        return CliRun(result, out, returned[-1] if returned else None)


@pytest.fixture(scope="session")
def cli_reports(tmp_path_factory) -> CliReports:
    """Shared ``leadeval report`` runs (see :class:`CliReports`); the tests sharing one are in one
    xdist group, so one worker makes the run."""
    return CliReports(tmp_path_factory.mktemp("cli_reports"))


class ShippedReports(dict):
    """``reports[site]``: the ``ReportPaths`` of ``leadeval report configs/<site>.yaml`` (no
    options), run on first use (:class:`CliReports`) and kept for the test process;
    ``reports.console(site)`` is that run's console output."""

    def __init__(self, runs: CliReports):
        super().__init__()
        self.runs = runs

    def _run(self, site: str) -> CliRun:
        run = self.runs.run(ROOT / "configs" / f"{site}.yaml")
        assert run.result.exit_code == 0, run.result.output
        return run

    def console(self, site: str) -> str:
        return self._run(site).result.output

    def __missing__(self, site: str):
        self[site] = self._run(site).paths
        return self[site]


@pytest.fixture(scope="session")
def shipped_reports(cli_reports) -> ShippedReports:
    """The shipped sites' reports, shared by every test that only reads them (test_report_e2e,
    test_notebooks, test_report_cli's console and second-report tests): those tests are
    ``xdist_group("reports")``, so one worker writes them."""
    return ShippedReports(cli_reports)


def _pdf_renders() -> bool:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):  # not installed, or no Pango
        return False
    return True


@pytest.fixture(scope="session")
def longmont_run(cli_reports) -> CliRun:
    """``leadeval report configs/longmont.yaml --restricted --quiet``, with ``--format html,pdf``
    where WeasyPrint imports: the one run read by test_progress (the manifest's run block) and by
    test_report_e2e's restricted-output and PDF tests, all ``xdist_group("longmont_run")``."""
    pdf = ["--format", "html,pdf"] if _pdf_renders() else []
    return cli_reports.run(ROOT / "configs" / "longmont.yaml", "--restricted", "--quiet", *pdf)


@pytest.fixture(scope="session")
def santa_fe_without_ems(cli_reports, tmp_path_factory) -> CliRun:
    """``leadeval report`` on configs/santa_fe.yaml without its EMS extract (and the EMS
    covariate, else a MatchingError): read by test_report_cli's console test and test_report_e2e's
    skipped-analyses test, both ``xdist_group("santa_fe_without_ems")``."""
    import yaml

    data = yaml.safe_load((ROOT / "configs" / "santa_fe.yaml").read_text())
    for src in data["extracts"].values():
        src["path"] = str((ROOT / "configs" / src["path"]).resolve())
    del data["extracts"]["ems"]
    data["matching"]["covariates"].remove("ems_calls_pre_365d")
    data["matching"]["log1p"].remove("ems_calls_pre_365d")
    config = tmp_path_factory.mktemp("santa_fe_without_ems") / "santa_fe.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return cli_reports.run(config)


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
