"""Top-N recommenders, one small class each, sharing the list machinery of :mod:`.lists`.

==========================  ==============================================================
``lists``                   ``fit`` / ``top_n`` / ``top_n_batch``, the cold-start fallback
``baselines``               most popular (as of a day), top-rated, random
``item_knn``                item-kNN on binary interactions
``ease``                    EASE and its recency-aware variant
``factors``                 ``implicit``'s ALS and BPR
``rerank``                  candidates from several generators, re-ranked by XGBRanker
``rating_blend``            rating predictors blended with popularity (the RMSE lesson)
``time_features``           time-based features as of a day (leakage-free by default)
``explain``                 "because you rated ..." explanations
``evaluation``              validation cut, tuning, candidate recall, known / new users
==========================  ==============================================================
"""
