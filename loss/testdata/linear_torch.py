#!/usr/bin/env python3
"""Writes linear_torch.json: PyTorch 1.13 (float64) on the cross-entropy of a linear layer,
F.cross_entropy(h @ w.T + b, y), with the z-loss and the soft-cap written out in torch:

    z = h @ w.T + b;  z = s * tanh(z / s)               (soft-cap s)
    loss_n = F.cross_entropy(z, y, reduction="none", ...) + c * w[y_n] * logsumexp(z_n)^2
    mean: sum_n loss_n / sum_{counted n} w[y_n];  sum: sum_n loss_n;  bits: / ln 2

    cd loss/testdata && /usr/bin/python3 linear_torch.py   # Debian's python3-torch
"""
import json
import math

import torch
import torch.nn.functional as F

N, D, V = 9, 5, 8
g = torch.Generator().manual_seed(19)
cases = []


def case(name, reduction="mean", bias=True, weights=False, ignore=False, smoothing=0.0,
         zloss=0.0, softcap=0.0, bits=False):
    h = torch.randn(N, D, generator=g, dtype=torch.float64) * 1.5
    w = torch.randn(V, D, generator=g, dtype=torch.float64)
    b = torch.randn(V, generator=g, dtype=torch.float64) if bias else None
    y = torch.randint(0, V, (N,), generator=g)
    if ignore:
        y[1] = y[4] = -100
    cw = torch.rand(V, generator=g, dtype=torch.float64) + 0.5 if weights else None
    up = torch.randn(N, generator=g, dtype=torch.float64) if reduction == "none" else torch.tensor(0.7, dtype=torch.float64)
    hh, ww = h.clone().requires_grad_(), w.clone().requires_grad_()
    bb = b.clone().requires_grad_() if bias else None
    z = hh @ ww.T + (bb if bias else 0)
    z.retain_grad()
    zc = softcap * torch.tanh(z / softcap) if softcap else z
    rows = F.cross_entropy(zc, y, weight=cw, ignore_index=-100, reduction="none", label_smoothing=smoothing)
    counted = (y != -100).to(torch.float64)
    wy = (cw[y.clamp(min=0)] if weights else torch.ones(N, dtype=torch.float64)) * counted
    if zloss:
        rows = rows + zloss * wy * torch.logsumexp(zc, dim=1) ** 2
    if bits:
        rows = rows / math.log(2)
    loss = {"mean": rows.sum() / wy.sum(), "sum": rows.sum(), "none": rows}[reduction]
    (loss * up).sum().backward()
    cases.append({
        "name": name, "n": N, "d": D, "v": V, "reduction": reduction, "label_smoothing": smoothing,
        "zloss": zloss, "softcap": softcap, "bits": bits,
        "ignore_index": -100 if ignore else None, "weights": cw.tolist() if weights else None,
        "h": h.reshape(-1).tolist(), "w": w.reshape(-1).tolist(), "b": b.tolist() if bias else None,
        "labels": y.tolist(), "upstream": up.reshape(-1).tolist(),
        "loss": loss.detach().reshape(-1).tolist(), "dh": hh.grad.reshape(-1).tolist(),
        "dw": ww.grad.reshape(-1).tolist(), "db": bb.grad.tolist() if bias else None,
        "dz": z.grad.reshape(-1).tolist(),
    })


case("plain")
case("sum-nobias", reduction="sum", bias=False)
case("none", reduction="none")
case("weights-ignore-smoothing", weights=True, ignore=True, smoothing=0.1)
case("zloss", zloss=0.01)
case("softcap", softcap=4.0)
case("all-bits", weights=True, ignore=True, smoothing=0.2, zloss=0.02, softcap=3.0, bits=True)
case("none-softcap-ignore", reduction="none", ignore=True, softcap=2.0, zloss=0.05)
case("sum-zloss-smoothing", reduction="sum", smoothing=0.1, zloss=0.03)
json.dump(cases, open("linear_torch.json", "w"), indent=1)
print(f"torch {torch.__version__}: wrote linear_torch.json ({len(cases)} cases)")
