#!/usr/bin/env bash
# The same with the eb client: a one-line run, then the steps one by one.
set -euo pipefail
export EB_URL=${EB_URL:-http://127.0.0.1:8080}
here=$(cd "$(dirname "$0")" && pwd)
eb() { node "$here/../../dist/cli/eb.js" "$@"; }

eb run "$here/../requests/docker-hello.json"

eb request "$here/../requests/docker-hello.xml"
session=$(eb --output json request "$here/../requests/docker-hello.json" | jq -r '.offers[0].meta.uuid')
eb accept "$session"
eb watch "$session"
eb logs "$session"
