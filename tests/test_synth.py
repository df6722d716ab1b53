"""cfutils.data.synth: exact Kaggle format, determinism, and Netflix-like statistics.

The files are parsed here by a strict, plain-Python reader (one regular expression per
line), independent of ``cfutils.data.io``, so a format slip in the generator cannot be hidden
by a forgiving reader.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import re
from dataclasses import asdict, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import cfutils
from cfutils.data import synth
from cfutils.data.synth import model as synth_model
from cfutils.data.synth import sampler as synth_sampler

HEADER = re.compile(r"([1-9]\d*):")
RATING = re.compile(r"([1-9]\d*),([1-5]),(\d{4}-\d{2}-\d{2})")
TITLE = re.compile(r"([1-9]\d*),(\d{4}|NULL),(.+)")


def read_kaggle(directory: Path) -> pd.DataFrame:
    """Every ``combined_data_*.txt`` line as a row (user_id, movie_id, rating, date), in file order.

    Fails on anything that is not exactly the Kaggle format: CR bytes, a missing final
    newline, a rating before the first header, a malformed line, movies out of order.
    """
    rows, last_movie = [], 0
    files = sorted(directory.glob("combined_data_*.txt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    for path in files:
        data = path.read_bytes()
        assert b"\r" not in data and data.endswith(b"\n"), path
        movie = None
        for line in data.decode("ascii").split("\n")[:-1]:
            if header := HEADER.fullmatch(line):
                movie = int(header.group(1))
                assert movie == last_movie + 1, f"movie {movie} after {last_movie}"
                last_movie = movie
                continue
            match = RATING.fullmatch(line)
            assert match and movie is not None, f"{path.name}: bad line {line!r}"
            rows.append((int(match.group(1)), movie, int(match.group(2)), match.group(3)))
    frame = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "date"])
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    return frame


def read_titles(path: Path) -> list[tuple[int, int | None, str]]:
    """``(movie_id, year or None, title)`` per line of a latin-1 ``movie_titles.csv``."""
    rows = []
    for line in path.read_bytes().decode("latin-1").split("\n")[:-1]:
        match = TITLE.fullmatch(line)
        assert match, line
        year = None if match.group(2) == "NULL" else int(match.group(2))
        rows.append((int(match.group(1)), year, match.group(3)))
    return rows


def digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def time_split(ratings: pd.DataFrame, test_size: float = 0.2):
    """Global time split: the latest ``test_size`` of the ratings (ties by user, movie) are test."""
    ordered = ratings.sort_values(["date", "user_id", "movie_id"], kind="stable")
    cut = len(ordered) - round(test_size * len(ordered))
    return ordered.iloc[:cut], ordered.iloc[cut:]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return synth.write_preset(tmp_path_factory.mktemp("tiny"), synth.TINY)


@pytest.fixture(scope="module")
def tiny(tiny_dir) -> pd.DataFrame:
    return read_kaggle(tiny_dir)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    """The sample's every drawn rating: without the Prize hold-out (tested in test_prize.py)."""
    return synth.write_preset(tmp_path_factory.mktemp("sample"), replace(synth.SAMPLE, prize_holdout=False))


@pytest.fixture(scope="module")
def sample(sample_dir) -> pd.DataFrame:
    return read_kaggle(sample_dir)


# --------------------------------------------------------------------------- format and counts


@pytest.mark.parametrize("preset", ["TINY", "SAMPLE"])
def test_exact_counts_and_no_duplicate_pairs(preset, request):
    ratings = request.getfixturevalue(preset.lower())
    expected = getattr(synth, preset)
    assert len(ratings) == expected.n_ratings
    assert ratings["user_id"].nunique() == expected.n_users
    assert sorted(ratings["movie_id"].unique()) == list(range(1, expected.n_movies + 1))
    assert not ratings.duplicated(["user_id", "movie_id"]).any()


