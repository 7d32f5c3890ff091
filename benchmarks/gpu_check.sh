#!/usr/bin/env bash
# The device check of session 36, for a session lent a GPU machine (the `device` tool's `run`): CUDA paths of facessl
# end to end and GPU throughput, in about 3 minutes of device time. The machine has its own PyTorch (no registry
# there); packages facessl needs that it lacks travel as wheels in .whl/ (ignored by git), e.g. kornia:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl kornia==0.9.0 kornia_rs==0.2.0
# then: run(command="bash benchmarks/gpu_check.sh", carry=[".whl"]). Results land in $OUT (throughput.txt, tests.txt,
# tiny.txt, report.md); docs/benchmarks.md has session 36's figures.
set -o pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=$PWD/src:/tmp/site PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, facessl; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/gpu.txt"
echo "== throughput: the paper's backbone, 64 px, batch 256" | tee "$OUT/throughput.txt"
timeout 170 python3 benchmarks/throughput.py --methods simclr,pcl,fabnet --backbones facecycle --batch 256 --size 64 \
    --steps 5 --precisions bf16,fp32 2>&1 | tee -a "$OUT/throughput.txt"
echo "== throughput: the demo's small backbone, 32 px, batch 64" | tee -a "$OUT/throughput.txt"
timeout 60 python3 benchmarks/throughput.py --methods simclr,pcl,fabnet --backbones small --batch 64 --size 32 \
    --steps 5 --precisions bf16 2>&1 | tee -a "$OUT/throughput.txt"
echo "== tests that use the fastest device" | tee "$OUT/tests.txt"
timeout 120 python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_probes.py tests/test_losses.py \
    tests/test_frame_cache.py tests/test_verdicts.py 2>&1 | tail -15 | tee -a "$OUT/tests.txt"
echo "== the tiny demo from scratch" | tee "$OUT/tiny.txt"
rm -rf /tmp/tiny
/usr/bin/time -f "%e s wall, %M KB" timeout 300 python3 -m facessl demo --scale tiny --out /tmp/tiny 2>&1 \
    | grep "^\[\|wall\|rror\|Traceback" | tail -40 | tee -a "$OUT/tiny.txt"
cp /tmp/tiny/report.md /tmp/tiny/hardware.json "$OUT/" 2>/dev/null
true
