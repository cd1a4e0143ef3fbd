#!/usr/bin/env bash
# An SRCNet compute API session against the broker, as the prototype's clients run one: query,
# provision, submit, then status until the job is done. Needs curl, jq and node.
#
#   EB_CONTAINER_RUNTIME=none npm start   # elsewhere: the broker with its embedded demo site
#   examples/srcnet/session.sh            # BROKER_URL=http://host:port to use another broker
#
# The job's image (example.org/srcnet/source-finder:1.0) is a stand-in that no registry serves: the
# demo site runs it as source-finder.sh when it runs sessions without a container runtime, hence
# EB_CONTAINER_RUNTIME=none (containerRuntime: auto would take a docker or podman found here).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
api="${BROKER_URL:-http://127.0.0.1:8080}/v1"
json=(-H 'Content-Type: application/json')

# The dataset, served over http by a small server this example starts; the site stages it from there.
work=$(mktemp -d)
node "$here/serve-dataset.mjs" > "$work/url" &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do [ -s "$work/url" ] && break; sleep 0.1; done
dataset="$(cat "$work/url")/sources.csv"

# The prototype's example query (query.json), its deadline moved to ten days from now.
deadline=$(jq -rn 'now + 10 * 86400 | todate')
query=$(jq --arg deadline "$deadline" '.deadline = $deadline' "$here/query.json")

echo "== query"
curl -sS -X POST "$api/query" "${json[@]}" -d "$query" | tee "$work/query.json" | jq .
jq -e '.response_code == 0' "$work/query.json" > /dev/null

echo "== provision"
curl -sS -X PUT "$api/provision" "${json[@]}" -d "$query" | tee "$work/provision.json" | jq .
jq -e '.response_code == 0' "$work/provision.json" > /dev/null
provision=$(jq -r .provision_id "$work/provision.json")

echo "== submit"
job=$(jq -n --arg dataset "$dataset" '{container: "example.org/srcnet/source-finder:1.0", dataset: $dataset,
  params: {"--threshold": 5, "--name": "catalogue"}, contact_email: null}')
curl -sS -X PUT "$api/provision/$provision/submit" "${json[@]}" -d "$job" | tee "$work/submit.json" | jq .
jq -e '.response_code == 0' "$work/submit.json" > /dev/null

echo "== status"
while :; do
  curl -sS "$api/provision/$provision/status" > "$work/status.json"
  code=$(jq .response_code "$work/status.json")
  echo "$code $(jq -r .response_text "$work/status.json")"
  [ "$code" = 1 ] || break
  sleep 1
done
jq -r .logging "$work/status.json"
[ "$code" = 0 ] || exit 1

echo "== output data"
outputs=$(jq -r .output_data "$work/status.json")
echo "$outputs"
curl -sS "$outputs" | tee "$work/outputs.json" | jq .
curl -sS "$(jq -r '.files[0].url' "$work/outputs.json")"
