#!/bin/sh
# The release-manager walkthrough (WALKTHROUGH.md): builds the example chain with the real tools
# and verifies it, printing each command before its output.
# usage: walkthrough.sh WORKDIR [build-only]   (modelseal on PATH; MODELSEAL_SOURCE is the source tree)
set -eu
work=$1
data=${MODELSEAL_SOURCE:-.}/tests/data/attest
mkdir -p "$work"
cd "$work"
show() { printf '$ %s\n' "$1"; sh -c "$1"; }

# Inputs (not shown): tiny stand-ins for two datasets, a base model and the fine-tuned model, the
# training parameters, dataset cards, a scan result and the layout, with its expiry one year out.
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

echo '# Everyone makes a key pair (real keys have a passphrase).'
show 'for who in owner trainer data-team scanner evaluator alice bob carol; do modelseal keygen -q --insecure-no-passphrase -o keys/$who; done'
echo
echo '# The data team attests each dataset (the attestation goes beside it, DATASET.intoto.jsonl).'
show 'modelseal attest datasets/wiki-2024 -k keys/data-team.key --predicate-type https://example.org/dataset-card/v1 --predicate dataset-card-wiki.json'
show 'modelseal attest datasets/code-2024 -k keys/data-team.key --predicate-type https://example.org/dataset-card/v1 --predicate dataset-card-code.json'
echo
echo '# The training pipeline attests how bert was built: SLSA provenance naming datasets and base model by digest.'
show 'modelseal attest bert -k keys/trainer.key --provenance --build-type https://modelseal.dev/examples/train/v1 --builder-id https://ci.example.com/gpu-runner --external-parameters train-params.json --dataset datasets/wiki-2024 --dataset datasets/code-2024 --base-model base-model --started 2026-03-01T08:00:00Z --finished 2026-03-01T11:30:00Z'
echo
echo '# The scanner scans the model and records the result; the evaluation job attests its metrics.'
show 'modelseal scan bert --attest -k keys/scanner.key'
show "modelseal attest bert -k keys/evaluator.key --eval --metric accuracy=0.93 --threshold 'accuracy>=0.9' --metric loss=0.21 --threshold 'loss<=0.3'"
echo
echo '# Two of the three release managers approve version 2.1.0.'
show 'modelseal attest bert -k keys/alice.key --approve 2.1.0 --approver alice@example.com'
show 'modelseal attest bert -k keys/bob.key --approve 2.1.0 --approver bob@example.com --comment "eval and scan reviewed"'
echo
echo '# The owner signs the layout: who may attest which step, thresholds, linkage and rules.'
show 'modelseal chain sign-layout release.layout.json -k keys/owner.key -o release.layout.dsse.json'
[ "${2:-}" = build-only ] && exit 0
echo
echo '# The release manager verifies the whole chain against the model on disk.'
show 'modelseal chain verify bert --layout release.layout.dsse.json --layout-key keys/owner.pub --attestations bert.intoto.jsonl --attestations datasets/wiki-2024.intoto.jsonl --attestations datasets/code-2024.intoto.jsonl'
echo
echo '# Someone changes the model after the chain was built: every step about the model fails.'
show 'echo "poisoned" >> bert/model.safetensors'
show 'modelseal chain verify bert --layout release.layout.dsse.json --layout-key keys/owner.pub --attestations bert.intoto.jsonl --attestations datasets/wiki-2024.intoto.jsonl --attestations datasets/code-2024.intoto.jsonl || echo "exit status $?"'
