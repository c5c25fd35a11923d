#!/usr/bin/env bash
# Installs everything pg_iys needs to build, test and demo. Idempotent and fast when already present.
#   scripts/setup.sh        what the build and the tests need
#   scripts/setup.sh demo   also the demo's own copy of PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/config.sh

need_pkgs=()
for p in "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" libclang-dev clang sudo curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# Private copies of the PostgreSQL installation (pgrx.toml: private_pg_root for the build and
# the tests, demo_pg_root for the demo). Debian's tree is relocatable: the copied binaries and
# pg_config find their lib and share directories relative to themselves. Made again when the
# system's PostgreSQL changed (an apt upgrade).
system_stamp=$("$SYSTEM_PG_CONFIG" --version)-$(stat -c %Y "$("$SYSTEM_PG_CONFIG" --bindir)/postgres")
copy_postgres_tree() { # root, why
  [ "$(cat "$1/.stamp" 2>/dev/null)" = "$system_stamp" ] && return 0
  echo "setup: copying PostgreSQL $PG_MAJOR to $1 ($2)"
  rm -rf "$1"
  for dir in "$("$SYSTEM_PG_CONFIG" --bindir)/.." "$("$SYSTEM_PG_CONFIG" --sharedir)" "$("$SYSTEM_PG_CONFIG" --includedir)"; do
    dir=$(realpath "$dir")
    mkdir -p "$1$(dirname "$dir")"
    cp -a "$dir" "$1$dir"
  done
  chmod 755 "$(dirname "$1")" "$1"
  echo "$system_stamp" > "$1/.stamp"
}
copy_postgres_tree "$PRIVATE_PG_ROOT" "tests never install into the system's tree"
[ "${1:-}" = demo ] && copy_postgres_tree "$DEMO_PG_ROOT" "the demo's own, apart from the tests'"
"$PG_CONFIG" --pkglibdir | grep -q "^$PRIVATE_PG_ROOT" || { echo "setup: $PG_CONFIG is not inside $PRIVATE_PG_ROOT" >&2; exit 1; }

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  echo "setup: installing cargo-pgrx $PGRX_VERSION (takes a few minutes once)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

if ! grep -qs "pg$PG_MAJOR = \"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  echo "setup: cargo pgrx init --pg$PG_MAJOR $PG_CONFIG"
  cargo pgrx init "--pg$PG_MAJOR" "$PG_CONFIG"
fi
echo "setup: ok (PostgreSQL $PG_MAJOR, cargo-pgrx $PGRX_VERSION)"
