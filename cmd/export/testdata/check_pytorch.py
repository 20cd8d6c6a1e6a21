"""Loads an exported PyTorch model and compares its logits with xent's.

usage: check_pytorch.py DIR IMAGES LOGITS N K
IMAGES: uint8 [N,3,32,32]; LOGITS: xent's float32 [N,K], both raw little-endian.
Prints the largest absolute difference."""
import sys

import numpy as np
import torch

sys.path.insert(0, sys.argv[1])
import model  # noqa: E402

d, n, k = sys.argv[1], int(sys.argv[4]), int(sys.argv[5])
images = torch.from_numpy(np.fromfile(sys.argv[2], dtype=np.uint8).reshape(n, 3, 32, 32).copy())
want = torch.from_numpy(np.fromfile(sys.argv[3], dtype="<f4").reshape(n, k).copy())
net = model.load(d + "/weights.safetensors")
with torch.no_grad():
    got = net(model.normalize(images))
print(float((got - want).abs().max()))
