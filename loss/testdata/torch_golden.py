#!/usr/bin/env python3
"""Writes torch.json: PyTorch's F.cross_entropy (float64) on the inputs of golden.json.

    cd loss/testdata && /usr/bin/python3 torch_golden.py   # Debian's python3-torch
"""
import json
import math

import torch
import torch.nn.functional as F

cases = json.load(open("golden.json"))
for c in cases:
    z = torch.tensor(c["logits"], dtype=torch.float64).reshape(c["n"], c["k"]).requires_grad_()
    y = torch.tensor(c["labels"], dtype=torch.long)
    w = torch.tensor(c["weights"], dtype=torch.float64) if c.get("weights") else None
    loss = F.cross_entropy(z, y, weight=w, ignore_index=c.get("ignore_index", -100),
                           reduction=c["reduction"], label_smoothing=c["label_smoothing"])
    if c["bits"]:
        loss = loss / math.log(2)
    loss.sum().backward()
    c["loss"] = loss.detach().reshape(-1).tolist()
    c["grad"] = z.grad.reshape(-1).tolist()
json.dump(cases, open("torch.json", "w"), indent=1)
print(f"torch {torch.__version__}: wrote torch.json ({len(cases)} cases)")
