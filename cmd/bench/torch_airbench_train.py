#!/usr/bin/python3
"""PyTorch 1.13 training the `quick` and `standard` recipes of xent's cmd/train, for a
time-to-accuracy comparison on the same machine in the same session:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 cmd/bench/torch_airbench_train.py --epochs 2 --seed 1

The same recipe as train.Presets: airbench94's network at widths 32/64/128 (see
torch_airbench.py) with its 2x2 whitening convolution set from the first 5,000 training
images' patch statistics (eps 5e-4); batch 256; SGD with Nesterov momentum 0.85, peak lr
0.375, weight decay 1.33e-3 on conv and linear weights only, BatchNorm shifts at 64x the
learning rate; triangular schedule (0.1 -> 1 over the first 20% of steps, then -> 0); mean
cross-entropy with label smoothing 0.2; random translation by up to 2 pixels (reflect
padding) and alternating flips; evaluation on the test split after every epoch with flip
test-time augmentation. Wall time counts from the start (data loading included) to each
evaluation's end, as xent's wall_s does. Prints one JSON line per epoch.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_airbench import make_airbench  # noqa: E402


def load(dirname, files):
    raw = np.concatenate([np.fromfile(os.path.join(dirname, f), dtype=np.uint8).reshape(-1, 3073) for f in files])
    return torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(raw[:, 0].astype(np.int64))


def whiten_(conv, x, eps=5e-4):
    c, (h, w) = x.shape[1], conv.weight.shape[2:]
    patches = x.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c, h, w).double()
    flat = patches.reshape(len(patches), -1)
    cov = flat.T @ flat / len(flat)
    vals, vecs = torch.linalg.eigh(cov)
    vals, vecs = vals.flip(0), vecs.T.flip(0)
    scaled = (vecs / torch.sqrt(vals.clamp(min=0) + eps)[:, None]).reshape(-1, c, h, w)
    conv.weight.data[:] = torch.cat((scaled, -scaled)).float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("CIFAR10_DIR", os.path.expanduser("~/.cache/cifar10/cifar-10-batches-bin")))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.375)
    ap.add_argument("--widths", default="32,64,128")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--subset", type=int, default=0, help="train on the first N images only (a smoke test)")
    args = ap.parse_args()
    start = time.time()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    xtr, ytr = load(args.data, [f"data_batch_{i}.bin" for i in range(1, 6)])
    xte, yte = load(args.data, ["test_batch.bin"])
    if args.subset:
        xtr, ytr, xte, yte = xtr[:args.subset], ytr[:args.subset], xte[:args.subset], yte[:args.subset]
    xtr, xte = xtr.float(), xte.float()
    mean, std = xtr.mean((0, 2, 3), keepdim=True), xtr.std((0, 2, 3), keepdim=True)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    net = make_airbench(*(int(v) for v in args.widths.split(",")))
    for m in net.modules():  # Dirac on the first filters of each 3x3 conv, as airbench and xent
        if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3):
            torch.nn.init.dirac_(m.weight.data[:m.in_channels])
    whiten_(net[0], xtr[:5000])
    net[0].bias.data.zero_()
    decay, plain, shifts = [], [], []
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        if isinstance(dict(net.named_modules())[name.rsplit(".", 1)[0]], torch.nn.BatchNorm2d):
            shifts.append(p)
        elif p.ndim > 1:
            decay.append(p)
        else:
            plain.append(p)
    opt = torch.optim.SGD([dict(params=decay, weight_decay=1.33e-3), dict(params=plain),
                           dict(params=shifts, lr=args.lr * 64)], lr=args.lr, momentum=0.85, nesterov=True)
    base = [g["lr"] for g in opt.param_groups]
    steps_per_epoch = len(xtr) // args.batch
    total = args.epochs * steps_per_epoch

    def lr_frac(step):
        x = step / total
        return 0.1 + 0.9 * x / 0.2 if x < 0.2 else max(0.0, 1 - (x - 0.2) / 0.8)

    pad = F.pad(xtr, (2, 2, 2, 2), mode="reflect")
    flip0 = torch.rand(len(xtr)) < 0.5
    step = 0
    for epoch in range(args.epochs):
        net.train()
        t0 = time.time()
        # translate every image by (dy, dx) in [-2, 2]^2, one slice per offset; alternating flip
        off = torch.randint(0, 5, (len(xtr), 2))
        xa = torch.empty_like(xtr)
        for dy in range(5):
            for dx in range(5):
                sel = ((off[:, 0] == dy) & (off[:, 1] == dx)).nonzero().squeeze(1)
                xa[sel] = pad[sel, :, dy:dy + 32, dx:dx + 32]
        flip = flip0 ^ bool(epoch % 2)
        xa[flip] = xa[flip].flip(-1)
        order = torch.randperm(len(xtr))
        for i in range(steps_per_epoch):
            idx = order[i * args.batch:(i + 1) * args.batch]
            for g, b in zip(opt.param_groups, base):
                g["lr"] = b * lr_frac(step)
            loss = F.cross_entropy(net(xa[idx]), ytr[idx], label_smoothing=0.2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        train_s = time.time() - t0
        net.eval()
        correct, nll = 0, 0.0
        with torch.no_grad():
            for i in range(0, len(xte), 500):
                x = xte[i:i + 500]
                logits = 0.5 * (net(x) + net(x.flip(-1)))
                correct += (logits.argmax(1) == yte[i:i + 500]).sum().item()
                nll += F.cross_entropy(logits, yte[i:i + 500], reduction="sum").item()
        print(json.dumps({"framework": "pytorch", "epoch": epoch + 1, "test_acc": correct / len(xte),
                          "test_loss_bits": nll / len(xte) / np.log(2), "img_per_s": steps_per_epoch * args.batch / train_s,
                          "wall_s": time.time() - start, "seed": args.seed, "epochs": args.epochs}), flush=True)


if __name__ == "__main__":
    main()
