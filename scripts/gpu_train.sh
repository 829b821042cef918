#!/usr/bin/env bash
# One self-contained GPU training run, for a lent H100/H200 (no network there).
#
# Here, once:   make gpu-wheels          # the pure-Python and binary wheels the GPU image lacks, into .whl/
# Then, with the device tool, from the repository root:
#   run(command="bash scripts/gpu_train.sh", carry=[".whl", ".gl"], timeout_s=600)
# It installs the carried wheels, renders fresh clips with the NVIDIA EGL driver (the clips are
# too large to carry), continues training the long run's weights (checkpoints/goal-f2) in bf16 with a
# larger batch for MINUTES, and leaves the new pipeline, the log and the loss curve in $OUT; gate it
# (docs/training.md) before it replaces v4s/assets/v4s-small and its MODEL_CARD.md.
set -euo pipefail
OUT=${OUT:-runs/gpu}
MINUTES=${MINUTES:-7}
NUM_FRAMES=${NUM_FRAMES:-2}   # the model's horizon (target frames per call; the planner rolls out)
INIT=${INIT:-checkpoints/goal-f2/pipeline}   # the weights to continue (the tracked long run)
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig   # EGL loader libraries (see make gpu-wheels)
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD
export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
python3 - <<'PY'
import torch, moderngl
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else "")
print(moderngl.create_standalone_context(backend="egl").info["GL_RENDERER"])
PY
# clips: 14 worker processes render houses side by side (the shards are the same for any count)
python3 -m v4s.experiments.gen_data split=train num_scenes=400 workers=14 out=/tmp/clips/train
python3 -m v4s.experiments.gen_data split=val num_scenes=25 windows_per_episode=2 workers=14 out=/tmp/clips/val
# train from the long run's weights (its EMA pipeline; a fresh optimizer at this batch size), stopped by
# max_minutes, evaluated and checkpointed, before the lease ends
python3 -m v4s.experiments.train stage=diffusion data=/tmp/clips/train val_data=/tmp/clips/val out=/tmp/run \
  init="$INIT" steps=1000000 max_minutes=$MINUTES batch_size=128 lr=5e-4 checkpoint_every=500 eval_every=500 \
  num_frames=$NUM_FRAMES
mkdir -p "$OUT"  # few files come back from a lent machine: the pipeline travels as one archive
tar czf "$OUT/pipeline.tgz" -C /tmp/run pipeline
cp /tmp/run/log.csv /tmp/run/loss.png "$OUT"/
