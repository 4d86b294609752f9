"""The per-paper fidelity tables (docs/fidelity/*.md) point at code that exists.

Each table row is ``| mechanism | paper | code | status | why |``; the code cell holds
backticked references ``deap_nas.<module>:<attr>[.<attr>]`` (imported and looked up here)
or repository-relative file paths (checked to exist).
"""

import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIDELITY = REPO / "docs" / "fidelity"
PAPERS = ("immunecs", "eigen", "nasgep", "regevo", "minigen")
HEADER = ["mechanism", "paper", "code", "status", "why"]
STATUSES = {"faithful", "reading", "deviation", "option"}
REF = re.compile(r"`([^`]+)`")


def table_rows(text: str) -> list[list[str]]:
    """The body rows of every table whose header is :data:`HEADER`."""
    rows, in_table = [], False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if [c.lower() for c in cells] == HEADER:
            in_table = True
        elif in_table and not set("".join(cells)) <= set("-: "):
            rows.append(cells)
    return rows


def resolve(ref: str) -> object:
    """Import ``deap_nas.module:attr.attr`` or check a repository path; the object found."""
    if ref.startswith("deap_nas"):
        module, _, attrs = ref.partition(":")
        obj: object = importlib.import_module(module)
        for name in filter(None, attrs.split(".")):
            obj = getattr(obj, name)
        return obj
    path = REPO / ref
    assert path.exists(), f"{ref}: no such file in the repository"
    return path


@pytest.mark.parametrize("paper", PAPERS)
def test_fidelity_table_references_exist(paper: str) -> None:
    doc = FIDELITY / f"{paper}.md"
    assert doc.is_file(), f"docs/fidelity/{paper}.md is missing"
    text = doc.read_text()
    rows = table_rows(text)
    assert len(rows) >= 8, f"{doc.name}: a fidelity table covers every mechanism, found {len(rows)} rows"
    for row in rows:
        assert len(row) == 5, f"{doc.name}: row {row[0]!r} has {len(row)} cells"
        mechanism, section, code, status, why = row
        assert section and why, f"{doc.name}: {mechanism!r} lacks its paper section or its reason"
        assert status.strip("*` ") in STATUSES, f"{doc.name}: {mechanism!r} status {status!r}"
        refs = REF.findall(code)
        assert refs, f"{doc.name}: {mechanism!r} names no code"
        for ref in refs:
            try:
                resolve(ref)
            except (ImportError, AttributeError) as exc:
                pytest.fail(f"{doc.name}: {mechanism!r}: {ref} does not resolve ({exc})")
    assert "remaining deviations" in text.lower(), f"{doc.name}: no 'Remaining deviations' list"
    assert "../shared" not in text and "/work/" not in text


def test_readme_links_every_fidelity_table() -> None:
    readme = (REPO / "README.md").read_text()
    for paper in PAPERS:
        assert f"docs/fidelity/{paper}.md" in readme, f"README does not link docs/fidelity/{paper}.md"


def test_table_parser_and_resolver_reject_what_they_should() -> None:
    text = "| Mechanism | Paper | Code | Status | Why |\n|---|---|---|---|---|\n| a | s | `x` | faithful | w |\n"
    assert table_rows(text) == [["a", "s", "`x`", "faithful", "w"]]
    with pytest.raises(AttributeError):
        resolve("deap_nas.ops.aging:no_such_operator")
    with pytest.raises(AssertionError):
        resolve("experiments/configs/no_such.yaml")
    assert callable(resolve("deap_nas.ops.aging:remove_oldest"))
