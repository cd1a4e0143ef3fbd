#!/usr/bin/env bash
# The same session in YAML, with the request written inline and the log followed as it grows.
set -euo pipefail
EB_URL=${EB_URL:-http://127.0.0.1:8080}
V1=https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds
# A top-level field (the session's own phase, not a component's or a message's).
field() { sed -n "s|^$1: \"\{0,1\}\([^\"]*\)\"\{0,1\}$|\1|p"; }

offers=$(curl -sS -X POST "$EB_URL/requests" -H 'Content-Type: application/yaml' -H 'Accept: application/yaml' --data-binary @- <<YAML
executable:
  kind: $V1/executable/docker-container.yaml
  meta: { name: countdown }
  image: { locations: [docker.io/library/busybox:1.36] }
  entrypoint: /bin/sh
  command: ["-c", "for i in 3 2 1; do echo \$i; sleep 0.3; done; echo lift-off"]
compute:
  kind: $V1/compute/simple-compute-resource.yaml
  cores: { min: 1, max: 2 }
schedule:
  requested: { duration: PT5M }
YAML
)
echo "offer set: $(field result <<<"$offers")"
# The first "uuid:" is the offer set's, the second the first offer's.
session=$(grep -o 'uuid: "[^"]*"' <<<"$offers" | sed -n '2s|uuid: "\(.*\)"|\1|p')
echo "first offer: $session"
echo -n "accepted, now: "
curl -sS -X POST "$EB_URL/sessions/$session" -H 'Content-Type: application/yaml' -H 'Accept: application/yaml' \
  --data-binary $'kind: uri:enum-value-update\npath: /phase\nvalue: ACCEPTED\n' | field phase

echo "log, as it comes:"
curl -sS -N "$EB_URL/sessions/$session/logs?follow=true"
phase=$(curl -sS "$EB_URL/sessions/$session" -H 'Accept: application/yaml' | field phase)
echo "phase: $phase"
[ "$phase" = COMPLETED ]
