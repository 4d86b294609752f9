#!/usr/bin/env bash
# Run (or resume) the papers' validation studies at the evidence scale, each in
# runs/validation/<name> (see docs/results.md). Extra arguments go to every `deap-nas study`.
# The regularized-evolution (Fig. 3) and NASGEP (random-sampling ablation) comparisons are
# the search-vs-random evidence studies themselves (scripts/run_evidence.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
run() {  # run <study type> <config name> <dir name>
  local dir="runs/validation/$3" start
  start=$(date +%s)
  # an existing study directory is continued (finished runs are only read); the config's
  # output section (title, reference) may change without --force
  deap-nas study "$1" "experiments/studies/$2.yaml" --dir "$dir" "${@:4}"
  echo "validation $3: $(( $(date +%s) - start )) s"
}
for name in ${VALIDATION_STUDIES:-locality partial age_decay eigen_ablation}; do
  case "$name" in
    locality) run locality locality_evidence locality "$@" ;;
    partial) run partial_evaluation partial_evaluation_evidence partial "$@" ;;
    age_decay) run age_decay age_decay_evidence age_decay "$@" ;;
    eigen_ablation) run search_vs_random search_vs_random_eigen_ablation eigen_ablation "$@" ;;
    *) echo "unknown validation study: $name (locality partial age_decay eigen_ablation)" >&2; exit 2 ;;
  esac
done
