#!/usr/bin/env python3
"""Smoke test of the flagship example (models/mlp) on a tiny generated IDX data set:
it must train (the loss falls), save a checkpoint, a metrics log with one line per
epoch and two PNG files, and --eval of that checkpoint must report the same test
accuracy. Run by CTest: mlp_smoke.py PATH_TO_MLP_BINARY."""
import gzip
import random
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path


def write_idx(path, dims, data):
    header = struct.pack(">BBBB", 0, 0, 8, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + bytes(data))


def make_split(directory, prefix, n, rng):
    # Class k lights up row block k of the 28x28 image, plus noise: learnable in a few steps.
    images, labels = [], []
    for _ in range(n):
        k = rng.randrange(10)
        img = [rng.randrange(40) for _ in range(784)]
        for r in range(2 * k + 4, 2 * k + 6):
            for c in range(28):
                img[r * 28 + c] = 200 + rng.randrange(55)
        images += img
        labels.append(k)
    write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", [n, 28, 28], images)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", [n], labels)


def run(args):
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        sys.exit(f"FAILED: {' '.join(args)} exited {out.returncode}\n{out.stdout}\n{out.stderr}")
    return out.stdout


def main():
    mlp = sys.argv[1]
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        make_split(d, "train", 512, rng)
        make_split(d, "t10k", 200, rng)
        ckpt = str(d / "mlp.safetensors")
        out = d / "out"
        train = run([mlp, "--data", tmp, "--epochs", "3", "--batch-size", "32", "--threads", "1",
                     "--checkpoint", ckpt, "--out", str(out)])
        losses = [float(x) for x in re.findall(r"train loss ([0-9.]+)", train)]
        accuracy = re.search(r"final: test accuracy ([0-9.]+)%", train)
        if len(losses) != 3 or not losses[-1] < losses[0] or not accuracy:
            sys.exit(f"FAILED: loss did not fall or no final line:\n{train}")
        log = (out / "mlp_metrics.csv").read_text().splitlines()
        if len(log) != 4 or not log[0].startswith("epoch,"):
            sys.exit(f"FAILED: expected a CSV header and 3 records in mlp_metrics.csv, got:\n" + "\n".join(log))
        for name in ("mlp_curves.png", "mlp_misclassified.png"):
            if not (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n"):
                sys.exit(f"FAILED: {name} is not a PNG file")
        evaluated = run([mlp, "--data", tmp, "--eval", ckpt])
        again = re.search(r"test accuracy ([0-9.]+)%", evaluated)
        if not again or again.group(1) != accuracy.group(1):
            sys.exit(f"FAILED: --eval reports {again and again.group(1)}%, training ended at {accuracy.group(1)}%")
        print(f"mlp smoke: loss {losses[0]:.4f} -> {losses[-1]:.4f}, test accuracy {accuracy.group(1)}% "
              f"(reloaded checkpoint: {again.group(1)}%)")


if __name__ == "__main__":
    main()
