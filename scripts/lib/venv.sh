# Sourced by the scripts in scripts/: makes sure ./.venv exists and has sealchain installed.
# Usage: ensure_venv [EXTRAS]   (EXTRAS e.g. "dev"; reinstalls when pyproject.toml changed)
ensure_venv() {
    local extras="${1:-}"
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    local venv="$root/.venv"
    local python="${PYTHON:-python3}"
    if [ ! -x "$venv/bin/python" ]; then
        echo "creating $venv" >&2
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip
    fi
    local spec="$root"
    [ -n "$extras" ] && spec="$root[$extras]"
    # Reinstall only when the project's metadata changed since the last install of these extras.
    local stamp="$venv/.sealchain-installed-${extras:-core}"
    if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
        echo "installing sealchain${extras:+[$extras]} into $venv" >&2
        "$venv/bin/python" -m pip install --quiet -e "$spec"
        touch "$stamp"
    fi
    VENV_PYTHON="$venv/bin/python"
    VENV_BIN="$venv/bin"
    PROJECT_ROOT="$root"
    export VENV_PYTHON VENV_BIN PROJECT_ROOT
}
