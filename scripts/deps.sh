# Sourced by scripts/test.sh and scripts/run.sh: installs the Debian packages kiln
# needs to build, when they are missing (apt-get, as root). Idempotent: a machine that
# has them installs nothing.
KILN_BUILD_PACKAGES=(cmake ninja-build g++ ccache libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libpng-dev libjpeg-dev)
# scripts/test.sh only: valgrind checks the file parsers for reads of uninitialised memory.
KILN_TEST_PACKAGES=(valgrind)

kiln_install_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  echo "kiln: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "kiln: missing packages (${missing[*]}); run as root or install them with apt-get" >&2
    return 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

kiln_jobs() { nproc 2>/dev/null || echo 2; }
