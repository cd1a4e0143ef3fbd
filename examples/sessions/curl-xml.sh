#!/usr/bin/env bash
# The same session in XML: documents in and out as application/xml, read with sed alone.
set -euo pipefail
EB_URL=${EB_URL:-http://127.0.0.1:8080}
here=$(cd "$(dirname "$0")" && pwd)
# The session's own phase is the one right after its <meta> (components and messages have theirs).
phase_of() { sed -n 's|.*</meta><phase>\([^<]*\)</phase>.*|\1|p'; }

offers=$(curl -sS -X POST "$EB_URL/requests" \
  -H 'Content-Type: application/xml' -H 'Accept: application/xml' \
  --data-binary @"$here/../requests/docker-hello.xml")
echo "offer set: $(sed -n 's|.*<result>\([^<]*\)</result>.*|\1|p' <<<"$offers")"
# The offer set's own uuid comes first; the first offer's is the next one.
session=$(grep -o '<uuid>[^<]*</uuid>' <<<"$offers" | sed -n '2s|</\?uuid>||gp')
echo "first offer: $session"

echo "phase: $(curl -sS "$EB_URL/sessions/$session" -H 'Accept: application/xml' | phase_of)"
echo -n "accepted, now: "
curl -sS -X POST "$EB_URL/sessions/$session" -H 'Content-Type: application/xml' -H 'Accept: application/xml' \
  --data-binary '<update kind="uri:enum-value-update"><path>/phase</path><value>ACCEPTED</value></update>' | phase_of; echo

last=""
for _ in $(seq 1 240); do
  phase=$(curl -sS "$EB_URL/sessions/$session" -H 'Accept: application/xml' | phase_of)
  if [ "$phase" != "$last" ]; then echo "phase: $phase"; last=$phase; fi
  case $phase in COMPLETED|FAILED|CANCELLED) break ;; esac
  sleep 0.5
done
echo "log:"; curl -sS "$EB_URL/sessions/$session/logs"
[ "$phase" = COMPLETED ]
