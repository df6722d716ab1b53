"""Top-k cosine neighbours: the tutorial's loop, sklearn, sparse_dot_topn and cfutils, on the same data.

Part 1 (``compare``), on a Netflix-like matrix at ``--compare-fraction`` of the users:

* tutorial: ``cosine_similarity(X[i], X)`` + ``argsort`` per row, timed on ``--tutorial-rows`` rows
  and extrapolated to all rows;
* sklearn: ``cosine_similarity(X, dense_output=False)`` for all pairs, then the top k of each row;
* sparse_dot_topn (if installed): ``sp_matmul_topn`` on row-normalised X, top k+1, self dropped;
* cfutils before its kernel: the same blocks and exact selection, each block a scipy sparse
  product ``X[B] @ X.T`` densified;
* cfutils: ``cosine_top_k`` (blocks accumulated by its numba kernel).

Each runs in its own process; "working peak" is its peak RSS above the RSS after loading the
matrix. Every top-k is checked against cfutils' (same neighbours, or differences only among
values equal within 1e-6), and the ratios are printed.

Part 2 (``scale``), on a Netflix-like matrix (17,770 movies, ``--fraction`` of 480,189 users and
100M ratings, see ``similarity_data.py``): movie-movie top-k for all movies (cfutils and cfutils
before its kernel, agreement checked; sparse_dot_topn ran out of memory there); user-user exact top-k at
``--user-fraction`` (cfutils and cfutils before its kernel; extrapolated with its growth law,
cost ~ fraction**2) and the truncated-SVD approximation with its recall@k against exact.

Part 3 (``binary``), on the same Netflix-like matrix at ``--fraction``, every rating set to 1 (the
who-watched-what pattern of item-kNN and of the re-ranker's candidates): movie-movie top-k by
``cosine_top_k``, which counts shared users (``kernels.pattern_product``), against the same blocks
and exact selection accumulated by the valued kernel (``kernels.product`` of the normalised 1s, the
path binary input took before); agreement checked.

Usage: ``python benchmarks/bench_similarity.py [--compare-fraction 0.01] [--fraction 0.1]
[--user-fraction 0.05] [--k 50] [--skip-compare] [--skip-scale] [--skip-binary]``. Measured on a shared 2-core
machine: figures vary with the other load.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from similarity_data import degree_summary, netflix_like_matrix  # noqa: E402

from cfutils.core.memory import GiB, current_rss_bytes, format_bytes, peak_rss_bytes  # noqa: E402
from cfutils.core.similarity.engine import neighbour_recall  # noqa: E402

# --- the approaches, each run in a fresh process by `isolated` -----------------------------------


def tutorial_top_k(X: sp.csr_matrix, k: int, rows: np.ndarray) -> sp.csr_matrix:
    """The tutorial: one ``cosine_similarity(row, whole matrix)`` and a full argsort per row."""
    from sklearn.metrics.pairwise import cosine_similarity

    out = []
    for i in rows:
        sims = cosine_similarity(X[i], X).ravel()
        sims[i] = 0
        order = np.argsort(-sims, kind="stable")[:k]  # stable: ties to the smaller index
        out.append(order[sims[order] > 0])
    return rows, out


def sklearn_top_k(X: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """All pairs with sklearn as a sparse matrix (the case study's movie-movie), then each row's top k."""
    from sklearn.metrics.pairwise import cosine_similarity

    full = cosine_similarity(X, dense_output=False).tocsr()
    out = []
    for i in range(X.shape[0]):
        cols, vals = full.indices[full.indptr[i] : full.indptr[i + 1]], full.data[full.indptr[i] : full.indptr[i + 1]]
        keep = (cols != i) & (vals > 0)
        cols, vals = cols[keep], vals[keep]
        out.append(cols[np.lexsort((cols, -vals))[:k]])
    return np.arange(X.shape[0]), out


def sdt_top_k(X: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """sparse_dot_topn: multithreaded sparse product keeping the top k+1 (self included), self dropped."""
    from sklearn.preprocessing import normalize
    from sparse_dot_topn import sp_matmul_topn

    Y = normalize(X).astype(np.float32)
    full = sp_matmul_topn(Y, Y.T.tocsr(), top_n=k + 1, threshold=0, sort=True, n_threads=2)
    out = []
    for i in range(X.shape[0]):
        cols = full.indices[full.indptr[i] : full.indptr[i + 1]]
        out.append(cols[cols != i][:k])
    return np.arange(X.shape[0]), out


def ours_top_k(X: sp.csr_matrix, k: int, budget_bytes: float = 2 * GiB, dtype=np.float32) -> sp.csr_matrix:
    from cfutils.core.similarity.engine import cosine_top_k

    return cosine_top_k(X, k, budget_bytes=budget_bytes, n_threads=2, dtype=dtype)


def top_k_by_blocks(X: sp.csr_matrix, k: int, budget_bytes: float, dtype, top_k_of_block) -> sp.csr_matrix:
    """``cosine_top_k``'s row blocks (its plan for ``dtype``) on two threads, each block's
    ``(counts, columns, values)`` from ``top_k_of_block(rows)``, assembled into the n x n CSR."""
    from concurrent.futures import ThreadPoolExecutor

    from cfutils.core.similarity.engine import plan_top_k

    n = X.shape[0]
    size = plan_top_k(X, k, budget_bytes=budget_bytes, n_threads=2, dtype=dtype).block_rows
    blocks = [np.arange(start, min(start + size, n)) for start in range(0, n, size)]
    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(top_k_of_block, blocks))
    indptr = np.concatenate([[0], np.cumsum(np.concatenate([p[0] for p in parts]))])
    return sp.csr_matrix(
        (np.concatenate([p[2] for p in parts]), np.concatenate([p[1] for p in parts]), indptr), shape=(n, n)
    )


def scipy_blocks_top_k(X: sp.csr_matrix, k: int, budget_bytes: float = 2 * GiB) -> sp.csr_matrix:
    """cfutils before its kernel: ``cosine_top_k``'s blocks and selection, each block ``(X[B] @ X.T).toarray()``."""
    from sklearn.preprocessing import normalize

    from cfutils.core.similarity.top_k import select_top_k

    Y = normalize(X).astype(np.float32)
    Y_t = Y.T.tocsr()
    return top_k_by_blocks(
        X, k, budget_bytes, np.float32, lambda rows: select_top_k(np.minimum((Y[rows] @ Y_t).toarray(), 1), rows, k)
    )


def valued_kernel_top_k(X: sp.csr_matrix, k: int, budget_bytes: float = 2 * GiB) -> sp.csr_matrix:
    """Binary X the way it went before the counting kernel: rows scaled to unit norm, each block
    ``kernels.product`` (a value read and multiplied per term), the same exact selection."""
    from sklearn.preprocessing import normalize

    from cfutils.core.similarity.kernels import operand, product
    from cfutils.core.similarity.top_k import ExactCosine, select_exact_top_k

    Y = normalize(X.astype(np.float64))
    counts = np.diff(Y.indptr)
    exact = ExactCosine(operand(X.astype(np.float64)), counts.astype(np.float64), 2 * (counts + 8) * 2.0**-53)
    Y_t, Y = operand(Y.T.tocsr()), operand(Y)
    return top_k_by_blocks(
        X, k, budget_bytes, np.float64, lambda rows: select_exact_top_k(product(Y, Y_t, rows), rows, k, exact)
    )


def svd_top_k(X: sp.csr_matrix, k: int, n_components: int) -> sp.csr_matrix:
    from cfutils.core.similarity.engine import svd_cosine_top_k

    return svd_cosine_top_k(X, k, n_components=n_components, n_threads=2, budget_bytes=4 * GiB)


def _lists_to_csr(n: int, rows: np.ndarray, neighbour_lists: list, X: sp.csr_matrix) -> sp.csr_matrix:
    """CSR of neighbour lists, with exact float64 cosines as values (for comparing with any method)."""
    order = np.argsort(rows)
    rows, neighbour_lists = np.asarray(rows)[order], [neighbour_lists[i] for i in order]
    counts = np.zeros(n, np.int64)
    counts[rows] = [len(c) for c in neighbour_lists]
    cols = np.concatenate(neighbour_lists).astype(np.int32) if neighbour_lists else np.zeros(0, np.int32)
    row_of = np.repeat(np.asarray(rows), [len(c) for c in neighbour_lists])
    return sp.csr_matrix((exact_cosines(X, row_of, cols), cols, np.concatenate([[0], np.cumsum(counts)])), shape=(n, n))


def exact_cosines(X: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """float64 cosine of each pair (rows[p], cols[p])."""
    from sklearn.preprocessing import normalize

    Y = normalize(X.astype(np.float64))
    return np.asarray(Y[rows].multiply(Y[cols]).sum(axis=1)).ravel()


def _task(name: str, path: str, kwargs: dict):
    X = sp.load_npz(path).tocsr()
    if kwargs.pop("transpose", False):
        X = X.T.tocsr()
    baseline = current_rss_bytes()
    start = time.perf_counter()
    result = globals()[name](X, **kwargs)
    seconds = time.perf_counter() - start
    peak = max(peak_rss_bytes() - baseline, 0)
    if isinstance(result, tuple):  # neighbour lists of the naive approaches, to a CSR after the clock stops
        result = _lists_to_csr(X.shape[0], *result, X)
    return seconds, peak, result


def isolated(name: str, path: Path, **kwargs):
    """Run approach ``name`` on the matrix at ``path`` in a fresh process: (seconds, working peak, result)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_task, name, str(path), kwargs).result()


# --- checks and reports ----------------------------------------------------------------------------


def agreement(reference: sp.csr_matrix, other: sp.csr_matrix, rows: np.ndarray, X: sp.csr_matrix) -> str:
    """Rows with identical neighbour lists; the rest must differ only among (near-)equal values."""
    identical, near_ties = 0, 0
    for i in rows:
        a = reference.indices[reference.indptr[i] : reference.indptr[i + 1]]
        b = other.indices[other.indptr[i] : other.indptr[i + 1]]
        if np.array_equal(np.sort(a), np.sort(b)):
            identical += 1
            continue
        va = np.sort(exact_cosines(X, np.full(a.size, i), a))
        vb = np.sort(exact_cosines(X, np.full(b.size, i), b))
        near_ties += int(va.size == vb.size and np.allclose(va, vb, atol=1e-6))
    bad = len(rows) - identical - near_ties
    return f"{identical}/{len(rows)} rows identical, {near_ties} differ only among tied values" + (
        "" if bad == 0 else f", {bad} DISAGREE"
    )


def line(name: str, seconds: float, peak: float, base_seconds: float, base_peak: float, note: str = "") -> None:
    print(
        f"  {name:<34} {seconds:9.1f} s {format_bytes(peak):>11}   time x{seconds / base_seconds:7.1f}"
        f"   memory x{peak / max(base_peak, 1):6.1f}  {note}",
        flush=True,
    )


def compare(path: Path, X: sp.csr_matrix, k: int, tutorial_rows: int, what: str) -> None:
    n = X.shape[0]
    print(f"\n{what}: {n:,} rows x {X.shape[1]:,} columns, {X.nnz:,} stored cells, top-{k}", flush=True)
    transpose = what.startswith("movie")
    ours_s, ours_peak, ours = isolated("ours_top_k", path, k=k, transpose=transpose)
    line("cfutils.cosine_top_k", ours_s, ours_peak, ours_s, ours_peak)
    rows = np.random.default_rng(0).choice(n, min(tutorial_rows, n), replace=False)
    tut_s, tut_peak, tut = isolated("tutorial_top_k", path, k=k, rows=rows, transpose=transpose)
    line(
        f"tutorial loop (x{n / len(rows):.0f} of {len(rows)} rows)",
        tut_s * n / len(rows),
        tut_peak,
        ours_s,
        ours_peak,
        agreement(ours, tut, rows, X),
    )
    old_s, old_peak, old = isolated("scipy_blocks_top_k", path, k=k, transpose=transpose)
    line("cfutils before (scipy blocks)", old_s, old_peak, ours_s, ours_peak, agreement(ours, old, np.arange(n), X))
    sk_s, sk_peak, sk = isolated("sklearn_top_k", path, k=k, transpose=transpose)
    line("sklearn cosine_similarity (all)", sk_s, sk_peak, ours_s, ours_peak, agreement(ours, sk, np.arange(n), X))
    try:
        sdt_s, sdt_peak, sdt = isolated("sdt_top_k", path, k=k, transpose=transpose)
        line("sparse_dot_topn (2 threads)", sdt_s, sdt_peak, ours_s, ours_peak, agreement(ours, sdt, np.arange(n), X))
    except ImportError:
        print("  sparse_dot_topn not installed: skipped")


def scale(fraction: float, user_fraction: float, k: int, workdir: Path) -> None:
    start = time.perf_counter()
    X = netflix_like_matrix(fraction)
    print(
        f"\nNetflix-like matrix at fraction {fraction} generated in {time.perf_counter() - start:.0f} s:",
        degree_summary(X),
        flush=True,
    )
    path = workdir / "scale.npz"
    sp.save_npz(path, X, compressed=False)
    budget = 6 * GiB
    seconds, peak, movies = isolated("ours_top_k", path, k=k, transpose=True, budget_bytes=budget)
    print(
        f"  movie-movie top-{k}, all {X.shape[1]:,} movies: {seconds:.1f} s, working peak {format_bytes(peak)}"
        f" (budget {format_bytes(budget)}); at fraction 1 about {seconds / fraction:.0f} s (cost ~ users)",
        flush=True,
    )
    X_movies = X.T.tocsr()
    old_s, old_peak, old = isolated("scipy_blocks_top_k", path, k=k, transpose=True, budget_bytes=budget)
    print(
        f"    before (scipy blocks): {old_s:.1f} s, working peak {format_bytes(old_peak)}, x{old_s / seconds:.1f}"
        f" the time; at fraction 1 about {old_s / fraction:.0f} s; "
        f"{agreement(movies, old, np.arange(X.shape[1]), X_movies)}",
        flush=True,
    )
    # no sparse_dot_topn here: at fraction 0.1 it was killed for memory at 23.6 GB RSS (2-core box, 23 GB RAM)
    del X, X_movies, movies, old

    U = netflix_like_matrix(user_fraction, seed=1)
    path = workdir / "users.npz"
    sp.save_npz(path, U, compressed=False)
    n = U.shape[0]
    exact_s, exact_peak, exact = isolated("ours_top_k", path, k=k, budget_bytes=budget)
    growth = 1 / user_fraction**2
    print(
        f"  user-user exact top-{k}, {n:,} users ({U.nnz:,} ratings): {exact_s:.1f} s, working peak "
        f"{format_bytes(exact_peak)}; at fraction 1 (cost ~ users**2) about {exact_s * growth / 60:.0f} min",
        flush=True,
    )
    old_s, old_peak, old = isolated("scipy_blocks_top_k", path, k=k, budget_bytes=budget)
    print(
        f"    before (scipy blocks): {old_s:.1f} s, working peak {format_bytes(old_peak)}, x{old_s / exact_s:.1f}"
        f" the time; at fraction 1 about {old_s * growth / 60:.0f} min; {agreement(exact, old, np.arange(n), U)}",
        flush=True,
    )
    del old
    sample = np.random.default_rng(0).choice(n, min(2000, n), replace=False)
    for n_components in (64, 256):
        svd_s, svd_peak, approx = isolated("svd_top_k", path, k=k, n_components=n_components)
        print(
            f"  user-user SVD-{n_components} top-{k}: {svd_s:.1f} s, working peak {format_bytes(svd_peak)},"
            f" recall@{k} vs exact {neighbour_recall(exact, approx, sample):.3f} on {len(sample)} users;"
            f" at fraction 1 about {svd_s * growth / 60:.0f} min",
            flush=True,
        )


def binary(fraction: float, k: int, workdir: Path) -> None:
    X = netflix_like_matrix(fraction)
    X.data[:] = 1
    path = workdir / "binary.npz"
    sp.save_npz(path, X, compressed=False)
    X_movies = X.T.tocsr()
    print(f"\nBinary movie-movie top-{k} (item-kNN's graph), fraction {fraction}: {X_movies.nnz:,} cells", flush=True)
    budget = 6 * GiB
    ours_s, ours_peak, ours = isolated("ours_top_k", path, k=k, transpose=True, budget_bytes=budget, dtype=np.float64)
    line("cfutils (counting kernel)", ours_s, ours_peak, ours_s, ours_peak)
    old_s, old_peak, old = isolated("valued_kernel_top_k", path, k=k, transpose=True, budget_bytes=budget)
    line(
        "cfutils before (valued kernel)",
        old_s,
        old_peak,
        ours_s,
        ours_peak,
        agreement(ours, old, np.arange(X_movies.shape[0]), X_movies),
    )
    print(f"  values: largest difference {abs(ours - old).max():.1e}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare-fraction", type=float, default=0.01)
    parser.add_argument("--tutorial-rows", type=int, default=200)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--user-fraction", type=float, default=0.05)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-binary", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.skip_compare:
            X = netflix_like_matrix(args.compare_fraction)
            path = workdir / "compare.npz"
            sp.save_npz(path, X, compressed=False)
            compare(path, X, args.k, args.tutorial_rows, "user-user")
            compare(path, X.T.tocsr(), args.k, args.tutorial_rows, "movie-movie")
        if not args.skip_scale:
            scale(args.fraction, args.user_fraction, args.k, workdir)
        if not args.skip_binary:
            binary(args.fraction, args.k, workdir)


if __name__ == "__main__":
    main()
