"""EIGEN's nine mutation operators and the step-size mutation, DEAP-style (torch-free).

Ren et al., "EIGEN" (CVPR 2019), sec. 3.1: each mutation step is one of INSERT-CONVOLUTION,
INSERT-CONCATENATION, INSERT-POOLING, REMOVE-CONVOLUTION, REMOVE-CONCATENATION,
REMOVE-POOLING, ALTER-NUMBER-OF-CHANNELS, ALTER-STRIDE and ALTER-FILTER-SIZE; a child gets
a number of steps drawn uniformly from [1, m] (the mutation step size) and is trained once,
after all its steps (:func:`mut_eigen`).

Two layers per operator:

- ``insert_convolution(genome, space, rng) -> bool`` and friends (:data:`STEPS`) edit the
  genome in place and return whether they applied. Each draws among its possible edits in
  a random order and keeps the first that leaves a valid network at
  ``space.params.input_shape`` (a concatenation of equal feature-map sizes, no pooling of
  a 1x1 map); when none does (no layer of that kind, every choice invalid, ``max_layers``
  reached) the genome is left unchanged and they return False: the operator "reports that
  it cannot apply".
- ``mut_insert_convolution(individual, space, rng) -> (individual,)`` and friends are the
  DEAP operators (docs/architecture.md: in place, never touching the fitness); they set
  ``individual.applied`` (plain bool) to the step's answer.

Choices the paper leaves open (ours): an insertion goes on a uniformly drawn edge of the
graph (the layer is put between a layer and one of its readers); a concatenation joins
two distinct earlier layers (or the input) of equal size and replaces one of them for one
of its readers; removing a convolution or pooling makes its readers read its input;
removing a concatenation makes its readers read one of its two inputs, and a branch that
then no longer reaches the classifier is removed with it; an ALTER operator draws a value
different from the current one, so the change is always real.

Gene duplication (sec. 3.3) is :func:`mut_duplicate_block`: one block (the layers of one
feature-map size) duplicated, serially or side by side; the EIGEN loop applies it after
the succession to the final parent (:func:`deap_nas.algorithms.eigen.duplication_variants`).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

from ..spaces.eigen import (
    DUPLICATION_MODES,
    GLOBAL_POOL_ID,
    INPUT_ID,
    allocate_id,
    blocks,
    duplicate_block,
    edges,
    insert_layer,
    layer_by_id,
    prune,
    redirect,
)
from .registry import register_operator

Edit = Callable[[dict[str, Any]], None]


def _first_valid(genome: dict[str, Any], space: Any, edits: list[Edit]) -> bool:
    """Apply the first edit (in the given order) that leaves a valid genome."""
    for edit in edits:
        trial = copy.deepcopy(dict(genome))
        edit(trial)
        if space.is_valid(trial):
            genome.clear()
            genome.update(trial)
            return True
    return False


def _shuffled(items: list[Any], rng: Any) -> list[Any]:
    items = list(items)
    rng.shuffle(items)
    return items


def _room(genome: dict[str, Any], space: Any) -> bool:
    cap = space.params.max_layers
    return cap is None or len(genome["layers"]) < cap


# ------------------------------------------------------------------------ insertions


def insert_convolution(genome: dict[str, Any], space: Any, rng: Any = random) -> bool:
    """INSERT-CONVOLUTION: a 3x3 / 32 / stride 1 conv (space defaults) on a random edge."""
    if not _room(genome, space):
        return False

    def edit_for(src: int, reader: int) -> Edit:
        def edit(g: dict[str, Any]) -> None:
            insert_layer(g, space.new_conv(allocate_id(g), src), src, reader)
        return edit

    return _first_valid(genome, space, [edit_for(s, r) for s, r in _shuffled(edges(genome), rng)])


def insert_pooling(genome: dict[str, Any], space: Any, rng: Any = random) -> bool:
    """INSERT-POOLING: a 2x2 / stride 2 pooling on a random edge where the result is valid."""
    if not _room(genome, space):
        return False

    def edit_for(src: int, reader: int) -> Edit:
        def edit(g: dict[str, Any]) -> None:
            insert_layer(g, {"id": allocate_id(g), "type": "pool", "inputs": [src]}, src, reader)
        return edit

    return _first_valid(genome, space, [edit_for(s, r) for s, r in _shuffled(edges(genome), rng)])


def insert_concatenation(genome: dict[str, Any], space: Any, rng: Any = random) -> bool:
    """INSERT-CONCATENATION: ``concat(a, b)`` of two distinct layers (or the input) with the
    same feature-map size, read by one reader of ``a`` or ``b`` instead of it."""
    if not _room(genome, space):
        return False
    arch = space.decode(genome)
    shapes = arch.shapes(space.params.input_shape)
    size = {INPUT_ID: tuple(space.params.input_shape[1:])}
    size.update({i: s[1:] for i, s in shapes.items() if i != GLOBAL_POOL_ID})
    order = {INPUT_ID: -1, **{layer["id"]: k for k, layer in enumerate(genome["layers"])},
             GLOBAL_POOL_ID: len(genome["layers"])}
    ids = [i for i in order if i in size]
    pairs = [(a, b) for a in ids for b in ids if order[a] < order[b] and size[a] == size[b]]
    all_edges = edges(genome)

    def edit_for(a: int, b: int, src: int, reader: int) -> Edit:
        def edit(g: dict[str, Any]) -> None:
            insert_layer(g, {"id": allocate_id(g), "type": "concat", "inputs": [a, b]}, src, reader)
        return edit

    edits = []
    for a, b in _shuffled(pairs, rng):
        outs = [(s, r) for s, r in all_edges if s in (a, b) and order[r] > order[b]]
        if outs:
            s, r = rng.choice(outs)
            edits.append(edit_for(a, b, s, r))
    return _first_valid(genome, space, edits)


# ------------------------------------------------------------------------ removals


def _remove(genome: dict[str, Any], space: Any, kind: str, rng: Any) -> bool:
    targets = [layer["id"] for layer in genome["layers"] if layer["type"] == kind]

    def edit_for(i: int, keep: int) -> Edit:
        def edit(g: dict[str, Any]) -> None:
            redirect(g, i, keep)
            g["layers"] = [x for x in g["layers"] if x["id"] != i]
            prune(g)
        return edit

    by_id = layer_by_id(genome)
    edits = []
    for i in _shuffled(targets, rng):
        ins = by_id[i]["inputs"]
        keep = ins[0] if len(ins) == 1 else rng.choice(ins)
        edits.append(edit_for(i, keep))
    return _first_valid(genome, space, edits)


def remove_convolution(genome: dict[str, Any], space: Any, rng: Any = random) -> bool:
    """REMOVE-CONVOLUTION: a random conv is removed; its readers read its input."""
    return _remove(genome, space, "conv", rng)


def remove_pooling(genome: dict[str, Any], space: Any, rng: Any = random) -> bool:
    """REMOVE-POOLING: a random pooling is removed; its readers read its input."""
    return _remove(genome, space, "pool", rng)


def remove_concatenation(genome: dict[str, Any], space: Any, rng: Any = random) -> bool:
    """REMOVE-CONCATENATION: a random concat is removed; its readers read one of its two
    inputs (random); a branch left without a path to the classifier goes with it."""
    return _remove(genome, space, "concat", rng)


# ------------------------------------------------------------------------ alterations


def _alter(genome: dict[str, Any], space: Any, key: str, choices: tuple[int, ...], rng: Any) -> bool:
    convs = [layer["id"] for layer in genome["layers"] if layer["type"] == "conv"]

    def edit_for(i: int, value: int) -> Edit:
        def edit(g: dict[str, Any]) -> None:
            layer_by_id(g)[i][key] = value
        return edit

    by_id = layer_by_id(genome)
    edits = []
    for i in _shuffled(convs, rng):
        others = [v for v in choices if v != by_id[i][key]]
        if others:
            edits.append(edit_for(i, rng.choice(others)))
    return _first_valid(genome, space, edits)


def alter_channels(genome: dict[str, Any], space: Any, rng: Any = random) -> bool:
    """ALTER-NUMBER-OF-CHANNELS: a random conv gets another of {16, 32, 48, 64, 96}."""
    return _alter(genome, space, "channels", space.params.channel_choices, rng)


def alter_stride(genome: dict[str, Any], space: Any, rng: Any = random) -> bool:
    """ALTER-STRIDE: a random conv gets the other of {1, 2} (where the result is valid)."""
    return _alter(genome, space, "stride", space.params.stride_choices, rng)


def alter_filter_size(genome: dict[str, Any], space: Any, rng: Any = random) -> bool:
    """ALTER-FILTER-SIZE: a random conv gets the other of {1x1, 3x3}."""
    return _alter(genome, space, "kernel", space.params.kernel_choices, rng)


#: the nine operations of sec. 3.1, by name, in the paper's order
STEPS: dict[str, Callable[..., bool]] = {
    "insert_convolution": insert_convolution,
    "insert_concatenation": insert_concatenation,
    "insert_pooling": insert_pooling,
    "remove_convolution": remove_convolution,
    "remove_concatenation": remove_concatenation,
    "remove_pooling": remove_pooling,
    "alter_channels": alter_channels,
    "alter_stride": alter_stride,
    "alter_filter_size": alter_filter_size,
}


def _deap(name: str, step: Callable[..., bool]) -> Callable[..., tuple[Any]]:
    def op(individual: Any, space: Any, rng: Any = random) -> tuple[Any]:
        individual.applied = step(individual, space, rng)
        return (individual,)

    op.__name__ = op.__qualname__ = f"mut_{name}"
    op.__doc__ = f"DEAP operator of :func:`{name}`; sets ``individual.applied``.\n\n{step.__doc__}"
    return op


mut_insert_convolution = register_operator("mut_insert_convolution", "eigen")(_deap("insert_convolution", insert_convolution))
mut_insert_concatenation = register_operator("mut_insert_concatenation", "eigen")(
    _deap("insert_concatenation", insert_concatenation))
mut_insert_pooling = register_operator("mut_insert_pooling", "eigen")(_deap("insert_pooling", insert_pooling))
mut_remove_convolution = register_operator("mut_remove_convolution", "eigen")(_deap("remove_convolution", remove_convolution))
mut_remove_concatenation = register_operator("mut_remove_concatenation", "eigen")(
    _deap("remove_concatenation", remove_concatenation))
mut_remove_pooling = register_operator("mut_remove_pooling", "eigen")(_deap("remove_pooling", remove_pooling))
mut_alter_channels = register_operator("mut_alter_channels", "eigen")(_deap("alter_channels", alter_channels))
mut_alter_stride = register_operator("mut_alter_stride", "eigen")(_deap("alter_stride", alter_stride))
mut_alter_filter_size = register_operator("mut_alter_filter_size", "eigen")(_deap("alter_filter_size", alter_filter_size))


# ------------------------------------------------------------------------ step size


def draw_steps(step_size: int, rng: Any = random) -> int:
    """The number of mutation steps of one child: uniform in [1, step_size] (sec. 3.1)."""
    if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
        raise ValueError(f"step_size: must be an integer >= 1, got {step_size!r}")
    return rng.randint(1, step_size)


def apply_steps(genome: dict[str, Any], space: Any, steps: int, rng: Any = random) -> list[str]:
    """Apply ``steps`` mutation steps; each draws one of the nine operations uniformly and,
    when it cannot apply, another among those not yet tried for this step. Returns the
    names applied (shorter than ``steps`` only if no operation could apply)."""
    names = list(STEPS)
    applied = []
    for _ in range(steps):
        left = list(names)
        while left:
            name = rng.choice(left)
            if STEPS[name](genome, space, rng):
                applied.append(name)
                break
            left.remove(name)
        else:
            break
    return applied


@register_operator("mut_eigen", "eigen")
def mut_eigen(individual: Any, space: Any, step_size: int = 10, rng: Any = random) -> tuple[Any]:
    """One EIGEN mutation (sec. 3.1): ``k`` uniform in [1, ``step_size``] steps of the nine
    operations (:func:`apply_steps`), before the child's single training. Sets
    ``individual.mutations`` to the list of operation names applied (plain strings)."""
    individual.mutations = apply_steps(individual, space, draw_steps(step_size, rng), rng)
    return (individual,)


@register_operator("sample_eigen", "eigen")
def sample_eigen(space: Any, steps: int = 100, rng: Any = random) -> Any:
    """A random architecture of the EIGEN space for random search: the start network
    (sec. 3.1, global pooling only) after ``k`` uniform in [1, ``steps``] of the nine
    operations (:func:`apply_steps`), so its size spreads over what an evolution of about
    ``steps`` operations reaches. The space's own initialiser gives only the start network."""
    individual = space.random_individual(rng)
    apply_steps(individual, space, draw_steps(steps, rng), rng)
    return individual


