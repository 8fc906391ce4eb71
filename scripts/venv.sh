#!/usr/bin/env bash
# The project's virtualenv: created once outside the clone, keyed by the torch pins and the Python
# version (the torch pair is a 5.5 GB install, so it is reused across clones and runs), then kept in
# step with pyproject.toml on every call.
#   scripts/venv.sh path      print the venv folder
#   scripts/venv.sh install   create/update it: torch + torchvision first (pinned), then `-e .[$EXTRAS]`
#                             with the exact versions of requirements/constraints.txt
# RL_CRITIC_VENV overrides the folder; EXTRAS (default: dev) picks the optional dependencies.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
extras=${EXTRAS:-dev}
key=$( (cat "$root/requirements/torch.txt"; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-12)
venv=${RL_CRITIC_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rl-critic/venvs/py-torch-$key}

case "${1:-}" in
  path) echo "$venv"; exit 0 ;;
  install) ;;
  *) echo "usage: scripts/venv.sh path|install" >&2; exit 2 ;;
esac

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9   # two runs at once (CI beside a developer) must not build the same venv together

# pip's lines worth seeing (what it fetches and installs), indented; everything else stays quiet.
show() { grep --line-buffered -E "$1" | sed -u 's/^/    /' >&2 || true; }

if [ ! -f "$venv/.torch-installed" ]; then
  echo "rl-critic set-up, once per machine: a virtualenv in $venv (shared by every clone)" >&2
  echo "  1/2 torch $(grep -o 'torch==[^ ]*' "$root/requirements/torch.txt" | head -1 | cut -d= -f3) + torchvision first:" \
    "about 5.5 GB (PyPI's build carries CUDA libraries, also on a CPU), 2-5 min; the Qwen-VL processor needs" \
    "torchvision, and installing the pair first keeps pip from choosing another torch" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check -r "$root/requirements/torch.txt" 2>&1 \
    | show '^(Collecting|Downloading|Successfully installed)'
  touch "$venv/.torch-installed"
fi

# Reinstall the package when pyproject.toml, the pins, the clone's location or the extras change.
stamp=$( (cat "$root/pyproject.toml" "$root/requirements/constraints.txt"; echo "$root" "$extras") | sha256sum | cut -c1-16)
if [ "$(cat "$venv/.rl-critic-installed" 2>/dev/null || true)" != "$stamp" ]; then
  echo "  2/2 rl-critic[$extras] from $root with the exact pins of requirements/constraints.txt (TRL," \
    "transformers, datasets, peft, ...; about 1 GB, 1-3 min the first time, seconds after)" >&2
  "$venv/bin/python" -m pip install --disable-pip-version-check -c "$root/requirements/constraints.txt" \
    -e "$root[$extras]" 2>&1 | show '^(Installing collected packages|Successfully installed|ERROR)'
  echo "$stamp" > "$venv/.rl-critic-installed"
fi
