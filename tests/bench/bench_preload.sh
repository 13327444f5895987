#!/bin/sh
# Benchmark of the loader shim (libmodelseal-preload.so): not a test, it prints ratios.
#   bench_preload.sh BUILD_DIR [MODEL_MIB]      (default 1024 MiB, as 4 files)
# Every figure is the best of 3 runs, measured in this run, with the page cache warm:
#   first open   = cat of the model under the shim (hash at open + the read)
#                  vs cat of the model + `openssl dgst -sha256` of the same files
#   cached open  = the same files opened a second time in the same process under the shim
#                  vs a plain cat of the files
#   outside      = cat of 10,000 small files outside the roots, shim vs no shim
# Targets: first open <= 1.1x, cached open <= 1.05x, outside within noise.
set -eu
build=${1:?usage: bench_preload.sh BUILD_DIR [MODEL_MIB]}
build=$(cd "$build" && pwd)
mib=${2:-1024}
shim=$build/lib/preload/libmodelseal-preload.so
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench-preload-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

model=$tmp/model
mkdir -p "$model" "$tmp/small"
part=$((mib / 4))
for i in 1 2 3 4; do
  head -c $((part * 1048576)) /dev/urandom > "$model/shard-$i.bin"
done
i=0
while [ $i -lt 10000 ]; do echo $i > "$tmp/small/f$i"; i=$((i + 1)); done
"$build/tools/modelseal-keygen" -q --insecure-no-passphrase -o "$tmp/k"
"$build/tools/modelseal-sign" -q "$model" -k "$tmp/k.key"
printf '{"keys":[{"type":"ed25519","path":"%s"}]}\n' "$tmp/k.pub" > "$tmp/policy.json"
files="$model/shard-1.bin $model/shard-2.bin $model/shard-3.bin $model/shard-4.bin"
cat $files > /dev/null   # warm the page cache

now() { date +%s%N; }
# best NAME CMD...: the fastest of 3 runs of CMD, in nanoseconds, into $best
best() {
  best=0
  for _ in 1 2 3; do
    t0=$(now); "$@" > /dev/null; t1=$(now)
    d=$((t1 - t0))
    if [ $best -eq 0 ] || [ $d -lt $best ]; then best=$d; fi
  done
}
shimmed() {
  LD_PRELOAD=$shim MODELSEAL_POLICY=$tmp/policy.json MODELSEAL_ROOTS=$model MODELSEAL_PRIVATE_COPY_MAX=0 "$@"
}
read_and_hash() { cat $files; openssl dgst -sha256 $files; }
small_list() { ls "$tmp/small" | sed "s|^|$tmp/small/|"; }
cat_small() { small_list | xargs cat; }
cat_small_shim() { small_list | shimmed xargs cat; }

best cat $files;                 t_read=$best
best read_and_hash;              t_read_hash=$best
best shimmed cat $files;         t_shim_first=$best
best shimmed cat $files $files;  t_shim_twice=$best
best cat_small;                  t_small=$best
best cat_small_shim;             t_small_shim=$best
best cat_small;                  t_small2=$best

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
ms() { awk -v a="$1" 'BEGIN { printf "%.1f ms", a / 1e6 }'; }
t_shim_second=$((t_shim_twice - t_shim_first))
echo "model: $mib MiB in 4 files; best of 3 runs"
echo "plain read (cat):                 $(ms $t_read)"
echo "read + openssl dgst -sha256:      $(ms $t_read_hash)"
echo "first open under the shim (cat):  $(ms $t_shim_first)  ratio vs read+hash: $(ratio $t_shim_first $t_read_hash)  (target <= 1.10)"
echo "second open, same process:        $(ms $t_shim_second)  ratio vs plain read: $(ratio $t_shim_second $t_read)  (target <= 1.05)"
echo "10,000 files outside the roots:   $(ms $t_small) plain, $(ms $t_small_shim) shim, $(ms $t_small2) plain again  ratio: $(ratio $t_small_shim $t_small)"

# The same 10,000 opens inside one process (no program start-up in the figure): the shim's cost
# per open outside the roots.
opens_py='import os,sys,time
names=[os.path.join(sys.argv[1],n) for n in os.listdir(sys.argv[1])]
best=1e9
for _ in range(5):
    t=time.perf_counter()
    for n in names: os.close(os.open(n,os.O_RDONLY))
    best=min(best,time.perf_counter()-t)
print(int(best*1e9))'
t_open=$(/usr/bin/python3 -c "$opens_py" "$tmp/small")
t_open_shim=$(shimmed /usr/bin/python3 -c "$opens_py" "$tmp/small")
echo "10,000 open+close in one process: $(ms $t_open) plain, $(ms $t_open_shim) shim  ratio: $(ratio $t_open_shim $t_open)"
