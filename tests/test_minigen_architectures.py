"""The MiniGen network the paper prints (Table III, index 1; sec. IV-E) ships as an
architecture file with the parameter count of each reading; one reading gives the
paper's 0.9M (experiments/architectures/minigen/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deap_nas.spaces import MiniGenParams, MiniGenSpace

ROOT = Path(__file__).resolve().parents[1] / "experiments" / "architectures" / "minigen"
FILES = sorted(ROOT.glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def reading_genome(data: dict, reading: dict) -> list:
    genome = [list(c) for c in data["genome"]]
    if reading["blocks"] is not None:
        for cell, b in zip(genome[1:], reading["blocks"], strict=True):
            cell[1] = b
    return genome


def test_the_printed_index_1_is_shipped():
    assert [p.name for p in FILES] == ["table3_index1.json"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_reading_decodes_to_the_parameters_it_reports(path):
    data = load(path)
    assert data["space"] == "minigen" and "Table III" in data["source"]
    assert data["genome"][0][0] == 128  # as printed: the unused input-cell channel
    for reading in data["readings"]:
        space = MiniGenSpace(MiniGenParams(**reading["space"]))
        genome = space.from_json(reading_genome(data, reading))
        arch = space.decode(genome)
        arch.validate((3, 32, 32))
        assert arch.num_params((3, 32, 32), 10, "gap_linear") == reading["params"], reading["name"]


def test_only_the_authors_generator_reading_gives_the_papers_0_9m():
    data = load(ROOT / "table3_index1.json")
    near = [r["name"] for r in data["readings"] if round(r["params"] / 1e6, 1) == 0.9]
    assert near == [r["name"] for r in data["readings"] if r["matches_paper"]]
    assert len(near) == 1 and data["readings"][2]["blocks"] == [1, 2, 3, 4]
