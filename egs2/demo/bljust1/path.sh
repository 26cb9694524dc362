# The environment: the repository's .venv (made by `make install`).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
if [ -f "${REPO_ROOT}/.venv/bin/activate" ]; then
    # shellcheck disable=SC1091
    . "${REPO_ROOT}/.venv/bin/activate"
fi
export PYTHONIOENCODING=UTF-8