# ------------------------------------------------------------------------ duplication


def duplicate(genome: dict[str, Any], space: Any, max_times: int = 2,
              modes: tuple[str, ...] = DUPLICATION_MODES, rng: Any = random) -> list[Any] | None:
    """DUPLICATION (sec. 3.3): one block of equal feature-map size
    (:func:`~deap_nas.spaces.eigen.blocks`), a mode in ``modes`` and a count in
    [1, ``max_times``], drawn in a random order; the first that gives a valid genome
    different from the original is applied (:func:`~deap_nas.spaces.eigen.duplicate_block`).
    Returns ``[block index, times, mode]``, or None (genome unchanged) when none does."""
    if isinstance(max_times, bool) or not isinstance(max_times, int) or max_times < 1:
        raise ValueError(f"max_times: must be an integer >= 1, got {max_times!r}")
    bad = [m for m in modes if m not in DUPLICATION_MODES]
    if not modes or bad:
        raise ValueError(f"modes: must be a non-empty list of {list(DUPLICATION_MODES)}, got {list(modes)!r}")
    if not _room(genome, space):
        return None
    found = blocks(genome, space.params.input_shape)
    choices = _shuffled([(b, t, m) for b in range(len(found)) for m in modes for t in range(1, max_times + 1)], rng)
    before = space.decode(genome).hash()
    cap = space.params.max_layers
    for b, times, mode in choices:
        trial = copy.deepcopy(dict(genome))
        duplicate_block(trial, found[b], times, mode)
        if (space.is_valid(trial) and (cap is None or len(trial["layers"]) <= cap)
                and space.decode(trial).hash() != before):
            genome.clear()
            genome.update(trial)
            return [b, times, mode]
    return None


@register_operator("mut_duplicate_block", "eigen")
def mut_duplicate_block(individual: Any, space: Any, max_times: int = 2,
                        modes: tuple[str, ...] = DUPLICATION_MODES, rng: Any = random) -> tuple[Any]:
    """DEAP operator of :func:`duplicate`; sets ``individual.applied`` (bool) and
    ``individual.duplicated`` (``[block index, times, mode]`` or None)."""
    individual.duplicated = duplicate(individual, space, max_times, tuple(modes), rng)
    individual.applied = individual.duplicated is not None
    return (individual,)
