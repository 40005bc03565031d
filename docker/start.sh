#!/bin/sh
# Container start: bootstrap the app's role, migrate, load the demo district if the database is
# empty, serve. DATABASE_URL (the app's role) points at the PostGIS server (the compose "db"
# service); TUZHENG_PG_ADMIN_URL (its superuser) is used here only, never by the server.
set -eu
if [ -n "${TUZHENG_PG_ADMIN_URL:-}" ]; then
    tuzheng db up      # as the superuser: the app's role, its database and PostGIS; then migrate
    unset TUZHENG_PG_ADMIN_URL
fi
tuzheng db migrate
if [ "${TUZHENG_LOAD_DEMO:-1}" = "1" ]; then
    # DATABASE_URL is set, so bootstrap starts no local cluster: it migrates (a no-op now)
    # and loads the demo district only when there are no parcels yet.
    tuzheng bootstrap
fi
exec uvicorn api.app:app_factory --factory \
    --host "${TUZHENG_API_HOST:-0.0.0.0}" --port "${TUZHENG_API_PORT:-8000}"
