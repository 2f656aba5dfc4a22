"""The test suite's xdist groups hold: under ``--dist loadgroup`` (``make test``) a test marked
``xdist_group("spark")`` carries its group in its node id, so that the Spark tests share one
worker and one JVM. pytest 9.2 with pytest-xdist 3.8 drops every group without a word
(pytest-xdist#1386; the dev extra pins pytest below 9.2): this test fails there."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.xdist_group("spark")


def test_loadgroup_keeps_the_spark_group(request):
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only under pytest -n ... --dist loadgroup")
    assert request.node.nodeid.endswith("@spark"), (
        f"{request.node.nodeid}: --dist loadgroup lost the xdist_group mark; install the dev "
        "extra's pytest (pip install -e '.[dev]')"
    )



def test_the_spark_group_starts_at_once(request):
    """``--dist loadgroup`` hands out its groups largest first (by number of tests), one to each
    of ``make test``'s two workers, then one at a time as a worker runs dry. The Spark group is the
    suite's long pole, so it must start at once: at most one other group may be as large."""
    from conftest import GROUP_SIZES

    counts = request.config.stash[GROUP_SIZES]
    if not {"test_engine_spark.py", "test_extracts_spark.py"} <= {f for _, f in counts}:
        pytest.skip("only when the Spark test files are collected")
    sizes = Counter()
    for (group, _), n in counts.items():
        sizes[group] += n
    as_large = sorted(g for g, n in sizes.items() if g != "spark" and n >= sizes["spark"])
    assert len(as_large) <= 1, (
        f"xdist groups {as_large} are as large as the Spark group ({sizes['spark']} tests), so "
        "it would wait for a worker: merge them into one group, or into the Spark group"
    )
