"""The parts of statsmodels leadeval uses, as one ``sm`` namespace.

``import statsmodels.api`` loads every statsmodels sub-package (time series, graphics, data
sets...): about a second of start-up for each ``leadeval report``. The names here are the same
objects, imported from their own modules.

>>> from leadeval._sm import sm
>>> sm.GLM.__module__
'statsmodels.genmod.generalized_linear_model'
"""

from __future__ import annotations

from types import SimpleNamespace

from statsmodels.genmod import cov_struct, families
from statsmodels.genmod.generalized_estimating_equations import GEE
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.regression.linear_model import OLS, WLS
from statsmodels.tools.tools import add_constant

sm = SimpleNamespace(
    GEE=GEE, GLM=GLM, OLS=OLS, WLS=WLS, add_constant=add_constant, cov_struct=cov_struct,
    families=families,
)
