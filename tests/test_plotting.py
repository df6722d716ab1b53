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
