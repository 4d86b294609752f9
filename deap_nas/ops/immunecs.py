"""ImmuNeCS operators: cloning, hypermutation, random insertion, augmentation, selection.

Frachon et al., "ImmuNeCS: Neural Committee Search by an Artificial Immune System",
sec. 3.4, Algorithms 1 and 2, eq. 1 and 2, Fig. 2, sec. 4.2. Torch-free; every operator
draws only from ``rng`` (default: the ``random`` module, DEAP's stream).

- :func:`clone_population`: ``n_c`` clones per parent (Algorithm 1, ``Clone``). Each clone
  has an invalid fitness and records its parent's affinity as ``parent_affinity``.
- :func:`mut_hypermutation`: one application of Algorithm 2 to one clone, in place,
  DEAP-style. The rate is ``alpha = exp(-f_parent / rho)`` (eq. 1); hidden layer v_l
  (node id l = 1..L, Fig. 1) is perturbed by ``N(0, sigma^2)``, ``sigma = alpha * l / L``.
  Eq. 2 prints ``sigma = alpha (l + 1) / L``: we read its l as the 0-based index of the
  hidden layer (= node id - 1), because with the node ids 1..L the deepest layer would get
  ``alpha (L + 1) / L > alpha`` and the first ``2 alpha / L``, while the 0-based reading
  runs from ``alpha / L`` (first layer) to exactly ``alpha`` (the layer next to the head),
  "linearly larger mutation variances to more recent layers" with eq. 1's rate as the
  largest. The operation type of the CIFAR-10 space uses ``sigma * op_sigma_scale`` =
  sigma / 2 (sec. 4.2, "N(0, (sigma/2)^2)": eight op types make denser bins than
  Fashion's four). Perturbed values are clipped to [0, 1].
- :func:`random_insertion`: ``N_i`` random genomes at the population's mean depth.
- :func:`augment` / :func:`make_augmented_copies`: a clone with one random layer appended;
  the head is not part of the genome, so "rebuilding the head" is the builder's job.
- :func:`sel_best_n`: the N best of parents and clones.

Algorithm 2, as implemented (one *pass*):

1. CIFAR-10 only: for every layer v_l, l >= 2, perturb its indegree value; if it now has
   indegree 2, then if it had 1 before sample the second input uniformly among v_0..v_{l-2}
   (a fresh uniform ``src``), else perturb ``src``. All layers are perturbed, as in the
   pseudo-code; ``stop_at_first_connection=True`` stops at the first discretised
   connection change instead (the text's "immediately move on"). If any discretised
   connection changed, the pass ends.
2. Otherwise for every layer v_l, l >= 1, in order: perturb the aggregation when the
   indegree is 2 and stop if its discrete value changed; else perturb the operation type,
   and if the discrete type changed sample all hyperparameters uniformly from [0, 1] and
   stop; else perturb each hyperparameter the op expresses in turn and stop at the first
   whose discrete value changed.

So a pass changes either only connections or exactly one discretised element (an
aggregation, an op type with its fresh hyperparameters, or one hyperparameter), or
nothing; sub-threshold perturbations are kept in the genes (Fig. 2).

One application per clone, as Algorithm 2 is written ("for each clone c_j ... return
clones"): affinity therefore controls how much a clone changes. At high affinity most
perturbations stay below a bin boundary and many clones come out of Algorithm 2 with the
architecture of their parent (their sub-threshold perturbations recorded, Fig. 2); at low
affinity almost every clone changes one element (:func:`changed_elements` counts them).

No duplicates (sec. 3.4, "we keep track of all architectures already evaluated using a
unique string encoding scheme and do not allow mutated clones to be identical to previously
encountered networks"). Our reading: the rule decides which clones are admitted, it does
not re-mutate them. A clone whose
:meth:`~deap_nas.spaces.immunecs.ImmuneSpace.string_encoding` equals its parent's (Algorithm
2 changed nothing discrete) or one in ``seen`` is marked ``novel = False`` and the loop
drops it before evaluation (no replacement is drawn: the text describes none, and repeating
Algorithm 2 until the clone is new would make every clone change, whatever its parent's
affinity, contradicting eq. 1). A novel clone is added to ``seen`` (so a later identical
sibling is dropped) and marked ``novel = True``. Alg. 1's ``N(1 + n_a) n_c`` clones are
thus an upper bound on the clones evaluated per generation.

Each mutated clone gets ``changed_layers``: the sorted node ids (= 1-based layer indices;
node 0 is the stem) whose discretised gene (op, expressed hyperparameters, inputs,
aggregation) differs from the parent's. Weight inheritance re-initialises these and,
separately, the layers whose channel counts changed downstream.

Weight inheritance (sec. 3.4: clones and augmented copies start from their parent's
trained weights, except the layers the mutation changed and the new layer, which get He
initialisation). The loop asks for it with :func:`inheritance_request` ``(child, parent)``
once the parent has been evaluated: an
:class:`~deap_nas.evaluation.request.EvalRequest` that starts from
``parent.result["weights"]`` and re-initialises the operators' ``changed_layers`` (the
annotation is consumed: it is not left on the child). A parent without saved weights gives
a scratch start whose note says why. This module never touches torch or files.
"""

