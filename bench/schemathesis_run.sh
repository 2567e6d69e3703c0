#!/usr/bin/env bash
# Fuzz every admin operation in /openapi.json with schemathesis against a real gunicorn on
# PostgreSQL (a fresh database), with an operator key and a seeded partner, brand and channel so
# that generated ids sometimes exist. Fails when any answer is a server error (5xx).
#
# Bounded: SCHEMATHESIS_MAX_EXAMPLES examples per operation and phase (default 25) and
# SCHEMATHESIS_MAX_TIME seconds in all (default 600). Needs PostgreSQL at
# LIVERY_TEST_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
#
#   bash bench/schemathesis_run.sh            # from the repository root, after make install-dev
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-25}
MAX_TIME=${SCHEMATHESIS_MAX_TIME:-600}

work=$(mktemp -d)
db_url=$($PY -c 'from tests.services import create_pg_database as c; print(c("livery_fuzz"))')
port=$($PY -c 'from tests.services import free_port; print(free_port())')
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    $PY -c "from tests.services import drop_pg_database as d; d('$db_url')" || true
    rm -rf "$work"
}
trap cleanup EXIT

export LIVERY_DATABASE_URL=$db_url
export LIVERY_STATIC_BRANDS_DIR=$work/static_brands LIVERY_CONTROL_FILES_DIR=$work/control_files
export LIVERY_INSTALLERS_DIR=$work/installers LIVERY_SIGNING_KEYS_DIR=$work/keys
export LIVERY_PUBLIC_BASE_URL=http://127.0.0.1:$port
# the fuzzer sends wrong keys on purpose (ignored_auth): throttling would turn its 401s into 429s
export LIVERY_RATELIMIT_ADMIN_AUTH="" LIVERY_LOG_LEVEL=ERROR
.venv/bin/flask --app wsgi db upgrade >/dev/null
key=$(.venv/bin/flask --app wsgi operator create-key --label fuzz --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["key"])')

.venv/bin/gunicorn --config gunicorn.conf.py --bind "127.0.0.1:$port" --workers 2 \
    --error-logfile "$work/gunicorn.err" wsgi:app &
pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
done

api() { curl -fs -X "$1" "http://127.0.0.1:$port/admin/v1$2" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} >/dev/null; }
api POST /partners '{"slug": "fuzz", "name": "Fuzz"}'
api POST /brands '{"name": "Fuzz", "partner_id": 1}'
api POST /brands/1/access-codes '{"kind": "live"}'
api POST /api-keys '{"role": "admin", "partner_id": 1}'

status=0
.venv/bin/schemathesis run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $key" \
    --checks not_a_server_error \
    --max-examples "$MAX_EXAMPLES" --max-time "$MAX_TIME" --seed 11 --workers 1 \
    --request-timeout 10 --generation-allow-x00 true --generation-with-security-parameters false \
    --generation-database none \
    --report junit --report-dir "$work/report" || status=$?
if grep -q "Traceback" "$work/gunicorn.err" 2>/dev/null; then
    echo "server tracebacks (first 60 lines of $work/gunicorn.err):"
    head -60 "$work/gunicorn.err"
fi
exit $status
