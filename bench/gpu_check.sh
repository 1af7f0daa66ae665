#!/usr/bin/env bash
# A first run on a GPU machine, under 8 minutes on one node: AMP (bf16),
# channels-last and torch.compile on vit_tiny_patch16_224 and resnet50;
# the shard pipeline against synthetic input with 8 and 16 loader workers;
# torchrun DDP (NCCL) on every visible GPU for 50 steps. One table at the end.
#
#   bench/gpu_check.sh              # from anywhere; PYTHON picks the interpreter (default: python)
#
# Without a CUDA GPU it prints one line and exits 0. Work files go to
# runs/gpu_check (GPU_CHECK_DIR); the rendered sample is reused by later runs.
set -uo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python}
gpus=$("$py" -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
if [ "${gpus:-0}" -lt 1 ] 2>/dev/null; then
    echo "gpu_check: no CUDA GPU visible to torch, nothing to check on this machine"
    exit 0
fi

work=${GPU_CHECK_DIR:-runs/gpu_check}
data=$work/fractaldb-362
mkdir -p "$work"
rows=()
failed=0
row() { rows+=("$(printf '%-58s %s' "$1" "$2")"); }

if [ ! -f "$data/manifest.json" ]; then
    timeout 180 "$py" -m fdsl_gen render fractaldb --search --categories 20 --instances 200 --size 362 \
        --samples-per-shard 250 --out "$data" --quiet || { echo "gpu_check: rendering the sample failed"; exit 1; }
fi

# train_step.py prints "synthetic input N images/s" and "shard pipeline N images/s"
steps() {  # label, then train_step.py options
    local label=$1; shift
    local out
    if out=$(timeout 200 "$py" bench/train_step.py --data "$data" --batch-size 128 --steps 20 --warmup 5 \
             --rounds 3 "$@" 2>&1); then
        row "$label, synthetic input" "$(awk '/synthetic input/ {print $3, $4}' <<< "$out")"
        row "$label, shard pipeline" "$(awk '/shard pipeline/ {print $3, $4}' <<< "$out")"
    else
        row "$label" "FAILED (rc $?): $(tail -n 1 <<< "$out")"
        failed=1
    fi
}
steps "vit_tiny bf16 channels-last, 8 workers" --model vit_tiny_patch16_224 --workers 8
steps "vit_tiny bf16 channels-last, 16 workers" --model vit_tiny_patch16_224 --workers 16
steps "vit_tiny bf16 channels-last compiled, 8 workers" --model vit_tiny_patch16_224 --workers 8 --compile
steps "resnet50 bf16 channels-last, 8 workers" --model resnet50 --workers 8
steps "resnet50 bf16 channels-last compiled, 8 workers" --model resnet50 --workers 8 --compile

rm -rf "$work/ddp"
if out=$(timeout 240 "$py" -m torch.distributed.run --nproc_per_node="$gpus" -m fdsl_train pretrain \
         --data "$data" --output "$work/ddp" --model vit_tiny_patch16_224 -b 128 --epochs 1 \
         --stop-after-steps 50 --log-interval 10 --workers 4 2>&1) \
   && last=$(grep '"event": "step"' "$work/ddp/log.jsonl" | tail -n 1) \
   && [ "$("$py" -c 'import json,sys; print(json.loads(sys.argv[1])["step"])' "$last")" = 50 ]; then
    rate=$("$py" -c 'import json,sys; print(round(json.loads(sys.argv[1])["samples_per_s"], 1))' "$last")
    row "torchrun DDP NCCL, $gpus GPU(s), vit_tiny, 50 steps" "$rate samples/s (rank 0, last 10 steps)"
else
    row "torchrun DDP NCCL, $gpus GPU(s), 50 steps" "FAILED: $(tail -n 1 <<< "${out:-no output}")"
    failed=1
fi

echo
echo "gpu_check: $("$py" -c 'import torch; print(torch.cuda.get_device_name(0), "x", torch.cuda.device_count(), "| torch", torch.__version__)')"
printf '%s\n' "${rows[@]}"
exit $failed