def test_fields_are_in_netflix_ranges(sample):
    assert sample["date"].min() >= pd.Timestamp("1999-11-11")
    assert sample["date"].max() <= pd.Timestamp("2005-12-31")
    assert sample["user_id"].between(1, synth.MAX_CUSTOMER_ID).all()
    users = np.sort(sample["user_id"].unique())
    assert users[-1] - users[0] > 100 * len(users)  # sparse raw ids, like Netflix customer ids


def test_files_split_movies_into_ranges_of_equal_size(sample_dir, sample):
    names = sorted(p.name for p in sample_dir.glob("combined_data_*.txt"))
    assert names == [f"combined_data_{k}.txt" for k in range(1, synth.SAMPLE.n_files + 1)]
    per_file = [sum(1 for line in (sample_dir / n).read_bytes().split(b"\n") if b"," in line) for n in names]
    assert sum(per_file) == len(sample)
    assert np.abs(np.array(per_file) / (len(sample) / len(names)) - 1).max() < 0.1


def test_titles_have_netflix_quirks(sample_dir):
    titles = read_titles(sample_dir / synth.TITLES_NAME)
    assert [movie for movie, _, _ in titles] == list(range(1, synth.SAMPLE.n_movies + 1))
    years = [year for _, year, _ in titles]
    assert 1 <= years.count(None) <= 5
    assert all(1915 <= year <= 2005 for year in years if year is not None)
    assert sum("," in title for _, _, title in titles) >= 10  # split on the first two commas only
    assert any(ord(ch) > 127 for _, _, title in titles for ch in title)
    with pytest.raises(UnicodeDecodeError):
        (sample_dir / synth.TITLES_NAME).read_bytes().decode("utf-8")  # latin-1, not UTF-8


def test_tiny_titles_still_have_every_quirk(tiny_dir):
    titles = read_titles(tiny_dir / synth.TITLES_NAME)
    assert any(year is None for _, year, _ in titles)
    assert any("," in title for _, _, title in titles)
    assert any(not title.isascii() for _, _, title in titles)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9_999_999), st.integers(1, 5), st.integers(0, synth.N_DAYS - 1)), max_size=40))
def test_fast_line_formatting_equals_f_strings(rows):
    ids, stars, days = (np.array([row[k] for row in rows], dtype=np.int64) for k in range(3))
    text, ends = synth.format_rating_lines(ids, stars.astype(np.uint8), days)
    expected = [f"{c},{r},{date(1999, 11, 11) + timedelta(days=d)}\n" for c, r, d in rows]
    assert text == "".join(expected).encode("ascii")
    assert ends.tolist() == np.cumsum([len(line) for line in expected]).tolist()


# --------------------------------------------------------------------------- determinism and files


def test_same_parameters_give_identical_bytes(tiny_dir, tmp_path):
    again = synth.write_preset(tmp_path / "again", synth.TINY)
    assert digests(again) == digests(tiny_dir)
    other = synth.write_preset(tmp_path / "other", replace(synth.TINY, seed=synth.TINY.seed + 1))
    assert digests(other)["combined_data_1.txt"] != digests(tiny_dir)["combined_data_1.txt"]


#: sha256 of the TINY files. When a change to cfutils.data.synth changes these bytes, bump
#: synth.GENERATOR_VERSION (so data/sample and other generated folders are rewritten)
#: and update the digests. Pinned for the pinned numpy: its random streams are the input.
TINY_DIGESTS = {
    "combined_data_1.txt": "8ebfd1936390259f7f8b72cad8879601bdce3ec538c5899215774048a4e935e4",
    "combined_data_2.txt": "e06e0ba3dcb246e1a95a399b84731426113ed94f3b6452003650ed8ef90f71e7",
    "movie_titles.csv": "2ea50a4d4226af1f4016b8f97b3a736aab8c226780a440d7eec4d8eff3f407a0",
}


