"""One Markdown page from several studies' ``results.md`` (``deap-nas results``).

Each study directory's ``results.md`` is taken in the order given; its relative links
(images and plain links, e.g. ``plots/curves_time.png``) are rewritten to work from the
page. With ``copy_plots`` every linked file is copied to ``<copy_plots>/<study dir
name>/`` (through a temporary file and a rename) and linked there, so the page and that
folder are self-contained; without it, links point into the study directories. The page
itself is written atomically.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["assemble_results_page"]

_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")


def _copy_atomic(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _relink(text: str, study: Path, page_dir: Path, copy_to: Path | None) -> str:
    """``text`` with every relative link target made relative to ``page_dir``."""

    def fix(m: re.Match[str]) -> str:
        target = m.group(2)
        if "://" in target or target.startswith(("#", "/", "mailto:")):
            return m.group(0)
        src = study / target
        dst = src
        if copy_to is not None and src.is_file():
            dst = copy_to / study.name / target
            _copy_atomic(src, dst)
        rel = os.path.relpath(dst.resolve(), page_dir.resolve())
        return f"{m.group(1)}{Path(rel).as_posix()}{m.group(3)}"

    return _LINK.sub(fix, text)


def assemble_results_page(study_dirs: Sequence[str | Path], out: str | Path, copy_plots: str | Path | None = None,
                          title: str = "Results", intro: str | Path | None = None) -> Path:  # fmt: skip
    """Write the page ``out`` from the ``results.md`` of ``study_dirs`` (module doc); the
    Markdown file ``intro`` (a hand-written summary) goes between the title and the
    contents, so the page can be regenerated without losing it."""
    from ..runtime.journal import atomic_write_text

    out = Path(out)
    copy_to = Path(copy_plots) if copy_plots is not None else None
    names = [Path(d).resolve().name for d in study_dirs]
    if len(set(names)) != len(names):
        raise ValueError(f"study directories must have distinct names (plots are copied by name): {names}")
    sections = []
    for d in study_dirs:
        study = Path(d)
        md = study / "results.md"
        if not md.is_file():
            raise FileNotFoundError(f"{md}: no results.md (run the study first: deap-nas study ...)")
        sections.append(_relink(md.read_text(encoding="utf-8").strip(), study, out.parent, copy_to))
    toc = [f"- [{s.splitlines()[0].lstrip('# ').strip()}](#{_anchor(s.splitlines()[0])})" for s in sections]
    head = [f"# {title}"] + ([Path(intro).read_text(encoding="utf-8").strip()] if intro is not None else [])
    text = "\n\n".join([*head, "\n".join(toc), *sections]) + "\n"
    atomic_write_text(out, text)
    return out


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading line."""
    words = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", words).replace(" ", "-")
