"""NASGEP search loop (Alves & de Oliveira 2020, sec. III-A workflow, Fig. 1; settings
sec. IV-A). Torch-free: with a plain DEAP toolbox (``toolbox.evaluate``) it runs on any
fitness function; the runtime adds continued training, the journal and the weight store.

State kept by the loop (``state.extra``, plain JSON, so snapshots resume it):

- two **gene pools** (ADF genes of normal and of reduction cells), each gene
  ``{"chrom": [...], "fitness": f or None}``;
- the **reduction-cell population** ``{"chrom": [...], "fitness": f, "dead": bool}``;
- the thresholds ``T_g`` and ``T_c``.

Individuals (``toolbox.space.make_individual``) hold a normal cell, the reduction cell
drawn for them and the genes both use; ``ind.loop_state`` keeps ``epochs`` (trained so
far), ``reduction`` (the id of its reduction cell) and ``dead``; ``ind.birth`` its age.

Workflow (sec. III-A), generation 0: ``gene_pool_size`` random genes per pool (P_g),
``reduction_population`` random reduction cells (P_r), ``population_size`` individuals
(P_i): a random normal cell and a reduction cell drawn at random; each is trained one
epoch. Each later generation:

1. genes not used by a live cell whose fitness is below T_g are removed; then between
   ``genes_min`` and ``genes_max`` children are made from tournament-selected parent
   pairs by the GEP operators, fewer when the pool would pass ``gene_pool_max`` (but
   never fewer than ``genes_min``: room is made by removing the worst unused genes);
2. P_i new reduction cells are made from tournament-selected pairs; P_i children of the
   normal population are made from tournament-selected pairs (GEP reproduction, sec.
   III-E: a cell's head symbols mutate only to functions, "elements in an individual's
   head only change to a function"; genes, not individuals, keep GEP's default mutation
   in step 1), each given a reduction cell drawn by tournament among the live reduction
   cells;
3. every live individual (parents and children) is trained one more epoch (the runtime
   continues from its own last weights), and once more when its fitness >= T_c; an
   individual reaching ``max_epochs`` (E_max) is marked dead, and so is its reduction cell;
4. survivor selection: the best individual is kept (elitism); the oldest other one is
   killed; the other dead ones are discarded; the rest are cut to P_i by fitness.
   Reduction cells in use survive; of the others, the dead are removed and the best
   live ones are kept up to P_i;
5. T_g becomes the P_i-th best fitness of the generation's individuals, T_c = 0.75 T_g.

Gene and cell fitness (the paper gives none, ours): a gene's (and a reduction cell's)
fitness is the best fitness of any individual evaluated with it expressed; a new gene or
reduction cell starts from the mean of its parents' fitness until one is evaluated; a
gene no individual has used yet has no fitness and counts as below any T_g.

Departures: the elite is kept even when it is dead (it is no longer trained); a failed
evaluation (a too-large candidate) is marked dead at once; tournaments have
``tournament_size`` entrants (the paper gives no size); the search stops at the runtime
budget (the paper's 24 GPU-hours) or ``max_generations``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..checks import check_int
from ..evaluation.request import EvalRequest
from ..ops.gep import reproduce_pair
from .base import Algorithm, Batch
from .common import SearchControl, SearchState, fitness_record, is_ok
from .registry import register_algorithm, run_algorithm

KINDS = ("normal", "reduction")
_NEG = float("-inf")


@dataclass
class NasgepSearchParams:
    """``algorithm:`` section for ``name: nasgep`` (sec. IV-A values as defaults)."""

    population_size: int = 10  # P_i
    reduction_population: int = 10  # P_r (initial reduction cells)
    gene_pool_size: int = 50  # P_g (initial genes per pool)
    gene_pool_max: int = 100  # P_g^(max)
    genes_min: int = 2  # C^g_min new genes per generation
    genes_max: int = 10  # C^g_max
    max_epochs: int = 10  # E_max
    tc_fraction: float = 0.75  # T_c = tc_fraction * T_g
    tournament_size: int = 3
    mutation: float = 0.044  # GEP rates (Ferreira 2001 defaults, sec. III-E "default parameters")
    is_rate: float = 0.1
    ris_rate: float = 0.1
    gene_rate: float = 0.1
    one_point: float = 0.3
    two_point: float = 0.3
    max_generations: int | None = None
    hall_of_fame: int = 10

    def __post_init__(self) -> None:
        for name in ("population_size", "reduction_population", "gene_pool_size", "gene_pool_max",
                     "genes_min", "genes_max", "max_epochs", "tournament_size", "hall_of_fame"):
            check_int(name, getattr(self, name), 1)
        if self.max_generations is not None:
            check_int("max_generations", self.max_generations, 1)
        if self.genes_max < self.genes_min:
            raise ValueError(f"genes_max: must be >= genes_min ({self.genes_min}), got {self.genes_max}")
        if self.gene_pool_max < self.gene_pool_size:
            raise ValueError(f"gene_pool_max: must be >= gene_pool_size ({self.gene_pool_size}), "
                             f"got {self.gene_pool_max}")
        for name in ("tc_fraction", "mutation", "is_rate", "ris_rate", "gene_rate", "one_point", "two_point"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise ValueError(f"{name}: must be a number in [0, 1], got {v!r}")


# ---------------------------------------------------------------------------- helpers
def _fit(entry: dict[str, Any]) -> float:
    f = entry.get("fitness")
    return _NEG if f is None else float(f)


def tournament(keys: list[Any], fitness: dict[Any, float], size: int, rng: Any = random) -> Any:
    """The fittest of ``size`` keys drawn without replacement (ties: the first drawn)."""
    if not keys:
        raise ValueError("tournament: nothing to select from")
    sample = rng.sample(keys, min(size, len(keys)))
    return max(sample, key=lambda k: fitness[k])


def ind_fitness(ind: Any) -> float:
    return ind.fitness.values[0] if ind.fitness.valid else _NEG


def remove_bad_genes(pool: dict[str, dict[str, Any]], used: set[str], t_g: float | None) -> list[str]:
    """Remove the genes not in ``used`` whose fitness is below ``t_g`` (no fitness counts
    as below); returns the removed ids. ``t_g`` None (before the first update): none."""
    if t_g is None:
        return []
    bad = [g for g, e in pool.items() if g not in used and _fit(e) < t_g]
    for g in bad:
        del pool[g]
    return bad


def genes_to_make(size: int, genes_min: int, genes_max: int, pool_max: int) -> int:
    """How many new genes this generation: up to ``genes_max`` while the pool stays within
    ``pool_max``, but at least ``genes_min``."""
    return max(genes_min, min(genes_max, pool_max - size))


def make_room(pool: dict[str, dict[str, Any]], used: set[str], n_new: int, pool_max: int) -> list[str]:
    """Remove the worst unused genes so that ``n_new`` more fit in ``pool_max`` (as far as
    unused genes allow); returns the removed ids."""
    excess = len(pool) + n_new - pool_max
    if excess <= 0:
        return []
    unused = sorted((g for g in pool if g not in used), key=lambda g: (_fit(pool[g]), g))
    out = unused[:excess]
    for g in out:
        del pool[g]
    return out


def select_survivors(population: list, size: int) -> list:
    """Sec. III-A step 7 on individuals with ``loop_state`` and ``birth``: keep the best
    (elitism); kill the oldest other one; drop the other dead ones; keep the ``size``
    fittest of the rest, the best included. Returns the survivors, best first."""
    if not population:
        return []
    best = max(population, key=lambda i: (ind_fitness(i), -i.birth))
    rest = [i for i in population if i is not best]
    if rest:
        oldest = min(rest, key=lambda i: i.birth)
        rest = [i for i in rest if i is not oldest]
    rest = [i for i in rest if not i.loop_state.get("dead")]
    rest.sort(key=lambda i: (ind_fitness(i), -i.birth), reverse=True)
    return [best] + rest[: size - 1]


def select_reduction_cells(cells: dict[str, dict[str, Any]], in_use: set[str], size: int) -> dict[str, dict[str, Any]]:
    """Reduction cells in use survive; of the others the dead go and the ``size`` fittest
    live ones stay (so more than ``size`` cells may remain)."""
    free = [r for r, e in cells.items() if r not in in_use and not e.get("dead")]
    free.sort(key=lambda r: (_fit(cells[r]), r), reverse=True)
    keep = set(in_use) | set(free[: max(0, size - len(in_use & set(cells)))])
    return {r: e for r, e in cells.items() if r in keep}


def threshold(fitnesses: list[float], rank: int) -> float | None:
    """The ``rank``-th best value (the worst one when there are fewer), or None if empty."""
    vals = sorted((f for f in fitnesses if f != _NEG), reverse=True)
    if not vals:
        return None
    return vals[min(rank, len(vals)) - 1]


def refresh_hall_of_fame(hof: Any, population: list) -> None:
    """``hof.update(population)``, after dropping members whose genome reappears in the
    population with a better fitness (an individual trained further): DEAP's hall of fame
    would otherwise keep the stale entry and skip the better one as a duplicate."""
    for ind in population:
        if not ind.fitness.valid:
            continue
        for k in reversed(range(len(hof))):
            if hof[k] == ind and ind.fitness > hof[k].fitness:
                hof.remove(k)
    hof.update(population)


# ---------------------------------------------------------------------------- the loop
@register_algorithm
class Nasgep(Algorithm):
    """The NASGEP workflow (module docstring) until ``max_generations`` or the budget;
    ``toolbox.reproduce`` (default :func:`~deap_nas.ops.gep.reproduce_pair`) makes the
    children of gene, reduction-cell and normal-cell pairs."""

    name = "nasgep"
    Params = NasgepSearchParams
    optional_roles = ("reproduce",)

    def __init__(self, toolbox: Any, params: Any = None, **kw: Any) -> None:
        super().__init__(toolbox, params, **kw)
        self.space = self.require_space("make_individual")
        p = self.p = self.params
        rates = dict(mutation=p.mutation, is_rate=p.is_rate, ris_rate=p.ris_rate, gene_rate=p.gene_rate,
                     one_point=p.one_point, two_point=p.two_point)
        # cells: head symbols mutate only to functions (sec. III-E); ADF genes: GEP's
        # default mutation, a head symbol becomes a function or a terminal
        self.cell_rates = dict(rates, head_functions_only=True)
        self.gene_rates = dict(rates, head_functions_only=False,
                               function_prob=getattr(self.space.params, "head_function_prob", 0.5))

    @property
    def x(self) -> dict[str, Any]:
        return self.state.extra

    # -------------------------------------------------------------- ids and pools
    def _new_id(self, counter: str, prefix: str) -> str:
        self.x[counter] = self.x.get(counter, 0) + 1
        return f"{prefix}{self.x[counter] - 1}"

    def pool(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.x["genes"][kind]

    def chroms(self, kind: str) -> dict[str, list[str]]:
        return {g: e["chrom"] for g, e in self.pool(kind).items()}

    def used(self, kind: str) -> set[str]:
        """Genes a live cell names anywhere in its chromosome (the population's normal cells,
        or the reduction-cell population), so that children of live cells, whose
        non-coding symbols may become coding, only ever name genes of the pool."""
        pool = self.pool(kind)
        if kind == "normal":
            chroms = [ind["normal"] for ind in self.state.population]
        else:
            chroms = [e["chrom"] for e in self.x["reductions"].values()]
        return {s for c in chroms for s in c if s in pool}

    def _reproduce(self, chroms: dict[str, list[str]], fit: dict[str, float], spec: Any, n: int,
                   rates: dict[str, Any]) -> list[tuple]:
        """``n`` children ``(chrom, parent ids)`` of tournament-selected pairs."""
        keys = sorted(chroms)
        out = []
        while len(out) < n:
            a = tournament(keys, fit, self.p.tournament_size, self.rng)
            b = tournament(keys, fit, self.p.tournament_size, self.rng)
            c1, c2 = list(chroms[a]), list(chroms[b])
            reproduce = getattr(self.toolbox, "reproduce", None) or reproduce_pair
            reproduce(c1, c2, spec=spec, rng=self.rng, **rates)
            out.append((c1, (a, b)))
            if len(out) < n:
                out.append((c2, (a, b)))
        return out

    @staticmethod
    def _mean_parent_fitness(entries: dict[str, dict[str, Any]], parents: tuple) -> float | None:
        vals = [entries[q]["fitness"] for q in parents if entries[q].get("fitness") is not None]
        return sum(vals) / len(vals) if vals else None

    # -------------------------------------------------------------- steps
    def start(self) -> Iterator[Batch]:
        p, sp = self.p, self.space
        self.x.update(genes={k: {} for k in KINDS}, reductions={}, T_g=None, T_c=None, births=0)
        for kind in KINDS:
            for _ in range(p.gene_pool_size):
                gid = self._new_id(f"next_{kind}_gene", kind[0])
                self.pool(kind)[gid] = {"chrom": sp.random_gene(kind, self.rng), "fitness": None}
        rgenes = sorted(self.pool("reduction"))
        for _ in range(p.reduction_population):
            rid = self._new_id("next_reduction", "R")
            self.x["reductions"][rid] = {"chrom": sp.random_cell(rgenes, self.rng), "fitness": None, "dead": False}
        ngenes = sorted(self.pool("normal"))
        rids = sorted(self.x["reductions"])
        pop = [self._individual(sp.random_cell(ngenes, self.rng), self.rng.choice(rids))
               for _ in range(p.population_size)]
        nevals = yield from self.train(pop, 0)
        pop = [i for i in pop if i.fitness.valid]
        self.thresholds(pop)
        self.close(0, nevals, pop)

    def _individual(self, normal: list[str], rid: str) -> Any:
        ind = self.space.make_individual(normal, self.x["reductions"][rid]["chrom"], self.chroms("normal"),
                                         self.chroms("reduction"))
        ind.birth = self.x["births"]
        self.x["births"] += 1
        ind.loop_state = {"epochs": 0, "reduction": rid, "dead": False}
        return ind

    def genes_step(self) -> None:
        """Step 4: remove bad genes, then reproduce the pools."""
        p = self.p
        for kind in KINDS:
            pool, used = self.pool(kind), self.used(kind)
            remove_bad_genes(pool, used, self.x["T_g"])
            n = genes_to_make(len(pool), p.genes_min, p.genes_max, p.gene_pool_max)
            make_room(pool, used, n, p.gene_pool_max)
            if not pool:
                continue
            fit = {g: _fit(e) for g, e in pool.items()}
            children = self._reproduce(self.chroms(kind), fit, self.space.gene_spec(kind), n, self.gene_rates)
            for chrom, parents in children:
                gid = self._new_id(f"next_{kind}_gene", kind[0])
                pool[gid] = {"chrom": chrom, "fitness": self._mean_parent_fitness(pool, parents)}

    def children_step(self) -> list:
        """Step 5: new reduction cells, then the normal population's children."""
        p, sp = self.p, self.space
        reds = self.x["reductions"]
        alive = [r for r, e in reds.items() if not e.get("dead")] or sorted(reds)
        rfit = {r: _fit(e) for r, e in reds.items()}
        rspec = sp.cell_spec(sorted(self.pool("reduction")))
        for chrom, parents in self._reproduce({r: reds[r]["chrom"] for r in alive}, rfit, rspec, p.population_size,
                                              self.cell_rates):
            rid = self._new_id("next_reduction", "R")
            reds[rid] = {"chrom": chrom, "fitness": self._mean_parent_fitness(reds, parents), "dead": False}
        alive = sorted(r for r, e in reds.items() if not e.get("dead"))
        rfit = {r: _fit(e) for r, e in reds.items()}
        pop = self.state.population
        normals = {str(i): ind["normal"] for i, ind in enumerate(pop)}
        nfit = {str(i): ind_fitness(ind) for i, ind in enumerate(pop)}
        nspec = sp.cell_spec(sorted(self.pool("normal")))
        kids = []
        for chrom, _ in self._reproduce(normals, nfit, nspec, p.population_size, self.cell_rates):
            rid = tournament(alive, rfit, p.tournament_size, self.rng)
            kids.append(self._individual(chrom, rid))
        return kids

    def _epoch(self, inds: list, gen: int) -> Iterator[Batch]:
        """One more training epoch for each of ``inds``: a new individual from scratch (or
        the weight store), a trained one continuing from its own last weights."""
        requests = []
        for ind in inds:
            st = ind.loop_state
            trained = ind.fitness.valid and (getattr(ind, "result", None) or {}).get("weights")
            requests.append(EvalRequest.continued(ind.result, until=st["epochs"] + 1) if trained else None)
        done = yield from self.evaluate(inds, gen, requests)
        for ind in done:
            st = ind.loop_state
            st["epochs"] += 1
            if not is_ok(ind) or st["epochs"] >= self.p.max_epochs:
                st["dead"] = True
                if st["reduction"] in self.x["reductions"]:
                    self.x["reductions"][st["reduction"]]["dead"] = True
        return len(done)

    def train(self, inds: list, gen: int) -> Iterator[Batch]:
        """Step 6: one epoch each, another one for those with fitness >= T_c."""
        live = [i for i in inds if not i.loop_state["dead"]]
        nevals = yield from self._epoch(live, gen)
        t_c = self.x["T_c"]
        if t_c is not None:
            again = [i for i in live if not i.loop_state["dead"] and i.fitness.valid and ind_fitness(i) >= t_c]
            nevals += yield from self._epoch(again, gen)
        self._credit(inds)
        return nevals

    def _credit(self, inds: list) -> None:
        """Gene and reduction-cell fitness: the best fitness of an individual using them."""
        for ind in inds:
            if not ind.fitness.valid or not is_ok(ind):
                continue
            f = ind.fitness.values[0]
            for kind in KINDS:
                pool = self.pool(kind)
                for g in set(self.space.used_genes(ind, kind)):
                    if g in pool:
                        e = pool[g]
                        e["fitness"] = f if not e.get("credited") else max(e["fitness"], f)
                        e["credited"] = True
            r = self.x["reductions"].get(ind.loop_state["reduction"])
            if r is not None:
                r["fitness"] = f if not r.get("credited") else max(r["fitness"], f)
                r["credited"] = True

    def survivors(self, everyone: list) -> list:
        """Step 7 for both populations, then the thresholds."""
        p = self.p
        pop = select_survivors(everyone, p.population_size)
        in_use = {i.loop_state["reduction"] for i in pop}
        self.x["reductions"] = select_reduction_cells(self.x["reductions"], in_use, p.population_size)
        self.thresholds(everyone)
        return pop

    def thresholds(self, everyone: list) -> None:
        """T_g = the P_i-th best fitness of the generation, T_c = tc_fraction * T_g (sec. IV-A)."""
        t_g = threshold([ind_fitness(i) for i in everyone if is_ok(i)], self.p.population_size)
        self.x["T_g"] = t_g
        self.x["T_c"] = None if t_g is None else self.p.tc_fraction * t_g

    def close(self, gen: int, nevals: int, pop: list) -> None:
        st = self.state
        st.population = pop
        refresh_hall_of_fame(st.hall_of_fame, pop)
        st.generation = gen
        self.record(pop, gen=gen, nevals=nevals, **fitness_record(pop),
                          T_g=self.x["T_g"], T_c=self.x["T_c"],
                          genes_normal=len(self.pool("normal")), genes_reduction=len(self.pool("reduction")),
                          reduction_cells=len(self.x["reductions"]))
        self.control.generation_done(st)

    def generation(self, gen: int) -> Iterator[Batch]:
        self.genes_step()
        kids = self.children_step()
        everyone = self.state.population + kids
        nevals = yield from self.train(everyone, gen)
        everyone = [i for i in everyone if i.fitness.valid]  # (children past the budget are dropped)
        pop = self.survivors(everyone)
        self.close(gen, nevals, pop)

    def steps(self) -> Iterator[Batch]:
        st = self.state
        yield from self.start_once()
        while st.population and not self.should_stop() and not self.generation_limit_reached("NASGEP"):
            yield from self.generation(st.generation + 1)


def nasgep(toolbox: Any, control: SearchControl, state: SearchState | None = None, **params: Any) -> SearchState:
    """Function form of :class:`Nasgep` (``params``: :class:`NasgepSearchParams` fields)."""
    return run_algorithm(Nasgep, toolbox, control, state, **params)
