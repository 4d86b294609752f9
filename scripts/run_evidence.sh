#!/usr/bin/env bash
# Run (or resume) the five search-vs-random evidence studies one after another, each in
# runs/evidence/<method>. Extra arguments go to every `deap-nas study` call, e.g.
#   scripts/run_evidence.sh --set 'params.seeds=[0]' --set params.metric=best_val   # a pilot
# CIFAR-10 studies (eigen, nasgep) need DEAP_NAS_DATA pointing at the CIFAR-10 data.
set -euo pipefail
cd "$(dirname "$0")/.."
for method in ${EVIDENCE_METHODS:-regevo immunecs minigen nasgep eigen}; do
  dir="runs/evidence/$method"
  start=$(date +%s)
  # an existing study directory is continued (finished runs are only read)
  deap-nas study search_vs_random "experiments/studies/search_vs_random_evidence_$method.yaml" --dir "$dir" "$@"
  echo "evidence $method: $(( $(date +%s) - start )) s"
done