def test_output_changes_come_with_a_new_generator_version(tiny_dir):
    assert synth.GENERATOR_VERSION == 2, "update TINY_DIGESTS for the new version"
    got = {name: digest for name, digest in digests(tiny_dir).items() if not name.startswith(".")}  # marker, lock
    assert got == TINY_DIGESTS, "the generator's output changed: bump synth.GENERATOR_VERSION"


def test_chunk_size_changes_nothing_but_memory(tiny_dir, tmp_path):
    chunked = synth.write_netflix(tmp_path, **asdict(synth.TINY), chunk_ratings=97)
    assert digests(chunked) == digests(tiny_dir)


def test_second_write_is_skipped_and_a_new_key_rewrites(tmp_path):
    small = dict(n_users=100, n_movies=12, n_ratings=400, n_files=2)
    synth.write_netflix(tmp_path, **small)
    stamp = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    synth.write_netflix(tmp_path, **small)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamp

    synth.write_netflix(tmp_path, **{**small, "n_files": 1})
    assert not (tmp_path / "combined_data_2.txt").exists()  # the old files are replaced, none left over
    assert len(read_kaggle(tmp_path)) == 400


def test_damaged_output_is_rewritten(tmp_path):
    small = dict(n_users=100, n_movies=12, n_ratings=400)
    synth.write_netflix(tmp_path, **small)
    expected = digests(tmp_path)
    (tmp_path / "combined_data_1.txt").write_bytes(b"1:\n")
    synth.write_netflix(tmp_path, **small)
    assert digests(tmp_path) == expected


def test_refuses_to_overwrite_files_it_did_not_write(tmp_path):
    (tmp_path / "combined_data_1.txt").write_text("1:\n6,3,2005-01-01\n")
    with pytest.raises(FileExistsError, match="not written by cfutils.data.synth"):
        synth.write_netflix(tmp_path, n_users=100, n_movies=12, n_ratings=400)
    assert (tmp_path / "combined_data_1.txt").read_text() == "1:\n6,3,2005-01-01\n"


@pytest.mark.parametrize(
    "overrides",
    [dict(n_ratings=50), dict(n_ratings=720), dict(n_files=13), dict(n_users=0), dict(duplicate_fraction=1.0)],
)
def test_impossible_parameters_are_refused(overrides, tmp_path):
    with pytest.raises(ValueError):
        synth.write_netflix(tmp_path, **{**dict(n_users=100, n_movies=12, n_ratings=400), **overrides})


def test_sample_lives_in_the_repo_data_folder():
    assert synth.default_sample_dir() == Path(cfutils.__file__).parents[1] / "data" / "sample"


def test_command_line_writes_the_requested_data(tmp_path, capsys):
    argv = [str(tmp_path), "--users", "100", "--movies", "12", "--ratings", "400", "--files", "3", "--quiet"]
    assert synth.main(argv) == tmp_path
    ratings = read_kaggle(tmp_path)
    n_files = len(list(tmp_path.glob("combined_data_*.txt")))
    assert (len(ratings), ratings["user_id"].nunique(), n_files) == (400, 100, 3)


# --------------------------------------------------------------------------- duplicates


def test_duplicates_are_earlier_ratings_of_the_same_pairs(tiny, tmp_path):
    noisy = read_kaggle(synth.write_netflix(tmp_path, **asdict(synth.TINY), duplicate_fraction=0.05))
    extra = len(noisy) - len(tiny)
    assert 0.03 * len(tiny) < extra <= 0.05 * len(tiny) + synth.TINY.n_movies
    latest = noisy.sort_values("date", kind="stable").drop_duplicates(["user_id", "movie_id"], keep="last")
    key = ["movie_id", "user_id"]
    pd.testing.assert_frame_equal(
        latest.sort_values(key).reset_index(drop=True), tiny.sort_values(key).reset_index(drop=True)
    )
    assert latest["date"].groupby([latest["user_id"], latest["movie_id"]]).size().max() == 1


# --------------------------------------------------------------------------- generative model internals


