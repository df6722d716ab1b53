r"""Rating predictors in Spark: the global mean and the bias baseline as aggregates, and ALS.

Global mean: :math:`\hat r_{ui} = \mu`, the mean train rating. Bias baseline
(:class:`cfutils.rating.BiasBaseline`, Koren 2010, section 2.1): :math:`\hat r_{ui} = \mu + b_u + b_i`,
``n_epochs`` alternations of :math:`b_i = \sum_{u \in U_i} (r_{ui} - \mu - b_u) / (\lambda_i + |U_i|)`
then :math:`b_u = \sum_{i \in I_u} (r_{ui} - \mu - b_i) / (\lambda_u + |I_u|)`, from zero; an unknown
user or movie has bias 0. Each half-epoch is one join and one group-by on the executors.

Explicit ALS minimises :math:`\sum_{(u,i)} (r_{ui} - p_u^T q_i)^2 + \lambda \sum_u n_u
\lVert p_u\rVert^2 + \lambda \sum_i n_i \lVert q_i\rVert^2` (``regParam`` = :math:`\lambda`).
Implicit ALS (Hu, Koren and Volinsky 2008) fits preferences :math:`p_{ui} = [r_{ui} > 0]` with
confidences :math:`c_{ui} = 1 + \alpha r_{ui}` over *all* user-item cells. Neither has biases or
knows an unseen user or movie: with ``coldStartStrategy="nan"`` their prediction is NaN, and
:func:`predict_ratings` replaces it with the train mean instead of dropping the row (dropping
would score only the warm rows). Every prediction is clipped into the rating scale.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from cfutils.distributed.read import ROW
from cfutils.eval import grid_edge


def train_summary(train: DataFrame) -> dict:
    """``mean`` (:math:`\\mu`) and ``scale``: ``(0.5, top)`` if any half star occurs, else ``(1, top)``,
    ``top`` the highest rating but at least 5 (:func:`cfutils.rating.rating_scale`); one aggregate."""
    rating = F.col("rating").cast("double")
    row = train.agg(
        F.avg(rating).alias("mean"), F.max(rating).alias("top"), F.max((rating != F.round(rating)).cast("int"))
    ).first()
    return {"mean": float(row["mean"]), "scale": (0.5 if row[2] else 1.0, max(5.0, float(row["top"])))}


def clip(prediction: Column, scale: tuple[float, float]) -> Column:
    """``prediction`` clipped into ``scale`` = (low, high)."""
    return F.least(F.greatest(prediction, F.lit(scale[0])), F.lit(scale[1]))


def bias_baseline(
    train: DataFrame, mean: float, n_epochs: int = 10, reg_u: float = 15.0, reg_i: float = 10.0
) -> tuple[DataFrame, DataFrame]:
    """``(user_biases, movie_biases)``: frames ``user_id, b_u`` and ``movie_id, b_i`` (see the module
    docstring). Each epoch's biases are checkpointed locally, so the plan does not grow with epochs."""
    ratings = train.select("user_id", "movie_id", (F.col("rating").cast("double") - F.lit(mean)).alias("r"))
    ratings = ratings.persist()
    b_u = None
    for _ in range(n_epochs):
        residual = ratings if b_u is None else ratings.join(b_u, "user_id", "left").fillna(0.0, ["b_u"])
        residual = residual.withColumn("e", F.col("r") - (F.col("b_u") if b_u is not None else F.lit(0.0)))
        b_i = residual.groupBy("movie_id").agg((F.sum("e") / (F.lit(reg_i) + F.count(F.lit(1)))).alias("b_i"))
        b_i = b_i.localCheckpoint()
        residual = ratings.join(b_i, "movie_id").withColumn("e", F.col("r") - F.col("b_i"))
        b_u = residual.groupBy("user_id").agg((F.sum("e") / (F.lit(reg_u) + F.count(F.lit(1)))).alias("b_u"))
        b_u = b_u.localCheckpoint()
    ratings.unpersist()
    return b_u, b_i


def predict_baseline(
    pairs: DataFrame, mean: float, biases: tuple[DataFrame, DataFrame], scale: tuple[float, float]
) -> DataFrame:
    """``pairs`` with ``prediction`` = :math:`\\mu + b_u + b_i` clipped into ``scale`` (0 for an unknown bias)."""
    b_u, b_i = biases
    joined = pairs.join(b_u, "user_id", "left").join(b_i, "movie_id", "left").fillna(0.0, ["b_u", "b_i"])
    return joined.withColumn("prediction", clip(F.lit(mean) + F.col("b_u") + F.col("b_i"), scale)).drop("b_u", "b_i")


