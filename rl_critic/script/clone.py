"""Each clone runs its own code, though clones share one virtualenv.

The virtualenv is shared (its torch pair is a 5.5 GB install, see scripts/venv.sh), and the editable install in
it points at the clone that ran `make` last: `rl-critic` typed in another clone ran that clone's code. The
`rl-critic` command therefore looks for the rl-critic clone that holds the working directory; when it is not the
one its code comes from, it runs again on that clone's code (`python -m rl_critic.cli`, the clone first on
`PYTHONPATH`), with one line saying so. `python -m rl_critic...` needs none of this: Python puts the working
directory first on `sys.path` itself.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

# Set in the re-run (and settable by a user who wants the installed code wherever they are).
PINNED = "RL_CRITIC_CLONE"


def enclosing_clone(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding an rl-critic source tree (pyproject + package)."""
    for folder in (start, *start.parents):
        project = folder / "pyproject.toml"
        if project.is_file() and (folder / "rl_critic" / "__init__.py").is_file():
            try:
                if re.search(r'^name\s*=\s*"rl-critic"', project.read_text(errors="replace"), re.MULTILINE):
                    return folder
            except OSError:
                return None
    return None


def run_from_this_clone(argv: Sequence[str]) -> None:
    """Re-run this command on the code of the clone around the working directory, if that is another clone's
    than this code's (returns only when it is not)."""
    if os.environ.get(PINNED):
        return
    here = enclosing_clone(Path.cwd().resolve())
    mine = Path(__file__).resolve().parents[2]
    if here is None or here == mine:
        return
    print(
        f"rl-critic: running the code of this clone ({here}); the shared virtualenv's install is {mine}'s "
        "(`make install` here installs this clone's dependencies)",
        file=sys.stderr,
    )
    path = os.pathsep.join(filter(None, [str(here), os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, PINNED: str(here), "PYTHONPATH": path}
    os.execve(sys.executable, [sys.executable, "-m", "rl_critic.cli", *argv], environment)