def test_every_rating_follows_its_user_and_movie_start():
    preset = synth.TINY
    pop = synth_model.draw_population(preset.n_users, preset.n_movies, preset.n_ratings, preset.seed)
    for block in synth_model.movie_blocks(pop, range(preset.n_movies), preset.seed, 0.0):
        movie_start = pop.movie_start[block.movie_id - 1]
        assert (block.days >= np.maximum(pop.user_start[block.users], movie_start)).all()
    assert (pop.user_start > synth.N_DAYS // 2).mean() > 0.3  # users keep arriving


def test_sampler_draws_proportionally_and_distinct_without_replacement():
    weights = np.array([8.0, 4.0, 2.0, 1.0, 1.0, 0.0 + 1e-9])
    sampler = synth_sampler.WeightedSampler(weights)
    rng = np.random.default_rng(0)
    frequency = np.bincount(sampler.draw(rng, 200_000), minlength=len(weights)) / 200_000
    np.testing.assert_allclose(frequency, weights / weights.sum(), atol=0.005)
    first = np.zeros(len(weights))
    for _ in range(2000):
        users = sampler.distinct(rng, np.array([4], dtype=np.int32), 3)
        assert users[0] == 4 and len(set(users.tolist())) == 3
        first[users[1]] += 1
    # Successive sampling: the first draw after the forced user is proportional to the other weights.
    np.testing.assert_allclose(first[:4] / 2000, weights[:4] / weights[[0, 1, 2, 3, 5]].sum(), atol=0.04)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 400), st.lists(st.tuples(st.floats(0.01, 100), st.integers(0, 60)), min_size=1, max_size=12))
def test_allocation_is_exact_capped_and_proportional(total, cells):
    weights, room = np.array([w for w, _ in cells]), np.array([r for _, r in cells])
    if total > room.sum():
        with pytest.raises(ValueError):
            synth_model._allocate(total, weights, room)
        return
    counts = synth_model._allocate(total, weights, room)
    assert counts.sum() == total and (counts >= 0).all() and (counts <= room).all()
    # Reference: the water level L with sum(min(room, L w)) = total, found by bisection.
    low, high = 0.0, float(np.max(room / weights))
    for _ in range(200):
        level = (low + high) / 2
        low, high = (level, high) if np.minimum(room, level * weights).sum() < total else (low, level)
    assert (np.abs(counts - np.minimum(room, high * weights)) < 1 + 1e-6).all()


# --------------------------------------------------------------------------- Netflix-like statistics of the sample


