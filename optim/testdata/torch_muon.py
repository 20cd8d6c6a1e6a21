#!/usr/bin/env python3
"""Writes torch_muon.json: Muon as airbench94_muon.py writes it, in float64 (the record's
Newton-Schulz runs in bfloat16 on a GPU), five steps of fixed pseudo-random gradients on a
filter bank [4,3,2,2], a tall matrix [6,2] and a vector [5].

    cd optim/testdata && /usr/bin/python3 torch_muon.py
"""
import json
import math

import torch


def zeropower_via_newtonschulz5(G, steps, eps=1e-7):
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.clone()
    X /= (X.norm() + eps)
    if G.size(0) > G.size(1):
        X = X.T
    for _ in range(steps):
        A = X @ X.T
        B = b * A + c * A @ A
        X = a * X + B @ X
    if G.size(0) > G.size(1):
        X = X.T
    return X


def muon_step(params, grads, bufs, lr, momentum, nesterov, steps, renormalize):
    for p, g, buf in zip(params, grads, bufs):
        buf.mul_(momentum).add_(g)
        d = g.add(buf, alpha=momentum) if nesterov else buf
        if renormalize:
            p.mul_(len(p) ** 0.5 / p.norm())
        p.add_(zeropower_via_newtonschulz5(d.reshape(len(d), -1), steps).view(d.shape), alpha=-lr)


def grads(step, n, salt):
    return [math.sin(1.7 * step + 0.3 * i + salt) for i in range(n)]


shapes = {"conv": [4, 3, 2, 2], "tall": [6, 2], "vec": [5]}
configs = [
    {"name": "record", "lr": 0.24, "momentum": 0.6, "nesterov": True, "steps": 3, "renormalize": True},
    {"name": "plain", "lr": 0.05, "momentum": 0.95, "nesterov": False, "steps": 5, "renormalize": False},
]
out = []
for c in configs:
    g0 = torch.Generator().manual_seed(7)
    params = {k: torch.randn(*s, generator=g0, dtype=torch.float64) for k, s in shapes.items()}
    c = dict(c, shapes=shapes, p0={k: v.reshape(-1).tolist() for k, v in params.items()},
             grads=[], p={})
    bufs = [torch.zeros_like(v) for v in params.values()]
    for step in range(5):
        gs = {k: grads(step, v.numel(), i) for i, (k, v) in enumerate(params.items())}
        c["grads"].append(gs)
        muon_step(list(params.values()), [torch.tensor(gs[k], dtype=torch.float64).reshape(v.shape)
                                          for k, v in params.items()],
                  bufs, c["lr"], c["momentum"], c["nesterov"], c["steps"], c["renormalize"])
    c["p"] = {k: v.reshape(-1).tolist() for k, v in params.items()}
    out.append(c)
json.dump(out, open("torch_muon.json", "w"), indent=1)
print(f"torch {torch.__version__}: wrote torch_muon.json ({len(out)} configs)")
