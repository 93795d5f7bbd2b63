# Shared by scripts/test.sh and scripts/demo.sh: phase timing and installing what a
# bare machine of this kind lacks (the machine has Go, Rust by rustup and apt).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
phase_start=$SECONDS
run_start=$SECONDS

phase() {
  local now=$SECONDS
  [ -n "${phase_name:-}" ] && printf '==> %s: done in %ss (disk: %s free)\n' "$phase_name" "$((now - phase_start))" "$(disk_free)"
  phase_name=$1 phase_start=$now
  printf '\n==> %s (%s)\n' "$phase_name" "$(date +%H:%M:%S)"
}

# The space left where the builds go, in MiB: a full disk fails a build in the middle
# (it did once in CI), and the phase lines show which phase took it.
disk_free_mib() { df -m --output=avail "$repo" 2>/dev/null | tail -1 | tr -d ' '; }
disk_free() { printf '%s MiB' "$(disk_free_mib)"; }

finish() {
  phase_name=${phase_name:-} ; local now=$SECONDS
  [ -n "$phase_name" ] && printf '==> %s: done in %ss (disk: %s free)\n' "$phase_name" "$((now - phase_start))" "$(disk_free)"
  printf '==> total: %ss\n' "$((now - run_start))"
}

# apt_install PKG... installs the Debian packages that are missing (apt-get update once).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  local sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_toolchains() {
  command -v go >/dev/null || { echo "Go is required (this machine kind ships it)"; exit 1; }
  command -v cargo >/dev/null || { echo "Rust (cargo) is required (this machine kind ships it)"; exit 1; }
  # setpriv (util-linux) ties the control plane's processes to the test process.
  # prometheus (with promtool, 2.42: create-blocks-from openmetrics) and postgresql
  # are the real servers of the metering tests.
  apt_install util-linux curl ca-certificates prometheus postgresql
  if command -v rustup >/dev/null; then
    for c in rustfmt clippy; do
      rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
    done
  fi
}

build_control_plane() {
  "$repo/tools/build.sh" >/dev/null
}