def test_star_shares_and_mean_match_netflix(sample):
    shares = sample["rating"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(shares, synth.STAR_SHARES, atol=0.01)
    assert sample["rating"].mean() == pytest.approx(3.60, abs=0.04)


def test_rating_volume_grows_year_on_year(sample):
    per_year = sample["date"].dt.year.value_counts().sort_index()
    assert per_year.loc[2000:2005].is_monotonic_increasing
    assert 0.35 < per_year[2005] / len(sample) < 0.65
    assert per_year.loc[:2001].sum() / len(sample) > 0.01


def test_user_activity_and_movie_popularity_are_heavy_tailed(sample):
    for column, top_share in [("user_id", 0.3), ("movie_id", 0.5)]:
        counts = sample[column].value_counts().to_numpy()  # descending
        assert counts[: len(counts) // 10].sum() / len(sample) > top_share
        assert counts[0] > 10 * np.median(counts)
        assert counts.mean() > 1.3 * np.median(counts)


def test_time_split_shows_netflix_like_cold_start(sample):
    train, test = time_split(sample)
    unseen_users = ~np.isin(test["user_id"].unique(), train["user_id"].unique())
    unseen_movies = ~np.isin(test["movie_id"].unique(), train["movie_id"].unique())
    assert 0.10 < unseen_users.mean() < 0.20  # Netflix: about 15 %
    assert 0.005 < unseen_movies.mean() < 0.05  # Netflix: about 2 %


def test_popular_movies_are_rated_higher(sample):
    movies = sample.groupby("movie_id")["rating"].agg(["mean", "size"])
    assert np.corrcoef(np.log(movies["size"]), movies["mean"])[0, 1] > 0.15


def _fit_biases(users, movies, y, shape, reg=5.0, rounds=10):
    """Regularised baseline ``μ + b_u + b_i`` by alternating ridge updates."""
    mu, b_user, b_movie = y.mean(), np.zeros(shape[0]), np.zeros(shape[1])
    user_counts, movie_counts = np.bincount(users, minlength=shape[0]), np.bincount(movies, minlength=shape[1])
    for _ in range(rounds):
        b_movie = np.bincount(movies, y - mu - b_user[users], shape[1]) / (movie_counts + reg)
        b_user = np.bincount(users, y - mu - b_movie[movies], shape[0]) / (user_counts + reg)
    return mu, b_user, b_movie


def _fit_factors(users, movies, residual, shape, rank=4, reg=5.0, rounds=10):
    """Alternating least squares ``residual ≈ p_u·q_i`` with ridge ``reg``, all users (movies) solved at once."""
    rng = np.random.default_rng(0)
    factors = [rng.normal(0, 0.1, (shape[0], rank)), rng.normal(0, 0.1, (shape[1], rank))]
    rows = np.arange(len(residual))
    owner = [  # owner[0] sums rating rows per user, owner[1] per movie
        sp.csr_matrix((np.ones(len(rows)), (ids, rows)), (n, len(rows)))
        for ids, n in [(users, shape[0]), (movies, shape[1])]
    ]
    for _ in range(rounds):
        for side, other_ids in [(0, movies), (1, users)]:
            g = factors[1 - side][other_ids]
            gram = (owner[side] @ (g[:, :, None] * g[:, None, :]).reshape(len(rows), -1)).reshape(-1, rank, rank)
            rhs = owner[side] @ (g * residual[:, None])
            factors[side] = np.linalg.solve(gram + reg * np.eye(rank), rhs[:, :, None])[:, :, 0]
    return factors


def test_collaborative_filtering_clearly_beats_the_baselines(sample):
    """On a random 80/20 split, biases beat the global mean and rank-4 ALS beats the biases, clearly."""
    users = sample["user_id"].factorize()[0]
    movies = sample["movie_id"].factorize()[0]
    y = sample["rating"].to_numpy(float)
    shape = (users.max() + 1, movies.max() + 1)
    is_test = np.random.default_rng(0).random(len(y)) < 0.2
    train, test = ~is_test, is_test & np.isin(users, users[~is_test]) & np.isin(movies, movies[~is_test])
    mu, b_user, b_movie = _fit_biases(users[train], movies[train], y[train], shape)
    baseline = mu + b_user[users] + b_movie[movies]
    p, q = _fit_factors(users[train], movies[train], y[train] - baseline[train], shape)

    def rmse(prediction):
        return np.sqrt(np.mean((y[test] - prediction) ** 2))

    global_mean = rmse(mu)
    biases = rmse(baseline[test])
    factors = rmse(np.clip(baseline[test] + (p[users[test]] * q[movies[test]]).sum(1), 1, 5))
    assert biases < global_mean - 0.1
    assert factors < biases - 0.1


def test_two_processes_writing_the_same_sample_at_once_both_get_the_whole_files(tmp_path, tiny_dir):
    # The pipeline runs notebooks side by side, and each asks for the sample: one writes, the other
    # waits on the writer's lock and then finds the files up to date (no shared temporary file).
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        written = pool.starmap(synth.write_preset, [(tmp_path / "both", synth.TINY)] * 2)
    assert written == [tmp_path / "both"] * 2
    assert not list((tmp_path / "both").glob("*.tmp")) and not list((tmp_path / "both").glob(".*.tmp"))
    assert digests(tmp_path / "both") == digests(tiny_dir)
