# Sourced by scripts/run and scripts/test: repository paths, messages, dependencies, build.
# shellcheck shell=bash

# The repository root, from this file's own location (scripts/lib/common.sh).
KEYFLOW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KEYFLOW_LIB="$KEYFLOW_ROOT/scripts/lib"

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Installs missing Debian packages (a no-op when everything is there).
ensure_deps() {
  "$KEYFLOW_LIB/install-deps"
}

# ccache settings that make it useful here. Precompiled headers (CMake passes them with
# -include) only hit with this sloppiness; base_dir lets a fresh clone elsewhere (CI) hit
# the cache filled by another checkout. The caller's own CCACHE_* settings win.
setup_ccache() {
  export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$KEYFLOW_ROOT}"
  export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
}

# configure_build <build dir> <build type> [extra cmake arguments...]
# Configures with Ninja. Re-running it on an existing build directory is cheap and picks
# up changed options; a directory configured with another generator is started afresh.
configure_build() {
  local dir="$1" type="$2"
  shift 2
  local cache="$dir/CMakeCache.txt"
  if [[ -f "$cache" ]] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$cache"; then
    log "$dir was configured with another generator; starting it afresh"
    rm -rf "$dir"
  fi
  setup_ccache
  cmake -S "$KEYFLOW_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
}

# build <build dir> [targets...]
build() {
  local dir="$1"
  shift
  local targets=()
  (($# > 0)) && targets=(--target "$@")
  setup_ccache
  cmake --build "$dir" "${targets[@]}"
}
