"""Write leadeval's own matched/weighted Lalonde samples for the R references (make_reference.R).

R never matches here (Debian's MatchIt 4.5.1 is not trusted as a reference for pairs): it gets
leadeval's matched data and computes the effect estimates on exactly that data.

    .venv/bin/python tests/reference/effects/make_data.py && Rscript tests/reference/effects/make_reference.R
"""

from pathlib import Path

import pandas as pd

import leadeval.matching as lm

HERE = Path(__file__).parent
LALONDE = HERE.parent / "matching" / "lalonde.csv"
SPEC = {
    "covariates": ["age", "educ", "married", "nodegree", "re74", "re75"],
    "categorical": ["race"],
}
CASES = {  # name -> match() options
    "nn1": {"method": "nearest"},
    "nn2": {"method": "nearest", "ratio": 2},
    "nn1_replace": {"method": "nearest", "replace": True},
    "iptw_att": {"method": "iptw", "estimand": "ATT"},
}
COLS = ["person_id", "treated", "age", "educ", "race", "married", "nodegree", "re74", "re75",
        "re78", "weights", "subclass"]


def lalonde() -> pd.DataFrame:
    return pd.read_csv(LALONDE).drop(columns="name").rename(columns={"treat": "treated"})


def matched(name: str):
    return lm.match(lalonde(), {**SPEC, **CASES[name]}, warn=False)


def main() -> None:
    for name in CASES:
        m = matched(name)
        if name == "nn1_replace":  # one row per pair member, as MatchIt::get_matches
            from leadeval.models.effects import _expand_pairs

            out = _expand_pairs(m)[COLS]
        elif name.startswith("iptw"):
            out = m.all_units[COLS]
        else:
            out = m.data[COLS]
        out.to_csv(HERE / f"{name}_data.csv", index=False, float_format="%.10g")


if __name__ == "__main__":
    main()
