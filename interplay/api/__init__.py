"""The Python API: the one layer the command line and notebooks share.

Plain functions over explicit inputs, returning typed results (:mod:`interplay.results`) whose ``to_dict()``
is the command line's ``--json`` document. Names resolve through the KB everywhere (slugs, SoK codes,
aliases). The API joins a prediction and a measurement into a verdict (:mod:`interplay.verdicts`): the
validators measure and never see the reasoner. Wrong inputs raise :class:`~interplay.errors.UsageError`
subclasses; a malformed KB raises :class:`~interplay.kb.KBError`. Importing this module, loading the KB and
predicting never import torch; the experiment functions import the validators when called.

By topic: :mod:`.reasoning` (predictions and evaluations), :mod:`.runs` (arguments to settings, data, seeds and
executors), :mod:`.validation` (a cell, the matrix, a pair), :mod:`.studies` (sweeps, measurements, reproductions,
stored results) and :mod:`.exports` (status, exports, figures, the report); :mod:`._common` holds what they share.
"""

from interplay.api._common import (
    ExecutorLike,
    KBLike,
    ModelLike,
    Params,
    Progress,
    StoreLike,
    load_kb,
    read_validations,
    select_defenses,
)
from interplay.api.exports import export, figure, report, status
from interplay.api.reasoning import (
    agreement,
    combo_agreement,
    combo_matrix,
    conflicts,
    evaluate_file,
    evaluate_loo,
    explain,
    matrix,
    matrix_document,
    predict,
    predict_pair,
)
from interplay.api.runs import settings
from interplay.api.studies import measure, plugins, reproduce, results, sweep
from interplay.api.validation import validate, validate_combo, validate_matrix

__all__ = [
    "ExecutorLike", "KBLike", "ModelLike", "Params", "Progress", "StoreLike",
    "agreement", "combo_agreement", "combo_matrix", "conflicts", "evaluate_file", "evaluate_loo", "explain",
    "export", "figure", "load_kb", "matrix", "matrix_document", "measure", "plugins", "predict", "predict_pair",
    "read_validations", "report", "reproduce", "results", "select_defenses", "settings", "status", "sweep",
    "validate", "validate_combo", "validate_matrix",
]  # fmt: skip
