"""The notebooks as course material (no kernel needed).

Every notebook links the glossary before its parameters, and ends with three sections in this order:
"What to take away", "Try it" (2 to 4 exercises, each a question about a parameter the notebook declares)
and "Further reading" (papers cited as in the README's reference list). Every local link in the glossary
and in the notebooks' markdown resolves: the file exists and, with an anchor, the file has that heading.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from conftest import NOTEBOOKS_DIR

from cfutils.present import pipeline

NOTEBOOKS = pipeline.discover_notebooks(NOTEBOOKS_DIR)
GLOSSARY = Path(NOTEBOOKS_DIR) / "GLOSSARY.md"
README = Path(NOTEBOOKS_DIR).parent / "README.md"
CLOSING = ["## What to take away", "## Try it", "## Further reading"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
EXERCISE = re.compile(r"^\d+\. ", re.MULTILINE)
YEAR = re.compile(r"\b(?:19|20)\d{2}\b")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def markdown_of(path: Path) -> list[str]:
    """The markdown texts of a file: its markdown cells for a notebook, the whole text otherwise."""
    if path.suffix == ".ipynb":
        return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
    return [path.read_text(encoding="utf-8")]


def anchors_of(path: Path) -> set[str]:
    """Every heading anchor of a markdown file or notebook; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    for text in markdown_of(path):
        in_fence = False
        for line in text.splitlines():
            in_fence ^= line.startswith("```")
            if not in_fence and re.match(r"#{1,6} ", line):
                base = slug(line.lstrip("#"))
                seen[base] = seen.get(base, -1) + 1
                if seen[base]:
                    seen[f"{base}-{seen[base]}"] = 0
    return set(seen)


def broken_links(path: Path) -> list[str]:
    broken = []
    for text in markdown_of(path):
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not local
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists() or (anchor and anchor not in anchors_of(linked)):
                broken.append(target)
    return broken


def short_citations() -> set[str]:
    """How the README's references are cited in text: "Koren 2008", "Bennett and Lanning 2007",
    "Koren, Bell and Volinsky 2009" or "Koren et al. 2009" for three authors or more."""
    section = README.read_text(encoding="utf-8").split("## References", 1)[1]
    forms = set()
    for authors, year in re.findall(r"^- (.+?) \((\d{4})\)", section, flags=re.MULTILINE):
        surnames = authors.replace(" and ", ", ").split(", ")[0::2]
        names = [surnames[0] if len(surnames) == 1 else f"{', '.join(surnames[:-1])} and {surnames[-1]}"]
        if len(surnames) > 2:
            names.append(f"{surnames[0]} et al.")
        forms |= {f"{name} {year}" for name in names}
    return forms


def uncited(text: str, citations: set[str]) -> list[str]:
    """Each year in ``text`` not preceded by a citation of the reference list, with its context."""
    text = " ".join(text.split())
    return [
        text[max(0, m.start() - 40) : m.end()]
        for m in YEAR.finditer(text)
        if not any(text[: m.end()].endswith(form) for form in citations)
    ]


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return nbformat.read(request.param, as_version=4), request.param


def parameter_names(nb) -> set[str]:
    cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    return {node.targets[0].id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)}


def test_links_the_glossary_before_its_parameters(notebook):
    nb, _ = notebook
    parameters = next(i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    targets = [t for c in nb.cells[:parameters] if c.cell_type == "markdown" for t in LINK.findall(c.source)]
    assert any(t.split("#")[0] == "GLOSSARY.md" for t in targets)


def test_ends_with_the_three_closing_sections_in_order(notebook):
    nb, _ = notebook
    level_two = [
        (i, c.source.splitlines()[0])
        for i, c in enumerate(nb.cells)
        if c.cell_type == "markdown" and c.source.startswith("## ")
    ]
    assert [heading for _, heading in level_two[-3:]] == CLOSING
    assert level_two[-1][0] == len(nb.cells) - 1, "Further reading is the last cell"
    assert level_two[-2][0] == len(nb.cells) - 2, "Try it comes right before it"


def test_exercises_ask_about_declared_parameters(notebook):
    nb, _ = notebook
    exercises = EXERCISE.split(nb.cells[-2].source)[1:]
    assert 2 <= len(exercises) <= 4
    names = parameter_names(nb)
    for exercise in exercises:
        assert "?" in exercise, f"no question to predict: {exercise[:60]}"
        changed = re.findall(r"`([A-Z_]+)\b", exercise)
        assert changed and set(changed) <= names, f"not a parameter of this notebook: {changed}"


def test_further_reading_cites_the_reference_list(notebook):
    nb, _ = notebook
    reading = nb.cells[-1].source
    citations = short_citations()
    assert YEAR.search(reading), "cites no paper"
    assert not uncited(reading, citations)


def test_the_glossary_cites_the_reference_list():
    assert not uncited(GLOSSARY.read_text(encoding="utf-8"), short_citations())


def test_short_citations_follow_the_author_count():
    citations = short_citations()
    assert {
        "Koren 2008",
        "Bennett and Lanning 2007",
        "Koren, Bell and Volinsky 2009",
        "Herlocker et al. 1999",
        "Järvelin and Kekäläinen 2002",
    } <= citations
    assert "Bennett 2007" not in citations and "Herlocker 1999" not in citations  # two authors: both named


@pytest.mark.parametrize("path", [GLOSSARY, *NOTEBOOKS], ids=lambda p: p.name)
def test_every_local_link_resolves(path):
    assert not broken_links(path)


def test_the_link_check_finds_a_broken_anchor(tmp_path):
    (tmp_path / "a.md").write_text(
        "# Title\n\n## One, two\n\n[ok](#one-two) [ok](b.md#b) [bad](#three) [bad](c.md)\n"
        "[skip](https://example.org/x)\n"
    )
    (tmp_path / "b.md").write_text("```\n# not a heading\n```\n# B\n")
    assert broken_links(tmp_path / "a.md") == ["#three", "c.md"]
    assert anchors_of(tmp_path / "b.md") == {"b"}
