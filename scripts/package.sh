#!/usr/bin/env bash
# Builds a Debian package of pg_iys for the system's PostgreSQL (pgrx.toml: pg_major), the way a
# DBA installs extensions: `apt install ./postgresql-15-pg-iys_<version>_<arch>.deb`.
#   scripts/package.sh                 release build -> target/debian/
#   scripts/package.sh --debug         debug build (the tests' package: no second optimised build)
#   scripts/package.sh --out-dir DIR   put the .deb in DIR
# dpkg unpacks every file beside its target and renames it into place, so installing or upgrading
# the package never rewrites a library a running server has mapped: the running servers keep the
# old one until they restart. Nothing here writes into an installed PostgreSQL tree.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
source scripts/config.sh

profile=release
out_dir=target/debian
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug ;;
    --out-dir) out_dir=$2; shift ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
name="postgresql-$PG_MAJOR-pg-iys"
deb="$out_dir/${name}_${version}_${arch}.deb"

# Built against the private copy of PostgreSQL (the same headers as the system's, and the build
# the tests already have); its prefix is taken off below, leaving the system's paths.
pkg_dir="target/$profile/pg_iys-pg$PG_MAJOR"
rm -rf "$pkg_dir"
flags=(); [ "$profile" = debug ] && flags=(--debug)
cargo pgrx package "${flags[@]}" --pg-config "$PG_CONFIG" >/dev/null
# The companion service IYS pushes to (push-receiver/), in the same package.
if [ "$profile" = release ]; then cargo build --release -q -p iys-push-receiver; else cargo build -q -p iys-push-receiver; fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -a "$pkg_dir$PRIVATE_PG_ROOT/." "$stage/"
# cargo pgrx package writes the install script of this version; the upgrade chain comes from sql/.
ext_dir="$stage$("$SYSTEM_PG_CONFIG" --sharedir)/extension"
lib_dir="$stage$("$SYSTEM_PG_CONFIG" --pkglibdir)"
[ -f "$lib_dir/pg_iys.so" ] && [ -f "$ext_dir/pg_iys--$version.sql" ] \
  || { echo "package.sh: cargo pgrx package did not produce the library and pg_iys--$version.sql" >&2; exit 1; }
cp sql/pg_iys--*--*.sql "$ext_dir/"
doc_dir="$stage/usr/share/doc/$name"
mkdir -p "$doc_dir"
cp README.md CHANGELOG.md "$doc_dir/"
[ -d docs ] && cp -r docs "$doc_dir/"
find "$stage" -type d -exec chmod 755 {} +
find "$stage" -type f -exec chmod 644 {} +
install -D -m 755 "target/$profile/iys-push-receiver" "$stage/usr/bin/iys-push-receiver"

# Depends: the server, and the packages of the shared libraries the .so links to.
depends="postgresql-$PG_MAJOR"
for lib in $(ldd "$lib_dir/pg_iys.so" "$stage/usr/bin/iys-push-receiver" | awk '$3 ~ /^\// { print $3 }' | sort -u); do
  pkg=$(dpkg -S "$(realpath "$lib")" 2>/dev/null | head -n1 | cut -d: -f1) || true
  [ -z "$pkg" ] && pkg=$(dpkg -S "$lib" 2>/dev/null | head -n1 | cut -d: -f1) || true
  [ -n "$pkg" ] && case ",$depends," in *", $pkg,"* | *",$pkg,"*) ;; *) depends="$depends, $pkg" ;; esac
done

mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: pg_iys developers <pg_iys@localhost>
Depends: $depends
Section: database
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Description: PostgreSQL $PG_MAJOR extension keeping consent tables in step with IYS
 pg_iys checks every change of an attached marketing-consent table by IYS's rules
 (İleti Yönetim Sistemi, Turkey's registry of e-mail, SMS and call consents),
 queues it in the same transaction and sends it to IYS from a background
 worker; citizens' changes in IYS come back into the tables.
 .
 After installing: add pg_iys to shared_preload_libraries, restart the server,
 then CREATE EXTENSION pg_iys. iys-push-receiver is the https service IYS can
 push citizens' changes to. See /usr/share/doc/$name/.
CONTROL
# Removing the library under a server that preloads it would leave that server unable to start
# again: refuse while a running server has it mapped (upgrades are not affected).
cat > "$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -z "${PG_IYS_FORCE_REMOVE:-}" ]; then
  lib="$DPKG_ROOT@PKGLIBDIR@/pg_iys.so"
  pids=$(grep -l -F "$lib" /proc/[0-9]*/maps 2>/dev/null | cut -d/ -f3 | xargs || true)
  if [ -n "$pids" ]; then
    echo "pg_iys is loaded by running PostgreSQL processes ($pids)." >&2
    echo "Detach its tables, DROP EXTENSION pg_iys, remove it from shared_preload_libraries and restart" >&2
    echo "those servers first (or set PG_IYS_FORCE_REMOVE=1 to remove it anyway)." >&2
    exit 1
  fi
fi
exit 0
PRERM
sed -i "s|@PKGLIBDIR@|$("$SYSTEM_PG_CONFIG" --pkglibdir)|" "$stage/DEBIAN/prerm"
chmod 755 "$stage/DEBIAN" "$stage/DEBIAN/prerm"

mkdir -p "$out_dir"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