# ruff: noqa: E741  (l is the layer index, as in the paper)
from __future__ import annotations

import copy
import itertools
import math
import random
from collections.abc import Iterable
from typing import Any

from ..evaluation.request import EvalRequest
from ..spaces.immunecs import ImmuneSpace, bin_index, clip01, mean_depth
from .registry import ANY, register_operator


class SeenRegistry:
    """String encodings of every architecture seen so far (sec. 3.4).

    ``add`` / ``contains`` / ``in`` accept a genome (encoded with ``space``) or an encoding
    string. ``to_json`` / ``from_json`` give a sorted list for snapshots.
    """

    def __init__(self, space: ImmuneSpace, keys: Iterable[str] = ()) -> None:
        self.space = space
        self._keys: set[str] = set(keys)

    def key(self, item: Any) -> str:
        return item if isinstance(item, str) else self.space.string_encoding(item)

    def add(self, item: Any) -> bool:
        """Record ``item``; True when it was new."""
        k = self.key(item)
        new = k not in self._keys
        self._keys.add(k)
        return new

    def contains(self, item: Any) -> bool:
        return self.key(item) in self._keys

    __contains__ = contains

    def __len__(self) -> int:
        return len(self._keys)

    def to_json(self) -> list[str]:
        return sorted(self._keys)

    @classmethod
    def from_json(cls, space: ImmuneSpace, data: Iterable[str]) -> SeenRegistry:
        return cls(space, data)


def inheritance_request(child: Any, parent: Any) -> EvalRequest:
    """The evaluation request that lets ``child`` start from ``parent``'s trained weights
    (module docstring), re-initialising the nodes in ``child.changed_layers`` (removed from
    the child: it describes this mutation, not the individual). Torch-free."""
    reinit = getattr(child, "__dict__", {}).pop("changed_layers", None) or ()
    return EvalRequest.inherit(getattr(parent, "result", None), reinit=reinit)


def _fresh_copy(individual: Any) -> Any:
    """A deep copy without fitness or evaluation result."""
    c = copy.deepcopy(individual)
    if c.fitness.valid:
        del c.fitness.values
    c.__dict__.pop("result", None)
    return c


def mutation_rate(f_parent: float, rho: float) -> float:
    """Eq. 1: ``alpha = exp(-f_parent / rho)``."""
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not rho > 0:
        raise ValueError(f"rho must be a number > 0, got {rho!r}")
    return math.exp(-float(f_parent) / rho)


def layer_sigma(alpha: float, l: int, depth: int) -> float:
    """Eq. 2: sigma of hidden layer v_l (node id l = 1..depth) = ``alpha * l / depth``, the
    paper's ``alpha (l' + 1) / L`` with l' = l - 1 its 0-based layer index (module docstring)."""
    return alpha * l / depth


def _perturb(value: float, sigma: float, rng: Any) -> float:
    return clip01(value + rng.gauss(0.0, sigma))


