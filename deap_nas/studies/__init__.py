"""Validation studies and baselines of the papers as reusable experiment tools (issue 9).

Each study is a registered function over the shared runtime (search space decode,
:class:`~deap_nas.runtime.evaluator.Evaluator` with its journal, run directories), with a
YAML config, a plot and printed statistics; ``deap-nas study NAME CONFIG`` runs one.

| study | paper | what |
|---|---|---|
| ``locality`` | ImmuNeCS sec. 4.1, Fig. 4 | parent affinity vs clones' mean / std |
| ``partial_evaluation`` | ImmuNeCS sec. 4.1, Fig. 5 | partial vs full training, with / without inheritance |
| ``progressive`` | ImmuNeCS sec. 4.1, Fig. 6 | affinity before / after appending a layer |
| ``search_vs_random`` | ImmuNeCS sec. 4.3, Fig. 7; macro-NAS Fig. 3 | final accuracy vs evaluations, tests |
| ``transfer`` | ImmuNeCS sec. 4.4 | the same architectures on two data sets, rankings compared |
| ``seeds`` | all | N seeds of any config, one table with mean, std, best and device-hours |
| ``age_decay`` | MiniGen eq. 1, Fig. 3 | best network's birth generation with and without decay |
"""

from . import age_decay, locality, partial, progressive, runs, transfer  # noqa: F401  (registration)
from .base import (
    STUDIES,
    Study,
    StudyConfig,
    load_study_config,
    register_study,
    resume_study,
    run_study,
)
from .runs import run_metrics, tabulate_runs
from .stats import (
    Correlation,
    TestResult,
    concordance,
    loess,
    loess_band,
    mann_whitney,
    rankdata,
    spearman,
    summarize,
    welch_t,
    wilcoxon_signed_rank,
)

__all__ = [
    "STUDIES",
    "Correlation",
    "Study",
    "StudyConfig",
    "TestResult",
    "concordance",
    "load_study_config",
    "loess",
    "loess_band",
    "mann_whitney",
    "rankdata",
    "register_study",
    "resume_study",
    "run_metrics",
    "run_study",
    "spearman",
    "summarize",
    "tabulate_runs",
    "welch_t",
    "wilcoxon_signed_rank",
]
