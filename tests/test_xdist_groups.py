"""The test suite's xdist groups hold: under ``--dist loadgroup`` (``make test``) a test marked
``xdist_group("spark")`` carries its group in its node id, so that the Spark tests share one
worker and one JVM. pytest 9.2 with pytest-xdist 3.8 drops every group without a word
(pytest-xdist#1386; the dev extra pins pytest below 9.2): this test fails there."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("spark")


def test_loadgroup_keeps_the_spark_group(request):
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only under pytest -n ... --dist loadgroup")
    assert request.node.nodeid.endswith("@spark"), (
        f"{request.node.nodeid}: --dist loadgroup lost the xdist_group mark; install the dev "
        "extra's pytest (pip install -e '.[dev]')"
    )
