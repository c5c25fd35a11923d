# Reads pgrx.toml's [pg_iys] table into shell variables used by every script.
toml_get() { sed -n "s/^$1 *= *\"\{0,1\}\([^\"]*\)\"\{0,1\} *$/\1/p" pgrx.toml | head -n1; }
PG_MAJOR=$(toml_get pg_major)
PG_CONFIG=$(toml_get pg_config)
PGRX_VERSION=$(toml_get pgrx_version)