def hypermutation_pass(
    individual: list, space: ImmuneSpace, alpha: float, stop_at_first_connection: bool = False, rng: Any = random
) -> tuple[str, list[int]]:
    """One application of Algorithm 2 in place (see the module docstring).

    Returns ``(what, layers)``: ``("connections", [l, ...])`` when discretised connections
    changed, ``("aggregation" | "op" | "hp", [l])`` for the one element changed, or
    ``("none", [])``.
    """
    depth = len(individual)
    if space.skip_connections:
        before = space.connections(individual)
        changed = []
        for l in range(2, depth + 1):
            gene, sigma = individual[l - 1], layer_sigma(alpha, l, depth)
            was = space.indegree(individual, l)
            gene["indeg"] = _perturb(gene["indeg"], sigma, rng)
            if space.indegree(individual, l) == 2:
                gene["src"] = rng.random() if was == 1 else _perturb(gene["src"], sigma, rng)
            if space.second_input(individual, l) != before[l - 1]:
                changed.append(l)
                if stop_at_first_connection:
                    break
        if changed:
            return "connections", changed
    scale = space.params.op_sigma_scale
    for l in range(1, depth + 1):
        gene, sigma = individual[l - 1], layer_sigma(alpha, l, depth)
        if space.indegree(individual, l) == 2:
            agg = space.aggregation(individual, l)
            gene["agg"] = _perturb(gene["agg"], sigma, rng)
            if space.aggregation(individual, l) != agg:
                return "aggregation", [l]
        op = space.op_index(gene)
        gene["op"] = _perturb(gene["op"], sigma * scale, rng)
        if space.op_index(gene) != op:
            gene["hp"] = [rng.random() for _ in range(space.num_hp)]
            return "op", [l]
        for i, (_, values) in enumerate(space.hp_choices(space.op_types[op])):
            old = bin_index(gene["hp"][i], len(values))
            gene["hp"][i] = _perturb(gene["hp"][i], sigma, rng)
            if bin_index(gene["hp"][i], len(values)) != old:
                return "hp", [l]
    return "none", []


def _parent_affinity(individual: Any, f_parent: float | None) -> float:
    if f_parent is not None:
        return float(f_parent)
    f = getattr(individual, "parent_affinity", None)
    if f is not None:
        return float(f)
    fitness = getattr(individual, "fitness", None)
    if fitness is not None and fitness.valid:
        return float(fitness.values[0])
    raise ValueError(
        "mut_hypermutation: no parent affinity: pass f_parent, or clone with clone_population "
        "(parent_affinity), or mutate before invalidating the fitness"
    )


def changed_layer_ids(space: ImmuneSpace, before: list, after: list) -> list[int]:
    """Node ids whose discretised gene differs between two genomes (extra layers count)."""
    out = []
    for l in range(1, len(after) + 1):
        if l > len(before) or space.layer_key(before, l) != space.layer_key(after, l):
            out.append(l)
    return out


def changed_elements(space: ImmuneSpace, before: list, after: list) -> int:
    """How many discretised elements differ between two genomes: per layer its operation
    type, each expressed hyperparameter, its second input and its aggregation (a layer
    only one genome has counts each of its elements)."""
    n = 0
    for l in range(1, max(len(before), len(after)) + 1):
        a = _elements(space, before, l) if l <= len(before) else ()
        b = _elements(space, after, l) if l <= len(after) else ()
        n += sum(1 for x, y in itertools.zip_longest(a, b, fillvalue=object()) if x != y)
    return n


def _elements(space: ImmuneSpace, genome: list, l: int) -> tuple:
    gene = genome[l - 1]
    k = space.second_input(genome, l)
    return (space.op_index(gene), k, space.aggregation(genome, l) if k is not None else None,
            *space.hp_indices(gene))


@register_operator("mut_hypermutation", "immunecs")
def mut_hypermutation(
    individual: list,
    space: ImmuneSpace,
    f_parent: float | None = None,
    rho: float | None = None,
    seen: SeenRegistry | None = None,
    stop_at_first_connection: bool = False,
    rng: Any = random,
) -> tuple[list]:
    """One application of Algorithm 2 to one clone (module docstring).

    ``f_parent``: the parent's affinity; by default the clone's ``parent_affinity``
    (:func:`clone_population`), else its still-valid fitness (read, never written).
    ``rho``: eq. 1's mutation factor, by default ``space.params.rho``. Sets
    ``changed_layers`` and ``novel`` (False when the clone's architecture is its parent's
    or in ``seen``: sec. 3.4 does not admit it; True ones are added to ``seen``).
    """
    alpha = mutation_rate(_parent_affinity(individual, f_parent), space.params.rho if rho is None else rho)
    parent = copy.deepcopy(list(individual))
    hypermutation_pass(individual, space, alpha, stop_at_first_connection, rng)
    key = space.string_encoding(individual)
    novel = key != space.string_encoding(parent) and (seen is None or key not in seen)
    if novel and seen is not None:
        seen.add(key)
    individual.changed_layers = changed_layer_ids(space, parent, individual)
    individual.novel = novel
    return (individual,)


