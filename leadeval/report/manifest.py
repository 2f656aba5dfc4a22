"""The report's manifest: what made it, so anyone can check a rerun gives the same tables.

Everything in ``manifest.json`` is a function of the config, its inputs, the seed and the installed
versions, except the ``run`` block: start time, duration and the stage timings (``stages``: seconds
and peak memory per stage, ``extracts``: rows read per extract, ``peak_rss_mb``; see
:mod:`leadeval.progress`). Compare two runs' manifests without it.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from leadeval.config import SiteConfig, without_password

DEPENDENCIES = (
    "leadeval",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "lifelines",
    "matplotlib",
    "pyarrow",
    "duckdb",
    "ibis-framework",
    "sqlglot",
    "formulaic",
    "pydantic",
    "jinja2",
    # the readers of agency files and databases: how a cell or a value becomes text
    "python-calamine",
    "adbc-driver-sqlite",
    "adbc-driver-postgresql",
)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (extracts can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_versions(names: tuple[str, ...] = DEPENDENCIES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def input_fingerprints(cfg: SiteConfig) -> dict[str, dict[str, str]]:
    """SHA-256 of every extract file; database sources are named by URL (without its password)
    and table (no hash)."""
    out = {}
    for name in sorted(cfg.extracts):
        src = cfg.extracts[name]
        if src.path is not None:
            out[name] = {"file": src.path.name, "sha256": sha256_file(src.path)}
        else:
            out[name] = {"database": without_password(src.database or ""), "table": src.table or ""}
    return out


def config_hash(cfg: SiteConfig) -> str:
    """SHA-256 of the validated config (canonical JSON, so comments and key order do not matter)."""
    data = cfg.model_dump(mode="json", exclude={"config_path"})
    for src in data["extracts"].values():
        if src.get("path"):
            src["path"] = Path(
                src["path"]
            ).name  # where the checkout lives is not part of the design
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def build_manifest(
    cfg: SiteConfig,
    seed: int,
    tables: dict[str, str],
    run: dict[str, Any],
    outputs: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The manifest as a dict; ``tables`` maps table file names to their SHA-256."""
    return {
        "written_by": "leadeval",
        "site": cfg.site,
        "data_end_date": cfg.data_end_date.isoformat(),
        "seed": seed,
        "config_file": cfg.config_path.name if cfg.config_path else None,
        "config_sha256": config_hash(cfg),
        "inputs": input_fingerprints(cfg),
        "tables": dict(sorted(tables.items())),
        "outputs": dict(sorted((outputs or {}).items())),
        "versions": package_versions(),
        "python": platform.python_version(),
        "run": run,
    }


def write_manifest(manifest: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
