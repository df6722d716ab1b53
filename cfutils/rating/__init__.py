"""Rating prediction: the tutorial's 13 features, rating models (one class each, formula in the docstring),
tuning and stacking. Imports core, data, eval.

Modules::

    surprise_batch  Surprise's models fed and read in batches
    features        the tutorial's 13 similarity features, exact and leak-free
    models          global mean, bias baseline, KNNBaseline, SVD, SVD++, XGBoost on features
    bayes_fm        a Bayesian factorization machine (myfm, Gibbs sampling) with implicit and date blocks
    tuning          grid search on a validation cut
    stacking        out-of-fold base predictions and the stacked XGBoost
"""

from __future__ import annotations

from cfutils.rating.bayes_fm import BayesFM, fm_formula
from cfutils.rating.features import feature_names, neighbour_ratings, similarity_features
from cfutils.rating.models import (
    PAIR_COLUMNS,
    SVD,
    BiasBaseline,
    FeatureXGB,
    GlobalMean,
    KNNBaseline,
    Stopwatch,
    SurpriseModel,
    SVDpp,
    activity_bucket,
    co_rating_counts,
    fit_each,
    fit_timed,
    is_cold,
    stopwatch,
    unfitted_copy,
)
from cfutils.rating.stacking import (
    StackedXGB,
    base_predictions,
    fit_copies,
    fold_cuts,
    fold_ids,
    fold_rules,
    folds_for,
    out_of_fold,
    refit_and_predict,
    refit_stack_inputs,
    stack_inputs,
    support_counts,
)
from cfutils.rating.surprise_batch import (
    inner_ids,
    predict_pairs,
    rating_scale,
    raw_ids,
    surprise_bytes_per_rating,
    to_trainset,
)
from cfutils.rating.tuning import Tuning, tune, tune_each, validation_rmse

__all__ = [
    "BayesFM",
    "BiasBaseline",
    "FeatureXGB",
    "GlobalMean",
    "KNNBaseline",
    "PAIR_COLUMNS",
    "SVD",
    "SVDpp",
    "StackedXGB",
    "Stopwatch",
    "SurpriseModel",
    "Tuning",
    "activity_bucket",
    "co_rating_counts",
    "base_predictions",
    "feature_names",
    "fit_copies",
    "fm_formula",
    "fit_each",
    "fit_timed",
    "fold_cuts",
    "fold_ids",
    "fold_rules",
    "folds_for",
    "inner_ids",
    "is_cold",
    "neighbour_ratings",
    "out_of_fold",
    "predict_pairs",
    "rating_scale",
    "raw_ids",
    "refit_and_predict",
    "refit_stack_inputs",
    "similarity_features",
    "stack_inputs",
    "stopwatch",
    "support_counts",
    "surprise_bytes_per_rating",
    "to_trainset",
    "tune",
    "tune_each",
    "unfitted_copy",
    "validation_rmse",
]
