"""The model core: bases, families, the solver, estimators and the safe artifact.

Importing this package stays light: the estimators (scikit-learn, scipy) load on first
use, so the serving path can use the artifact and predictor with numpy alone.
"""
