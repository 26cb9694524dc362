# shellcheck shell=bash
# The environment: the repository's .venv (made by `make install`) and BLJUST_ROOT, the
# repository root (its local/ is each recipe's utils/, its conf/slurm.conf the Slurm
# settings). A copy of the recipe outside the repository sets BLJUST_ROOT before sourcing this.
BLJUST_ROOT="${BLJUST_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}"
export BLJUST_ROOT
if [ -f "${BLJUST_ROOT}/.venv/bin/activate" ] && [ -z "${VIRTUAL_ENV:-}" ]; then
    # shellcheck disable=SC1091
    . "${BLJUST_ROOT}/.venv/bin/activate"
fi
export PYTHONIOENCODING=UTF-8
