"""interplay: unintended interactions among ML defenses and risks.

The Python API (:mod:`interplay.api`) is re-exported here. Importing the package, loading the knowledge base
and predicting never import torch; the experiment functions import it when called.
"""

# The package interplay.export is imported first: importing it later (the first export call did) would rebind
# the name ``interplay.export`` from the API's function to the package.
import interplay.export  # noqa: F401
from interplay.api import (
    conflicts,
    evaluate_file,
    evaluate_loo,
    explain,
    export,
    figure,
    load_kb,
    matrix,
    measure,
    plugins,
    predict,
    predict_pair,
    report,
    reproduce,
    results,
    select_defenses,
    settings,
    status,
    sweep,
    validate,
    validate_combo,
    validate_matrix,
)
from interplay.dataset import Dataset
from interplay.errors import ArgumentError, ArgumentValueError, UsageError
from interplay.interactions.prediction import Prediction
from interplay.kb import KB, KBError, UnknownName
from interplay.results import (
    ComboValidation,
    Direction,
    Effect,
    Evaluation,
    FactorMeasurement,
    Reproduction,
    Status,
    Sweep,
    Validation,
    ValidationMatrix,
    Verdict,
)
from interplay.version import VERSION

__version__ = VERSION
__all__ = [
    "KB",
    "ArgumentError",
    "ArgumentValueError",
    "ComboValidation",
    "Dataset",
    "Direction",
    "Effect",
    "KBError",
    "Prediction",
    "Evaluation",
    "FactorMeasurement",
    "Reproduction",
    "Status",
    "Sweep",
    "UnknownName",
    "UsageError",
    "Validation",
    "ValidationMatrix",
    "Verdict",
    "conflicts",
    "evaluate_file",
    "evaluate_loo",
    "measure",
    "explain",
    "export",
    "figure",
    "load_kb",
    "matrix",
    "plugins",
    "predict",
    "predict_pair",
    "report",
    "reproduce",
    "results",
    "select_defenses",
    "settings",
    "status",
    "sweep",
    "validate",
    "validate_combo",
    "validate_matrix",
]