def predict_mean(pairs: DataFrame, mean: float) -> DataFrame:
    """``pairs`` with ``prediction`` = :math:`\\mu`."""
    return pairs.withColumn("prediction", F.lit(float(mean)))


def fit_als(
    train: DataFrame,
    rank: int = 10,
    regParam: float = 0.1,
    maxIter: int = 10,
    implicit: bool = False,
    alpha: float = 1.0,
    seed: int = 0,
    blocks: int | None = None,
) -> ALSModel:
    """:class:`pyspark.ml.recommendation.ALS` on ``train`` (see the module docstring for the loss).

    ``implicit`` fits confidences :math:`1 + \\alpha r_{ui}` instead of the ratings. ``blocks``
    sets ``numUserBlocks`` and ``numItemBlocks`` (Spark's default 10): the factors are
    exchanged between blocks once per half-iteration, so it is the unit of parallelism.
    """
    options = {"numUserBlocks": blocks, "numItemBlocks": blocks} if blocks else {}
    als = ALS(
        userCol="user_id",
        itemCol="movie_id",
        ratingCol="rating",
        rank=rank,
        regParam=regParam,
        maxIter=maxIter,
        implicitPrefs=implicit,
        alpha=alpha,
        seed=seed,
        coldStartStrategy="nan",
        **options,
    )
    return als.fit(train)


def predict_ratings(model: ALSModel, pairs: DataFrame, train_mean: float, scale: tuple[float, float]) -> DataFrame:
    """``pairs`` with ``prediction`` = :math:`p_u^T q_i` clipped into ``scale``; the train mean where
    the user or the movie is unknown to the model (ALS's NaN)."""
    raw = F.when(F.isnan("prediction"), F.lit(train_mean)).otherwise(F.col("prediction"))
    return model.transform(pairs).withColumn("prediction", clip(raw, scale).cast("double"))


def predict_in_row_order(
    model: ALSModel, pairs: DataFrame, train_mean: float, scale: tuple[float, float]
) -> np.ndarray:
    """:func:`predict_ratings` of ``pairs`` collected in ``row`` order (small data, notebook 07): aligned
    with ``to_pandas(pairs)``, so it scores against the same rows as a single-machine model."""
    predictions = predict_ratings(model, pairs, train_mean, scale).select(ROW, "prediction").orderBy(ROW)
    return predictions.toPandas()["prediction"].to_numpy()


def grid_search(
    fit: Callable[..., ALSModel],
    score: Callable[[ALSModel], float],
    grid: Mapping[str, Sequence],
    higher_is_better: bool = False,
    extend: Sequence[str] = (),
    factor: float = 3.0,
    max_extensions: int = 2,
) -> tuple[pd.DataFrame, dict]:
    """Every combination of ``grid`` (a dict of lists): ``score(fit(**params))``; then, for each setting
    named in ``extend`` (a positive value on a log scale, such as ``regParam`` or ``alpha``) whose best
    value is an end of the values tried, the value beyond it (``best / factor`` or ``best * factor``)
    with the other settings at their best, at most ``max_extensions`` times per setting, as
    :func:`cfutils.eval.search_grid` does on one machine.

    Returns the table (one row per fit, column ``score``) and the best parameters; ties go to the
    first fit.
    """
    rows: list[dict] = []

    def evaluate(params: dict) -> None:
        rows.append({**params, "score": score(fit(**params))})

    def best() -> dict:
        scores = np.array([row["score"] for row in rows])
        return {
            k: v
            for k, v in rows[int(np.argmax(scores) if higher_is_better else np.argmin(scores))].items()
            if k != "score"
        }

    for values in itertools.product(*grid.values()):
        evaluate(dict(zip(grid, values)))
    for name in extend:
        for _ in range(max_extensions):
            chosen = best()
            edge = grid_edge([row[name] for row in rows], chosen[name])
            if edge is None:
                break
            beyond = chosen[name] / factor if edge == "lowest" else chosen[name] * factor
            evaluate({**chosen, name: float(f"{beyond:.6g}")})
    return pd.DataFrame(rows), best()
