#!/usr/bin/env bash
# A whole ExecutionBroker session in JSON, with curl and jq: ask for offers, look at one, accept
# it, follow it to its end, read its log. Against `npm start` by default (EB_URL to change).
set -euo pipefail
EB_URL=${EB_URL:-http://127.0.0.1:8080}
here=$(cd "$(dirname "$0")" && pwd)

# 1. Offers: a 303 whose body is the offer set (its URL is in Location).
offers=$(curl -sS -X POST "$EB_URL/requests" \
  -H 'Content-Type: application/json' -H 'Accept: application/json' \
  --data-binary @"$here/../requests/docker-hello.json")
echo "offer set: $(jq -r .result <<<"$offers")"
jq -r '.offers[] | "  \(.meta.uuid): \(.compute.cores.min) cores from \(.schedule.available.start), expires \(.expires)"' <<<"$offers"
session=$(jq -r '.offers[0].meta.uuid' <<<"$offers")

# 2. One offer, and what may be done with it.
curl -sS "$EB_URL/sessions/$session" | jq -r '"phase \(.phase); may become: \(.meta.options[0].values | join(", "))"'

# 3. Accept it (its sibling offers are rejected in the same step).
curl -sS -X POST "$EB_URL/sessions/$session" -H 'Content-Type: application/json' \
  -d '{"kind": "uri:enum-value-update", "path": "/phase", "value": "ACCEPTED"}' | jq -r '"now \(.phase)"'

# 4. Follow it to its end.
last=""
for _ in $(seq 1 240); do
  phase=$(curl -sS "$EB_URL/sessions/$session" | jq -r .phase)
  if [ "$phase" != "$last" ]; then echo "phase: $phase"; last=$phase; fi
  case $phase in COMPLETED|FAILED|CANCELLED) break ;; esac
  sleep 0.5
done

# 5. Its log.
echo "log:"; curl -sS "$EB_URL/sessions/$session/logs"
[ "$phase" = COMPLETED ]
