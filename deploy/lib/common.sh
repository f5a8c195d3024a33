# Shared by the scripts in deploy/: paths, settings and the Debian packages the project needs.
# Source it; it defines functions and variables only.

DELEGATION_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN_DIR=${DELEGATION_RUN_DIR:-$DELEGATION_ROOT/.run}

# Debian packages needed to build, test and run (build-time -dev packages included; chromium for
# the console's browser test, zbar-tools to read back the passes' QR codes).
DEBIAN_PACKAGES=(rabbitmq-server librabbitmq-dev libsqlite3-dev zlib1g-dev libqrencode-dev zbar-tools openssl curl prometheus python3-venv python3-aiosmtpd python3-jsonschema python3-icalendar python3-yaml chromium fonts-noto-cjk)

# Python packages from PyPI the tests use (deploy/python-requirements.txt: pyhpke for the sealed
# documents example, Playwright driving Debian's chromium for the console's browser test), in a
# virtual environment of the checkout's own: .run/python.
ensure_python_packages() {
  local venv="$RUN_DIR/python" requirements="$DELEGATION_ROOT/deploy/python-requirements.txt"
  if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$venv/requirements.txt"; then return 0; fi
  log "installing Python packages into ${venv#$DELEGATION_ROOT/} ($(tr '\n' ' ' < "$requirements"))"
  mkdir -p "$RUN_DIR"
  /usr/bin/python3 -m venv "$venv" || die "cannot create $venv (python3-venv)"
  "$venv/bin/pip" install -q -r "$requirements" >"$RUN_DIR/pip.log" 2>&1 || { tail -20 "$RUN_DIR/pip.log" >&2; die "pip install failed (log: $RUN_DIR/pip.log)"; }
  cp "$requirements" "$venv/requirements.txt"
}

log() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs whatever of DEBIAN_PACKAGES (and the packages named as arguments) is missing (as
# root); says what is missing otherwise. Works on a fresh clone: the run folder, where apt's
# output is kept, may not exist yet.
ensure_packages() {
  local missing=() pkg
  for pkg in "${DEBIAN_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
  fi
  log "installing ${missing[*]}"
  # The log goes to the run folder, which does not exist yet on a fresh clone.
  mkdir -p "$RUN_DIR"
  # A package's postinst must not start a system-wide broker: ours runs privately.
  # (DELEGATION_POLICY_RC_D: another path, for the test of this function.)
  local policy=${DELEGATION_POLICY_RC_D:-/usr/sbin/policy-rc.d} created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
  fi
  local rc=0
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$RUN_DIR/apt.log" 2>&1; then
    apt-get update -q >>"$RUN_DIR/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$RUN_DIR/apt.log" 2>&1 || rc=$?
  fi
  [ $created_policy = 1 ] && rm -f "$policy"
  [ $rc = 0 ] || { tail -20 "$RUN_DIR/apt.log" >&2; die "apt-get install failed (log: $RUN_DIR/apt.log)"; }
}

# The swift toolchain, from PATH or the usual place.
ensure_swift() {
  command -v swift >/dev/null 2>&1 && return 0
  [ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH && return 0
  die "swift is not on PATH"
}
