#!/usr/bin/env python3
"""Writes torch_optim.json: PyTorch 1.13's SGD and AdamW trajectories for optim's tests.

Two parameters: "w" (weight decay applies) and "b" (a group with weight_decay 0), five
steps of fixed pseudo-random gradients.   cd optim/testdata && /usr/bin/python3 torch_optim.py
"""
import json
import math

import torch

def grads(step, n, salt):
    return [math.sin(1.7 * step + 0.3 * i + salt) for i in range(n)]

configs = [
    {"name": "sgd", "opt": "sgd", "lr": 0.1, "momentum": 0.0, "nesterov": False, "wd": 0.0},
    {"name": "sgd momentum wd", "opt": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": False, "wd": 0.01},
    {"name": "sgd nesterov wd", "opt": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "wd": 5e-4},
    {"name": "adamw", "opt": "adamw", "lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "wd": 0.1},
]
out = []
for c in configs:
    w = torch.tensor([0.5, -1.0, 2.0, 0.25, -0.75], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64, requires_grad=True)
    groups = [{"params": [w], "weight_decay": c["wd"]}, {"params": [b], "weight_decay": 0.0}]
    if c["opt"] == "sgd":
        opt = torch.optim.SGD(groups, lr=c["lr"], momentum=c["momentum"], nesterov=c["nesterov"])
    else:
        opt = torch.optim.AdamW(groups, lr=c["lr"], betas=tuple(c["betas"]), eps=c["eps"])
    c = dict(c, w0=w.tolist(), b0=b.tolist(), gw=[], gb=[])
    for step in range(5):
        gw, gb = grads(step, 5, 0.0), grads(step, 3, 1.0)
        c["gw"].append(gw)
        c["gb"].append(gb)
        w.grad = torch.tensor(gw, dtype=torch.float64)
        b.grad = torch.tensor(gb, dtype=torch.float64)
        opt.step()
    c["w"], c["b"] = w.tolist(), b.tolist()
    out.append(c)
json.dump(out, open("torch_optim.json", "w"), indent=1)
print(f"torch {torch.__version__}: wrote torch_optim.json ({len(out)} configs)")
