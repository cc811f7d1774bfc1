"""README.md, docs/*.md and every other Markdown file of the repository stand on their own: they cite no file a district does not have (the
project's internal contract notes) and every relative link, anchors included, resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCS = sorted(
    p for p in ROOT.rglob("*.md")
    if not any(part.startswith(".") or part.endswith(".egg-info") for part in p.relative_to(ROOT).parts)
)
OUTSIDE = re.compile(
    r"shared/|\bSPEC\.md|\bSPEC (?:section|§)?\s*\d|TARGETS\.md|ARCHITECTURE\.md|\breference/"
)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_slug(m) for m in re.findall(r"^#{1,6}\s+(.*)$", text, re.M)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cite_no_file_outside_the_repository(doc: Path) -> None:
    hits = [f"{doc.name}:{n}: {line.strip()}" for n, line in enumerate(doc.read_text("utf-8").splitlines(), 1)
            if OUTSIDE.search(line)]
    assert not hits, "\n".join(hits)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not this test's business
        file_part, _, anchor = target.partition("#")
        path = (doc.parent / file_part).resolve() if file_part else doc
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{doc.name}: " + "; ".join(broken)


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    assert OUTSIDE.search("see `shared/reference/x.md`") and OUTSIDE.search("SPEC section 5")
    assert OUTSIDE.search("(SPEC 5)") and not OUTSIDE.search("--faults SPEC")
    assert _slug("6. Rehearse against the sandbox (optional, recommended before go-live)") == (
        "6-rehearse-against-the-sandbox-optional-recommended-before-go-live")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_wheel_a_guide_installs_is_built_earlier_in_it(doc: Path) -> None:
    """A district following the guide must never reach `pip install ...whl` without a step that
    made the wheel (the Windows guide once installed one no step built)."""
    text = doc.read_text(encoding="utf-8")
    for install in re.finditer(r"pip install [^\n]*\.whl", text):
        assert re.search(r"pip wheel [^\n]*-w ", text[: install.start()]), (
            f"{doc.name}: `{install.group(0)}` comes before any `pip wheel` step"
        )
