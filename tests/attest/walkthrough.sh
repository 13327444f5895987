#!/bin/sh
# The release-manager walkthrough (WALKTHROUGH.md).
# usage: walkthrough.sh DIR inputs       make DIR with the walkthrough's inputs (the document's set-up step)
#        walkthrough.sh DIR build-only   the inputs, then the document's commands up to signing the layout
#        walkthrough.sh DIR              the inputs, then every command of the document
# The commands are read from WALKTHROUGH.md itself (tests/docs/mdblocks.py), never copied here;
# modelseal must be on PATH for the last two.
set -eu
work=$1
mode=${2:-all}
here=$(cd "$(dirname "$0")" && pwd)
data=$here/../data/attest

# The inputs: tiny stand-ins for two datasets, a base model and the fine-tuned model, the training
# parameters, dataset cards, a scan result and the layout, with its expiry one year out.
mkdir -p "$work"
cd "$work"
mkdir -p keys datasets/wiki-2024 datasets/code-2024 base-model bert
printf 'Anarchism is a political philosophy...\n' > datasets/wiki-2024/part-00000.txt
printf 'Autism is a neurodevelopmental condition...\n' > datasets/wiki-2024/part-00001.txt
printf 'def add(a, b):\n    return a + b\n' > datasets/code-2024/train.jsonl
printf 'base weights\n' > base-model/model.safetensors
printf '{"architectures": ["BertForSequenceClassification"]}\n' > bert/config.json
printf 'fine-tuned weights\n' > bert/model.safetensors
cp "$data/train-params.json" "$data/dataset-card-wiki.json" "$data/dataset-card-code.json" "$data/scan.json" .
sed "s/@EXPIRES@/$(date -u -d '+1 year' +%Y-%m-%dT00:00:00Z)/" "$data/release.layout.json" > release.layout.json
chmod -R u+w .
[ "$mode" = inputs ] && exit 0

# The document's commands, each shown before its output; its set-up step (the call of this
# script) is what was just done.
cmds=$(mktemp)
trap 'rm -f "$cmds"' EXIT
/usr/bin/python3 "$here/../docs/mdblocks.py" commands "$here/WALKTHROUGH.md" > "$cmds"
while IFS= read -r cmd; do
  case $cmd in *walkthrough.sh*) continue ;; esac
  printf '$ %s\n' "$cmd"
  sh -c "$cmd" < /dev/null
  case $cmd in *"chain sign-layout"*) [ "$mode" = build-only ] && exit 0 ;; esac
done < "$cmds"
