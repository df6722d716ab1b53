"""Top-k similarity of rows of a sparse matrix, never a dense n x n.

Modules::

    kernels     numba kernels: sparse products, co-rating counts, the binary Gram matrix
    top_k       selecting the k largest per row (ties to the smaller index), exact ties for cosine
    measures    cosine, centred and adjusted cosine, Pearson; support rules and the one shrinkage function
    engine      the top-k of every row, by blocks under a memory budget; the SVD shortcut and its recall
    neighbours  lookups for people: the neighbours of one movie or user as a table, movies by title
"""

from __future__ import annotations

from cfutils.core.similarity.engine import (
    TopKPlan,
    block_rows,
    cosine_top_k,
    neighbour_recall,
    plan_top_k,
    similarity_top_k,
    svd_cosine_top_k,
)
from cfutils.core.similarity.kernels import (
    Operand,
    accumulate_count,
    accumulate_product,
    operand,
    pattern_gram,
    pattern_product,
    product,
    row_dots,
)
from cfutils.core.similarity.measures import MEASURES, shrinkage_factor, similarity_rows
from cfutils.core.similarity.neighbours import find_movies, pick_movie, similar_movies, similar_users
from cfutils.core.similarity.top_k import ExactCosine, select_exact_top_k, select_top_k

__all__ = [
    "MEASURES",
    "ExactCosine",
    "Operand",
    "TopKPlan",
    "accumulate_count",
    "accumulate_product",
    "block_rows",
    "cosine_top_k",
    "find_movies",
    "neighbour_recall",
    "operand",
    "pattern_gram",
    "pattern_product",
    "pick_movie",
    "plan_top_k",
    "product",
    "row_dots",
    "select_exact_top_k",
    "select_top_k",
    "shrinkage_factor",
    "similar_movies",
    "similar_users",
    "similarity_rows",
    "similarity_top_k",
    "svd_cosine_top_k",
]
