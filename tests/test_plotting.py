"""save_figure writes reproducible PNGs under OUTPUT_DIR/figures."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cfutils.present.plotting import save_figure, use_style  # noqa: E402


def test_save_figure_writes_the_same_png_bytes_twice(tmp_path):
    use_style()
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, 2])
    first = save_figure(fig, "01_line", tmp_path / "a")
    second = save_figure(fig, "01_line", tmp_path / "b")
    plt.close(fig)
    assert first == tmp_path / "a" / "figures" / "01_line.png"
    assert first.read_bytes().startswith(b"\x89PNG") and first.read_bytes() == second.read_bytes()
    assert b"Software" not in first.read_bytes(), "no matplotlib version in the metadata"


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "with space"])
def test_save_figure_rejects_names_that_are_not_plain_file_stems(tmp_path, name):
    fig = plt.figure()
    with pytest.raises(ValueError, match="plain file stem"):
        save_figure(fig, name, tmp_path)
    plt.close(fig)


def test_segment_figure_draws_every_model_with_its_interval_in_one_order():
    from cfutils.present.plotting import segment_figure

    def scores(models, lower_is_better=False):
        return {"n_users": 40, "metric": "NDCG@10", "lower_is_better": lower_is_better, "models": models}

    fig = segment_figure(
        {
            "known users": scores({"a": [0.2, 0.1, 0.3], "b": [0.4, 0.35, 0.45], "c": [0.3, 0.2, 0.4]}),
            "new users": scores({"a": [0.5, 0.4, 0.6], "b": [0.1, 0.0, 0.2], "c": [0.3, 0.2, 0.4]}),
        }
    )
    known, new = fig.axes
    for ax, best in ((known, "b"), (new, "a")):
        assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "c", "a"]  # the first segment's order
        bars = ax.containers
        assert len(bars) == 3
        x_of = {label: bar.lines[0].get_xdata()[0] for label, bar in zip(["b", "c", "a"], bars)}
        widths = {label: bar.lines[2][0].get_segments()[0] for label, bar in zip(["b", "c", "a"], bars)}
        filled = [label for label, bar in zip(["b", "c", "a"], bars) if bar.lines[0].get_markerfacecolor() != "white"]
        assert filled == [best]
        assert all(seg[0][0] <= x_of[label] <= seg[1][0] for label, seg in widths.items())
    assert "40 users" in known.get_title() and "higher is better" in known.get_xlabel()
    plt.close(fig)
    rmse = segment_figure({"all": scores({"x": [0.9, 0.8, 1.0], "y": [0.8, 0.7, 0.9]}, lower_is_better=True)})
    assert [t.get_text() for t in rmse.axes[0].get_yticklabels()] == ["y", "x"]
    assert "lower is better" in rmse.axes[0].get_xlabel()
    plt.close(rmse)
