"""ModelsConfig: the `models:` section of a site config."""

from __future__ import annotations

import pytest

from leadeval.config import ModelsConfig, parse_config
from leadeval.errors import ConfigError


def _cfg(models):
    return {
        "site": "x",
        "data_end_date": "2020-01-01",
        "extracts": {"roster": {"path": "r.csv"}},
        "models": models,
    }


def test_models_section_parses_and_is_frozen():
    cfg = parse_config(
        _cfg({"count_family": "poisson", "prepost_gee": [{"pre": "a", "post": "b"}]})
    )
    assert isinstance(cfg.models, ModelsConfig)
    assert cfg.models.count_family == "poisson" and cfg.models.prepost_gee[0].post == "b"
    assert cfg.models.survival[0].duration == "days_to_arrest"
    with pytest.raises(Exception, match="frozen"):
        cfg.models.conf_level = 0.9


def test_models_section_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"models\.count_family: got 'zip'"):
        parse_config(_cfg({"count_family": "zip"}))
    with pytest.raises(ConfigError, match=r"models\.rosenbaum_gammas: Rosenbaum's Gamma is >= 1"):
        parse_config(_cfg({"rosenbaum_gammas": [0.5, 2]}))
    with pytest.raises(ConfigError, match="count_did entries need pre_exposure and post_exposure"):
        parse_config(_cfg({"count_did": [{"pre": "b_pre", "post": "b_post"}]}))
    with pytest.raises(ConfigError, match=r"models\.survivl: unknown key"):
        parse_config(_cfg({"survivl": []}))
