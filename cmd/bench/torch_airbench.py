#!/usr/bin/python3
"""PyTorch's side of `bench -models airbench-32-64-128,airbench`: airbench94's network, as
xent's model.Airbench builds it, timed by the peers' own harness (../shared/peers/torch_bench.py:
quiet-machine check, warm-up, median of timed runs, SGD momentum 0.9, mean cross-entropy).

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 cmd/bench/torch_airbench.py --batch 256
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 cmd/bench/torch_airbench.py --batch 256

The network: conv2x2(3->24, no padding, bias; weight frozen, as airbench's whitening) -> GELU
-> 3 x [conv3x3(no bias) -> maxpool2 -> BN -> GELU -> conv3x3(no bias) -> BN -> GELU]
-> maxpool3 -> flatten -> linear(->10) -> x 1/9. BatchNorm: eps 1e-12, momentum 0.4, scale
frozen. xent's head has a bias; this one too, so that the two count the same parameters.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn


class Mul(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s


def bn(c):
    b = nn.BatchNorm2d(c, eps=1e-12, momentum=0.4)
    b.weight.requires_grad = False
    return b


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.MaxPool2d(2), bn(cout), nn.GELU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), bn(cout), nn.GELU())


def make_airbench(w1, w2, w3):
    net = nn.Sequential(nn.Conv2d(3, 24, 2, padding=0, bias=True), nn.GELU(),
                        block(24, w1), block(w1, w2), block(w2, w3),
                        nn.MaxPool2d(3), nn.Flatten(), nn.Linear(w3, 10), Mul(1 / 9))
    net[0].weight.requires_grad = False
    return net


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", default=os.path.join(here, "..", "..", "..", "shared", "peers"))
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--widths", nargs="+", default=["32,64,128", "64,256,256"])
    ap.add_argument("--target-s", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    sys.path.insert(0, args.peers)
    import torch_bench as tb

    torch.set_num_threads(2)
    tb.BATCH = args.batch
    out = []
    for w in args.widths:
        w1, w2, w3 = (int(v) for v in w.split(","))
        name = "airbench" if (w1, w2, w3) == (64, 256, 256) else f"airbench-{w1}-{w2}-{w3}"
        tb.MODELS[name] = lambda: make_airbench(w1, w2, w3)
        xs, ys = tb.make_data()
        r = tb.bench_model(name, xs, ys, args.target_s, args.runs)
        r.update({"framework": "pytorch", "batch": args.batch, "train_img_s": r["train_images_per_s_median"],
                  "infer_img_s": r["infer_images_per_s_median"],
                  "env": {k: os.environ.get(k, "") for k in ("OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")}})
        print(f"{name:20s} params {r['params']:8d}  train {r['train_img_s']:7.1f} img/s "
              f"[{r['train_images_per_s_min']:.1f}-{r['train_images_per_s_max']:.1f}]  infer {r['infer_img_s']:7.1f} img/s",
              flush=True)
        out.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
