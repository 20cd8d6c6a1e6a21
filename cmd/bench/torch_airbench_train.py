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

The Muon recipe of `bin/train -optimizer muon -schedule linear [-whiten-bias-epochs N]
[-tta flip-translate] [-eval-every end]`, the same way:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 cmd/bench/torch_airbench_train.py --optimizer muon \
        --muon-lr 0.12 --schedule linear --whiten-bias-epochs 1 --tta flip-translate --eval-every end

Muon (airbench94_muon's, as xent's optim.Muon and optim/testdata/torch_muon.py: Nesterov
momentum 0.6, 3 quintic Newton-Schulz steps in float32, each filter bank renormalised to
Frobenius norm sqrt(out) before its update, no weight decay) on the 3x3 convolution filters,
SGD as above on the rest; --whiten-bias-epochs N trains the whitening bias at lr*(1 - step/S)
over the first N epochs' S steps and at 0 after; flip-translate is airbench94's TTA level 2.
The model and batches are in channels_last (--memory-format), PyTorch's faster layout here.

The airbench94 preset (airbench94_muon's recipe, see train/presets.go), the same way:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 cmd/bench/torch_airbench_train.py --widths 64,256,256 \
        --epochs 10 --batch 2000 --lr 1.656 --wd 0.002415 --optimizer muon --muon-lr 0.24 \
        --schedule linear --whiten-bias-epochs 3 --whiten-bias-lr 106 --tta flip-translate --eval-every end
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
    ap.add_argument("--optimizer", choices=["sgd", "muon"], default="sgd")
    ap.add_argument("--muon-lr", type=float, default=0.24)
    ap.add_argument("--muon-momentum", type=float, default=0.6)
    ap.add_argument("--muon-steps", type=int, default=3)
    ap.add_argument("--schedule", choices=["triangular", "linear"], default="triangular")
    ap.add_argument("--whiten-bias-epochs", type=int, default=0)
    ap.add_argument("--whiten-bias-lr", type=float, default=0, help="the whitening bias's starting rate (0: --lr)")
    ap.add_argument("--wd", type=float, default=1.33e-3, help="weight decay of the linear (and, without Muon, conv) weights")
    ap.add_argument("--tta", choices=["flip", "flip-translate"], default="flip")
    ap.add_argument("--eval-every", default="1", help="N, or end")
    ap.add_argument("--memory-format", choices=["channels_last", "nchw"], default="channels_last")
    args = ap.parse_args()
    fmt = torch.channels_last if args.memory_format == "channels_last" else torch.contiguous_format
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
    net = net.to(memory_format=fmt)
    decay, plain, shifts, filters = [], [], [], []
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        if isinstance(dict(net.named_modules())[name.rsplit(".", 1)[0]], torch.nn.BatchNorm2d):
            shifts.append(p)
        elif p.ndim == 4 and args.optimizer == "muon":
            filters.append(p)
        elif p.ndim > 1:
            decay.append(p)
        elif not (args.whiten_bias_epochs and p is net[0].bias):
            plain.append(p)
    groups = [dict(params=decay, weight_decay=args.wd), dict(params=plain), dict(params=shifts, lr=args.lr * 64)]
    if args.whiten_bias_epochs:
        groups.append(dict(params=[net[0].bias], lr=args.whiten_bias_lr or args.lr, whiten=True))
    opt = torch.optim.SGD(groups, lr=args.lr, momentum=0.85, nesterov=True)
    base = [g["lr"] for g in opt.param_groups]
    bufs = [torch.zeros_like(p) for p in filters]
    steps_per_epoch = len(xtr) // args.batch
    total = args.epochs * steps_per_epoch
    whiten_steps = args.whiten_bias_epochs * steps_per_epoch

    def lr_frac(step):
        x = step / total
        if args.schedule == "linear":
            return max(0.0, 1 - x)
        return 0.1 + 0.9 * x / 0.2 if x < 0.2 else max(0.0, 1 - (x - 0.2) / 0.8)

    def newton_schulz(g, steps, eps=1e-7):
        a, b, c = 3.4445, -4.7750, 2.0315
        x = g / (g.norm() + eps)
        tall = g.size(0) > g.size(1)
        if tall:
            x = x.T
        for _ in range(steps):
            m = x @ x.T
            x = a * x + (b * m + c * m @ m) @ x
        return x.T if tall else x

    def muon_step(lr):
        with torch.no_grad():
            for p, buf in zip(filters, bufs):
                g = p.grad
                buf.mul_(args.muon_momentum).add_(g)
                d = g.add(buf, alpha=args.muon_momentum)
                p.mul_(len(p) ** 0.5 / p.norm())
                p.add_(newton_schulz(d.reshape(len(d), -1), args.muon_steps).view(d.shape), alpha=-lr)

    def infer(x):
        def mirror(v):
            return 0.5 * (net(v) + net(v.flip(-1)))
        z = mirror(x)
        if args.tta == "flip":
            return z
        padded = F.pad(x, (1,) * 4, mode="reflect")
        return 0.5 * z + 0.25 * mirror(padded[:, :, 0:32, 0:32]) + 0.25 * mirror(padded[:, :, 2:34, 2:34])

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
                if g.get("whiten"):
                    g["lr"] = b * max(0.0, 1 - step / whiten_steps)
            loss = F.cross_entropy(net(xa[idx].contiguous(memory_format=fmt)), ytr[idx], label_smoothing=0.2)
            net.zero_grad(set_to_none=True)  # the filters too: they are not in opt (Muon steps them)
            loss.backward()
            opt.step()
            if filters:
                muon_step(args.muon_lr * lr_frac(step))
            step += 1
        train_s = time.time() - t0
        if epoch + 1 < args.epochs and (args.eval_every == "end" or (epoch + 1) % int(args.eval_every)):
            print(json.dumps({"framework": "pytorch", "epoch": epoch + 1, "img_per_s": steps_per_epoch * args.batch / train_s,
                              "wall_s": time.time() - start, "seed": args.seed, "epochs": args.epochs}), flush=True)
            continue
        net.eval()
        correct, nll = 0, 0.0
        with torch.no_grad():
            for i in range(0, len(xte), 500):
                x = xte[i:i + 500].contiguous(memory_format=fmt)
                logits = infer(x)
                correct += (logits.argmax(1) == yte[i:i + 500]).sum().item()
                nll += F.cross_entropy(logits, yte[i:i + 500], reduction="sum").item()
        print(json.dumps({"framework": "pytorch", "epoch": epoch + 1, "test_acc": correct / len(xte),
                          "test_loss_bits": nll / len(xte) / np.log(2), "img_per_s": steps_per_epoch * args.batch / train_s,
                          "wall_s": time.time() - start, "seed": args.seed, "epochs": args.epochs,
                          "optimizer": args.optimizer, "tta": args.tta, "memory_format": args.memory_format}), flush=True)


if __name__ == "__main__":
    main()