@register_operator("clone_population", ANY)
def clone_population(population: list, n_c: int = 3) -> list:
    """``n_c`` deep copies of each parent, parent by parent (Algorithm 1, ``Clone``).

    Each clone has an invalid fitness, ``parent_affinity`` = its parent's fitness value
    (None when the parent has none) and ``changed_layers = []``.
    """
    if isinstance(n_c, bool) or not isinstance(n_c, int) or n_c < 0:
        raise ValueError(f"clone_population: n_c must be an integer >= 0, got {n_c!r}")
    clones = []
    for parent in population:
        f = parent.fitness.values[0] if parent.fitness.valid else None
        for _ in range(n_c):
            c = _fresh_copy(parent)
            c.parent_affinity = f
            c.changed_layers = []
            clones.append(c)
    return clones


@register_operator("random_insertion", "immunecs")
def random_insertion(
    population: list,
    n_i: int = 2,
    space: ImmuneSpace | None = None,
    seen: SeenRegistry | None = None,
    max_tries: int = 1000,
    rng: Any = random,
) -> list:
    """``n_i`` new random genomes whose depth is the population's mean depth rounded half
    up (sec. 3.4, "Random insertions"). With ``seen``, each is redrawn (at most
    ``max_tries`` times) until new, then recorded."""
    if space is None:
        raise ValueError("random_insertion: a space is needed")
    if isinstance(n_i, bool) or not isinstance(n_i, int) or n_i < 0:
        raise ValueError(f"random_insertion: n_i must be an integer >= 0, got {n_i!r}")
    if not population:
        raise ValueError("random_insertion: the population is empty (no mean depth)")
    depth = mean_depth(population)
    out = []
    for _ in range(n_i):
        for _ in range(max_tries):
            ind = space.random_genome(depth, rng)
            if seen is None or ind not in seen:
                break
        if seen is not None:
            seen.add(ind)
        out.append(ind)
    return out


@register_operator("augment", "immunecs")
def augment(individual: list, space: ImmuneSpace, seen: SeenRegistry | None = None, rng: Any = random) -> list:
    """A clone of ``individual`` with one random layer appended (sec. 3.4, Fig. 3).

    The original is untouched. The clone has an invalid fitness, ``parent_affinity`` = the
    original's fitness value (None when invalid) and ``changed_layers`` = [its new node id].
    The new layer is a uniform random gene (its indegree included, "the number of incoming
    edges sampled randomly"). Recorded in ``seen`` when given.
    """
    c = _fresh_copy(individual)
    c.append(space.random_gene(rng))
    c.parent_affinity = individual.fitness.values[0] if individual.fitness.valid else None
    c.changed_layers = [len(c)]
    if seen is not None:
        seen.add(c)
    return c


@register_operator("make_augmented_copies", "immunecs")
def make_augmented_copies(
    population: list, n_a: int = 3, space: ImmuneSpace | None = None, seen: SeenRegistry | None = None,
    rng: Any = random,
) -> list:  # fmt: skip
    """``n_a`` augmented clones of each network, parent by parent; the originals stay in
    the caller's population (Algorithm 1, ``MakeAugmentedCopies``)."""
    if space is None:
        raise ValueError("make_augmented_copies: a space is needed")
    if isinstance(n_a, bool) or not isinstance(n_a, int) or n_a < 0:
        raise ValueError(f"make_augmented_copies: n_a must be an integer >= 0, got {n_a!r}")
    return [augment(ind, space, seen=seen, rng=rng) for ind in population for _ in range(n_a)]


@register_operator("sel_best_n", ANY)
def sel_best_n(individuals: list, n: int) -> list:
    """The ``n`` best individuals by fitness (references, best first; ties keep input
    order, so parents listed first win ties against their clones)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"sel_best_n: n must be an integer >= 0, got {n!r}")
    invalid = [i for i, ind in enumerate(individuals) if not ind.fitness.valid]
    if invalid:
        raise ValueError(f"sel_best_n: individuals {invalid[:5]} have no fitness")
    return sorted(individuals, key=lambda ind: ind.fitness, reverse=True)[:n]
