"""cfutils: collaborative filtering on the Netflix Prize data, in layers.

Each layer package imports only the layers above it in this list, and talks to them through the
public names its ``__init__`` exports (``tests/test_architecture.py`` checks both)::

    core         sparse matrices, train data, memory budgets, parallel work, progress, similarity
    data         readers and writers (io), the generated sample (synth), data sets, splits
    eval         metrics (RMSE, ranking, intervals) and statistics (sparsity, cold start)
    rating       the tutorial's features, rating models, stacking, tuning
    lists        top-N recommenders with a public ``scores``
    present      titles and explanations, records, the report, the pipeline, explorers, plots
    distributed  the same analysis on Spark (needs ``make spark``)

``python -m cfutils`` runs the pipeline (``cfutils.present.pipeline``).

The contract names of the first release (``cfutils.io``, ``cfutils.split``, ``cfutils.similarity``,
``cfutils.features``, ``cfutils.dataset``, ``cfutils.metrics``, ``cfutils.record``) stay importable:
a finder maps each to its module in the layers, loaded on first use. Nothing else is aliased.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.2.0"

CONTRACT_NAMES = {
    "cfutils.io": "cfutils.data.io",
    "cfutils.split": "cfutils.data.split",
    "cfutils.dataset": "cfutils.data.dataset",
    "cfutils.similarity": "cfutils.core.similarity",
    "cfutils.features": "cfutils.rating.features",
    "cfutils.metrics": "cfutils.eval.metrics",
    "cfutils.record": "cfutils.present.record",
}


class ContractNameFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``cfutils.io`` as the module ``cfutils.data.io`` itself (the same object, not a copy):
    ``exec_module`` puts the real module in ``sys.modules`` under the old name, which the import
    system then returns."""

    def find_spec(self, fullname, path=None, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname in CONTRACT_NAMES else None

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        sys.modules[module.__name__] = importlib.import_module(CONTRACT_NAMES[module.__name__])


if not any(isinstance(finder, ContractNameFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, ContractNameFinder())
