"""Run a search from a config, serially or under SCOOP (same as `deap-nas run`).

    python experiments/run.py experiments/configs/random_search_quick.yaml
    python -m scoop -n 4 experiments/run.py experiments/configs/random_search_quick.yaml
    python -m scoop --hostfile hosts -n 16 experiments/run.py CONFIG --run-dir /shared/runs/x
    python -m scoop -n 4 experiments/run.py resume RUN_DIR

Under SCOOP the evaluations are spread over the workers (parallel.backend: auto); the run
directory must be on a file system all hosts share.
"""

import sys

from deap_nas.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    rc = main(args if args[:1] == ["resume"] else ["run", *args])
    if rc:  # under SCOOP a SystemExit(0) would be reported as a failure
        sys.exit(rc)
