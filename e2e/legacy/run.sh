#!/usr/bin/env bash
# Start the legacy List Cutter stand-in: create the database if missing, apply
# migrations, then exec gunicorn on 127.0.0.1:$LEGACY_PORT. Works from any cwd.
# Needs the venv (LEGACY_VENV, default e2e/legacy/.venv) to be installed already:
#   python3 -m venv e2e/legacy/.venv && e2e/legacy/.venv/bin/pip install -r e2e/legacy/requirements.txt
# Required env: LEGACY_PORT, LEGACY_DB_PORT, JWT_SECRET, LEGACY_MEDIA_ROOT (see README.md).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${LEGACY_VENV:-$here/.venv}
py=$venv/bin/python

: "${LEGACY_PORT:?LEGACY_PORT is required}"
: "${LEGACY_DB_PORT:?LEGACY_DB_PORT is required}"
: "${JWT_SECRET:?JWT_SECRET is required}"
: "${LEGACY_MEDIA_ROOT:?LEGACY_MEDIA_ROOT is required}"
[ -x "$py" ] || { echo "legacy: no virtualenv at $venv (install it first)" >&2; exit 1; }

export DJANGO_SETTINGS_MODULE=legacy_site.settings
export PYTHONUNBUFFERED=1
mkdir -p "$LEGACY_MEDIA_ROOT/uploads"

cd "$here"
"$py" manage.py ensure_database
"$py" manage.py migrate --noinput
"$py" manage.py lineage_store

access_log=()
if [ "${LEGACY_ACCESS_LOG:-0}" = 1 ]; then access_log=(--access-logfile /dev/stderr); fi

# --keep-alive above workerd's idle pooling: with gunicorn's 2 s default it
# closes pooled connections just as the gateway reuses them, and a busy run
# sees spurious "Network connection lost" 502s.
exec "$venv/bin/gunicorn" legacy_site.wsgi:application \
  --config "$here/gunicorn.conf.py" \
  --chdir "$here" \
  --bind "127.0.0.1:${LEGACY_PORT}" \
  --worker-class gthread --workers "${LEGACY_WORKERS:-2}" --threads "${LEGACY_THREADS:-8}" \
  --timeout 120 \
  --keep-alive 75 \
  --no-control-socket \
  --error-logfile - \
  "${access_log[@]}"
