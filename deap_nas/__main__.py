"""``python -m deap_nas ...``: the ``deap-nas`` command line, also as a file SCOOP can start.

SCOOP 0.7 takes a script path, not a module: ``python -m scoop -n 8 PATH run CONFIG``
with PATH this file (``python -c "import deap_nas.__main__ as m; print(m.__file__)"``).
Run as a file, its own folder is taken off ``sys.path`` so the package's modules
(``data``, ``nn``, ...) cannot shadow top-level ones; under SCOOP a zero exit code is
not raised as SystemExit (SCOOP would report it as a failure).
"""

import os
import sys

if not __package__:  # run as a file: by SCOOP (workers too) or `python .../deap_nas/__main__.py`
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]

from deap_nas.cli import main  # noqa: E402  (absolute: SCOOP runs this file outside its package)

if __name__ == "__main__":
    rc = main(sys.argv[1:])
    if rc:
        sys.exit(rc)
