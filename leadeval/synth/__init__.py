"""Synthetic LEAD sites with planted effects and known truth (docs/synthetic_data.md).

>>> from leadeval.synth import generate_site
>>> site = generate_site("longmont", n_participants=40, n_pool=100, seed=3)
>>> len(site.truth)
40
"""

from leadeval.synth.generate import SyntheticSite, generate_site, plan_site
from leadeval.synth.profiles import PROFILES, Effects, Profile, get_profile
from leadeval.synth.truth import truth_summary
from leadeval.synth.writer import write_site, write_synthetic_site

__all__ = [
    "PROFILES",
    "Effects",
    "Profile",
    "SyntheticSite",
    "generate_site",
    "get_profile",
    "plan_site",
    "truth_summary",
    "write_site",
    "write_synthetic_site",
]
