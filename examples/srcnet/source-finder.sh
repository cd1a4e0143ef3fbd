#!/bin/sh
# A stand-in for a source-finding container (development only): the embedded demo site runs it for
# the image example.org/srcnet/source-finder:1.0, the job's params appended as options. It reads
# the dataset mounted under /data (./data without a container runtime) and writes a catalogue of
# the sources at or above --threshold (mJy) into $EB_OUTPUTS, logging as the prototype's jobs did.
set -eu
threshold=0
name=catalogue
while [ $# -gt 0 ]; do
  case "$1" in
    --threshold) threshold=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --fail) echo "Step 1/2: Source finder"; echo "Writing catalogue failed: asked to fail" >&2; exit 3 ;;
    *) echo "source-finder: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$name" in *[!A-Za-z0-9._-]* | '') echo "source-finder: --name must be a plain file name" >&2; exit 2 ;; esac
data=/data
[ -d "$data" ] || data=./data
input=$(ls "$data" | head -n 1)
outputs=${EB_OUTPUTS:-/outputs}
echo "Step 1/2: Source finder on $input (threshold $threshold mJy)"
awk -F, -v t="$threshold" 'NR == 1 || $3 + 0 >= t + 0' "$data/$input" > "$outputs/$name.csv"
echo "Found $(($(wc -l < "$outputs/$name.csv") - 1)) sources"
echo "Step 2/2: Creating catalogue..."
echo "Catalogue successfully created"
