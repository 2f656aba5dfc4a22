"""Up-front checks of a site config against the cohort it built, before any model runs.

Every column a config names in ``matching``, ``models`` and ``costs`` must be a column of the
cohort (persons, or the person-month panel for ``panel_outcomes``), and the cost windows must be
windows of the design. All mistakes are collected and raised at once as a
:class:`~leadeval.errors.ConfigError`, each with a "did you mean" from the cohort's own columns.
A name the cohort would have built from an extract the site lacks is not a mistake: that
analysis is skipped later, with its reason.

>>> import difflib
>>> difflib.get_close_matches("arrest_post_128d", ["arrest_post_182d", "arrests_post_182d"], 1)
['arrest_post_182d']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from leadeval.config import SiteConfig
from leadeval.errors import ConfigError

__all__ = ["check_config_names"]

_WINDOW = re.compile(r"^(?P<measure>[a-z_]+?)_(?P<period>pre|post)_(?P<window>\d+d|all)$")


def _suggest(name: str, columns: Iterable[str]) -> str:
    near = difflib.get_close_matches(name, sorted(columns), n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""


def _from_missing_extract(name: str, cfg: SiteConfig, columns: set[str], missing: bool) -> bool:
    """True when ``name`` is a well-formed window column for a configured window whose measure
    the cohort did not build (its extract is missing): skipped later, not a typo."""
    if not missing:
        return False
    m = _WINDOW.match(name)
    if not m:
        return False
    windows = cfg.design.pre_windows if m["period"] == "pre" else cfg.design.post_windows
    ok_window = m["window"] == "all" or int(m["window"][:-1]) in windows
    built = any(c.startswith(m["measure"] + "_" + m["period"] + "_") for c in columns)
    return ok_window and not built


def check_config_names(cfg: SiteConfig, persons_columns: Iterable[str],
                       panel_columns: Iterable[str], missing_extracts: bool = False) -> None:
    """Raise one ConfigError listing every config name the cohort does not have.

    Parameters
    ----------
    cfg : SiteConfig
    persons_columns, panel_columns : iterable of str
        The cohort's person-level and person-month columns.
    missing_extracts : bool
        Whether the cohort left out outcome families (extracts the site lacks).
    """
    persons, panel = set(persons_columns), set(panel_columns)
    problems: list[str] = []

    def need(section: str, names: Iterable[str | None], columns: set[str]) -> None:
        for name in names:
            if not name or name in columns:
                continue
            if _from_missing_extract(name, cfg, columns, missing_extracts):
                continue
            problems.append(
                f"{section}: {name!r} is not a column of the cohort{_suggest(name, columns)}"
            )

    m, mc, c = cfg.matching, cfg.models, cfg.costs
    if cfg.design.comparison:
        need("matching.covariates", m.covariates, persons)
        need("matching.categorical", m.categorical, persons)
        need("matching.exact", m.exact or [], persons)
        need("models.covariates", mc.covariates, persons)
        need("models.binary_outcomes", mc.binary_outcomes, persons)
        for s in mc.survival:
            need("models.survival", [s.duration, s.event], persons)
        for s in mc.counts:
            need("models.counts", [s.outcome, s.exposure], persons)
        for s in mc.prepost_gee:
            need("models.prepost_gee", [s.pre, s.post], persons)
        for s in mc.count_did:
            need("models.count_did", [s.pre, s.post, s.pre_exposure, s.post_exposure], persons)
    need("models.panel_outcomes", mc.panel_outcomes, panel)
    if c.unit_costs and cfg.design.comparison:
        if c.pre_window not in cfg.design.pre_windows:
            problems.append(
                f"costs.pre_window: {c.pre_window} is not one of design.pre_windows "
                f"{cfg.design.pre_windows}; add it there or pick one of them"
            )
        if c.post_window != "all" and c.post_window not in cfg.design.post_windows:
            problems.append(
                f"costs.post_window: {c.post_window} is not one of design.post_windows "
                f"{cfg.design.post_windows} (or 'all'); add it there or pick one of them"
            )
    if c.unit_costs and cfg.design.comparison and not any("costs." in p for p in problems):
        for name, uc in c.unit_costs.items():
            for period, window in (("pre", c.pre_window), ("post", c.post_window)):
                col = f"{uc.measure}_{period}_all" if window == "all" else (
                    f"{uc.measure}_{period}_{int(window)}d"
                )
                if col in persons or _from_missing_extract(col, cfg, persons, missing_extracts):
                    continue
                measures = sorted(
                    {m["measure"] for x in persons if (m := _WINDOW.match(x))}
                )
                problems.append(
                    f"costs.unit_costs.{name}: measure {uc.measure!r} has no cohort column "
                    f"{col!r}{_suggest(uc.measure, measures)}"
                )
                break
    if problems:
        where = f" ({cfg.config_path.name})" if cfg.config_path else ""
        raise ConfigError(
            f"{len(problems)} name(s) in the config{where} do not match the cohort, so their "
            "analyses would silently be missing:\n  - " + "\n  - ".join(problems)
        )
