"""Every ```python snippet of README.md and docs/**/*.md runs, and every code fence is closed.

Each snippet runs on its own in a fresh interpreter (working directory: a temporary
folder, one torch thread), so a snippet must hold its own imports and data. A snippet that
cannot run here (a sketch spread over several modules, a GPU, hours of training) is marked
by an HTML comment on the line before its fence, with the reason:

    <!-- snippet: skip a sketch of three modules, shown without their imports -->

Marked snippets are reported as skipped with file, line and reason (``pytest -ra``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OPENER = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
SKIP = re.compile(r"^\s*<!--\s*snippet:\s*skip\b(.*?)-->\s*$")
TIMEOUT_S = 120


@dataclass(frozen=True)
class Snippet:
    """One fenced code block: where it is, its language, its text, its skip reason."""

    path: Path
    line: int                   # 1-based line of the opening fence
    language: str
    code: str
    skip: str | None            # None: not marked; "" marked without a reason

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def doc_files() -> list[Path]:
    """README.md and the Markdown pages of docs/ (not a built site under docs/_build)."""
    docs = sorted(p for p in (REPO / "docs").rglob("*.md") if "_build" not in p.parts)
    return [REPO / "README.md", *docs]


def fenced_blocks(path: Path, text: str | None = None) -> list[Snippet]:
    """The fenced code blocks of a Markdown file; an unclosed fence raises ValueError."""
    lines = (path.read_text() if text is None else text).splitlines()
    blocks: list[Snippet] = []
    i = 0
    while i < len(lines):
        m = OPENER.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.groups()
        start, body = i, []
        close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        i += 1
        while i < len(lines) and not close.match(lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        if i == len(lines):
            raise ValueError(f"{path.name}:{start + 1}: code fence {fence}{info} is never closed")
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = SKIP.match(before)
        blocks.append(Snippet(path, start + 1, info.strip().split(" ")[0].strip("{}"), "\n".join(body),
                              None if marker is None else marker.group(1).strip()))
        i += 1
    return blocks


def python_snippets() -> list[Snippet]:
    return [b for p in doc_files() for b in fenced_blocks(p) if b.language == "python"]


SNIPPETS = python_snippets()


def run_snippet(snippet: Snippet, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a snippet in a fresh interpreter in ``cwd``, with one torch / BLAS thread."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg",
               DEAP_NAS_CACHE=str(cwd / ".cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-c", snippet.code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.where for s in SNIPPETS])
def test_python_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    if snippet.skip is not None:
        pytest.skip(f"{snippet.where}: {snippet.skip}")
    proc = run_snippet(snippet, tmp_path)
    assert proc.returncode == 0, f"{snippet.where} failed:\n{proc.stderr[-3000:]}"


def test_every_fence_is_closed_and_names_its_language() -> None:
    """A fence left open, or an untyped one, can turn the rest of a page into code."""
    problems = []
    for path in doc_files():
        try:
            blocks = fenced_blocks(path)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        problems += [f"{b.where}: a fence without a language" for b in blocks if not b.language]
    assert not problems, "\n".join(problems)


def test_skip_markers_give_a_reason_and_precede_a_python_fence() -> None:
    blocks = {(b.path, b.line): b for p in doc_files() for b in fenced_blocks(p)}
    for path in doc_files():
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines, 1):
            m = SKIP.match(line)
            if not m:
                continue
            where = f"{path.relative_to(REPO)}:{n}"
            assert m.group(1).strip(), f"{where}: a snippet skip marker needs a reason"
            nxt = next((k for k in range(n, len(lines)) if lines[k].strip()), None)
            assert nxt is not None and (path, nxt + 1) in blocks, f"{where}: marker not followed by a fence"
            assert blocks[(path, nxt + 1)].language == "python", f"{where}: marker on a non-Python fence"
    skipped = [s for s in SNIPPETS if s.skip is not None]
    assert len(skipped) <= len(SNIPPETS) // 4, f"most snippets should run; skipped: {[s.where for s in skipped]}"


def test_parser_finds_fences_markers_and_unclosed_blocks(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    text = "a\n\n<!-- snippet: skip needs a GPU -->\n```python\nx = 1\n```\n\n```bash\nls\n```\n"
    blocks = fenced_blocks(page, text)
    assert [(b.line, b.language, b.code, b.skip) for b in blocks] == [
        (4, "python", "x = 1", "needs a GPU"), (8, "bash", "ls", None)]
    with pytest.raises(ValueError, match="never closed"):
        fenced_blocks(page, "```python\nx = 1\n")
    bad = Snippet(page, 1, "python", "raise SystemExit(3)", None)
    assert run_snippet(bad, tmp_path).returncode == 3
