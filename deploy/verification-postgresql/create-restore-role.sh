#!/bin/sh
# Runs once, when the verification server's data folder is first initialised (the postgres image
# runs /docker-entrypoint-initdb.d/*). The restore test's login may create and drop its scratch
# databases and nothing else: not a superuser, no other database's data (README: Backups).
set -eu
psql -v ON_ERROR_STOP=1 -v pw="$RESTORE_TEST_DB_PASSWORD" --username "$POSTGRES_USER" --dbname postgres <<'EOSQL'
create role forclinic_restore_test login createdb password :'pw';
EOSQL
