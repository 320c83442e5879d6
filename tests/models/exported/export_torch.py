#!/usr/bin/env python3
"""Writes the models in this folder: small models exported by torch.onnx.export (its
TorchScript exporter, opset 17) with dynamic axes, as users export theirs, so their shape
computations are the exporter's own (Shape, Gather, Unsqueeze, Concat, Range,
ConstantOfShape, Expand, Where, Slice...). Random weights; the checks compare kiln with
onnxruntime on them (tests/models/check_exported.py). Needs torch and transformers, which
the test suite does not: the files are kept in the repository.

    export_torch.py OUT_DIR
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import transformers


class Gpt(nn.Module):
    """A GPT-2 style causal attention layer: the mask is a slice [:T, :T] of a lower
    triangular buffer, positions are arange(T), the last token's features are the output."""

    def __init__(self, d=32, heads=2, table=320):
        super().__init__()
        self.d, self.heads = d, heads
        self.emb, self.pos = nn.Embedding(100, d), nn.Embedding(table, d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.register_buffer("bias", torch.tril(torch.ones(table, table, dtype=torch.bool)).view(
            1, 1, table, table))

    def forward(self, ids):
        b, t = ids.size()
        x = self.emb(ids) + self.pos(torch.arange(0, t, dtype=torch.long))
        q, k, v = self.qkv(x).split(self.d, dim=2)
        dh = self.d // self.heads
        q, k, v = (z.view(b, t, self.heads, dh).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :t, :t].logical_not(), float("-inf"))
        y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).contiguous().view(b, t, self.d)
        return self.proj(y)[:, -1, :]


class Cnn(nn.Module):
    """Conv, BatchNorm, pooling, and a flatten written as x.view(x.size(0), -1)."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8)
        self.c2, self.fc = nn.Conv2d(8, 16, 3, 1, 1), nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.adaptive_avg_pool2d(F.relu(self.c2(x)), (1, 1))
        return self.fc(x.view(x.size(0), -1))


class Fpn(nn.Module):
    """A feature pyramid's top-down path: the coarse map resized to the fine one's size
    (F.interpolate with size=, nearest and bilinear) and upsampled by 2 then cropped to it."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 8, 3, 1, 1), nn.Conv2d(8, 8, 3, 2, 1)
        self.c3 = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        a = F.relu(self.c1(x))
        b = F.relu(self.c2(a))
        u = F.interpolate(b, size=a.shape[-2:], mode="nearest")
        v = F.interpolate(b, size=a.shape[-2:], mode="bilinear")
        w = F.interpolate(b, scale_factor=2.0, mode="bilinear")[:, :, :a.shape[2], :a.shape[3]]
        return self.c3(a + u + v + w)


class Bert(nn.Module):
    """transformers' BertModel (2 layers, hidden 32) on ids and an attention mask."""

    def __init__(self):
        super().__init__()
        cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=64,
                                      max_position_embeddings=320)
        self.m = transformers.BertModel(cfg)

    def forward(self, ids, mask):
        o = self.m(input_ids=ids, attention_mask=mask)
        return o.last_hidden_state, o.pooler_output


def export(model, args, path, names, outputs, axes):
    torch.onnx.export(model.eval(), args, path, input_names=names, output_names=outputs,
                      dynamic_axes=axes, opset_version=17, dynamo=False)


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    ids, mask = torch.randint(0, 100, (2, 7)), torch.ones(2, 7, dtype=torch.long)
    export(Bert(), (ids, mask), os.path.join(out, "bert_torch.onnx"), ["input_ids", "attention_mask"],
           ["last", "pooled"], {"input_ids": {0: "N", 1: "S"}, "attention_mask": {0: "N", 1: "S"},
                                "last": {0: "N", 1: "S"}, "pooled": {0: "N"}})
    export(Gpt(), (ids,), os.path.join(out, "gpt_torch.onnx"), ["ids"], ["y"],
           {"ids": {0: "N", 1: "S"}})
    export(Cnn(), (torch.randn(2, 3, 32, 32),), os.path.join(out, "cnn_torch.onnx"), ["x"], ["y"],
           {"x": {0: "N", 2: "H", 3: "W"}})
    export(Fpn(), (torch.randn(2, 3, 32, 32),), os.path.join(out, "fpn_torch.onnx"), ["x"], ["y"],
           {"x": {0: "N", 2: "H", 3: "W"}})


if __name__ == "__main__":
    main()
