#!/usr/bin/env bash
# Installs everything pg_iys needs to build, test and demo. Idempotent and fast when already present.
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

# The private copy of the PostgreSQL installation (pgrx.toml: private_pg_root). Debian's tree is
# relocatable: the copied binaries and pg_config find their lib and share directories relative
# to themselves. Made again when the system's PostgreSQL changed (an apt upgrade).
system_stamp=$("$SYSTEM_PG_CONFIG" --version)-$(stat -c %Y "$("$SYSTEM_PG_CONFIG" --bindir)/postgres")
if [ "$(cat "$PRIVATE_PG_ROOT/.stamp" 2>/dev/null)" != "$system_stamp" ]; then
  echo "setup: copying PostgreSQL $PG_MAJOR to $PRIVATE_PG_ROOT (tests never install into the system's tree)"
  rm -rf "$PRIVATE_PG_ROOT"
  for dir in "$("$SYSTEM_PG_CONFIG" --bindir)/.." "$("$SYSTEM_PG_CONFIG" --sharedir)" "$("$SYSTEM_PG_CONFIG" --includedir)"; do
    dir=$(realpath "$dir")
    mkdir -p "$PRIVATE_PG_ROOT$(dirname "$dir")"
    cp -a "$dir" "$PRIVATE_PG_ROOT$dir"
  done
  chmod 755 "$(dirname "$PRIVATE_PG_ROOT")" "$PRIVATE_PG_ROOT"
  echo "$system_stamp" > "$PRIVATE_PG_ROOT/.stamp"
fi
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
