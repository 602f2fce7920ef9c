#!/usr/bin/python3
"""make_nn_golden.py - reference values for tests/unit/nn_golden.c, computed
once with PyTorch (Debian python3-torch) and written as a C header, so the C
test needs no Python.  Run from the project root:

    /usr/bin/python3 tests/ref/make_nn_golden.py > tests/ref/nn_golden.h

Two networks, the shapes of songpipe's learned styles:
  A "predictor": 3 numeric inputs (normalised) -> 5 leaky_relu -> 4 sigmoid
    -> 1, L1Loss.
  B "categorical autoencoder": 3 numeric inputs + two embedded categorical
    columns -> 6 (BatchNorm1d, relu) -> 2 linear -> 6 tanh -> heads: MSE on
    the normalised inputs, CrossEntropy on each categorical column, and a
    weighted BCE head on a 0/1 column.
For each: the initial parameters, the training-mode forward output, the loss,
every gradient, and the parameters after three steps of SGD (momentum,
weight decay), RMSprop (plain and with momentum), Adam and AdamW; for B also
the running statistics and an evaluation-mode forward after the steps.
Parameter names and layouts are songpipe's (dense.<l>.weight is [out, in] as
torch.nn.Linear)."""
import json
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(20240501)
torch.set_num_threads(1)
B = 8


def cfloat(x):
    s = "%.9g" % x
    return s + (".0f" if "." not in s and "e" not in s else "f")


def fmt(v):
    return ", ".join(cfloat(x) for x in v.detach().reshape(-1).double().tolist())


class Net(torch.nn.Module):
    """songpipe's nn_mlp in torch terms (no dropout, to stay deterministic)."""

    def __init__(self, arch, n_num, vocabs):
        super().__init__()
        self.arch = arch
        self.n_num = n_num
        self.emb = torch.nn.ModuleList(
            torch.nn.Embedding(v, c["dim"]) for v, c in zip(vocabs, arch.get("categorical", [])))
        width = n_num + sum(c["dim"] for c in arch.get("categorical", []))
        self.dense = torch.nn.ModuleList()
        self.bn = torch.nn.ModuleDict()
        for l, spec in enumerate(arch["layers"]):
            # songpipe's dense layer before a batchnorm has no bias (see common/mlp.c)
            self.dense.append(torch.nn.Linear(width, spec["units"], bias=not spec.get("batchnorm")))
            if spec.get("batchnorm"):
                self.bn[str(l)] = torch.nn.BatchNorm1d(spec["units"])
            width = spec["units"]
        self.out_width = sum(h["_width"] for h in arch["outputs"])
        self.dense.append(torch.nn.Linear(width, self.out_width))

    def forward(self, x, mean, std):
        h = [(x[:, :self.n_num] - mean) / std]
        for c, e in enumerate(self.emb):
            h.append(e(x[:, self.n_num + c].long()))
        h = torch.cat(h, 1)
        for l, spec in enumerate(self.arch["layers"]):
            h = self.dense[l](h)
            if str(l) in self.bn:
                h = self.bn[str(l)](h)
            a = spec.get("act", "relu")
            h = {"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda v: v,
                 "leaky_relu": lambda v: F.leaky_relu(v, spec.get("slope", 0.01))}[a](h)
        z = self.dense[-1](h)
        outs, off = [], 0
        for head in self.arch["outputs"]:
            seg = z[:, off:off + head["_width"]]
            act = head.get("act", "sigmoid" if head["loss"] == "bce" else "linear")
            if head["loss"] != "ce":
                seg = {"linear": lambda v: v, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[act](seg)
            outs.append(seg)
            off += head["_width"]
        return torch.cat(outs, 1)

    def loss(self, out, t):
        total, off, toff = 0, 0, 0
        for head in self.arch["outputs"]:
            w = head["_width"]
            p = out[:, off:off + w]
            wt = head.get("weight", 1.0)
            if head["loss"] == "mse":
                total = total + wt * F.mse_loss(p, t[:, toff:toff + w]); toff += w
            elif head["loss"] == "mae":
                total = total + wt * F.l1_loss(p, t[:, toff:toff + w]); toff += w
            elif head["loss"] == "bce":
                total = total + wt * F.binary_cross_entropy(p, t[:, toff:toff + w]); toff += w
            else:
                total = total + wt * F.cross_entropy(p, t[:, toff].long()); toff += 1
            off += w
        return total

    def named(self):
        """(songpipe name, tensor) for every parameter and buffer, in order"""
        out = []
        for c, e in enumerate(self.emb):
            out.append(("emb.%d.weight" % c, e.weight))
        for l, d in enumerate(self.dense):
            out.append(("dense.%d.weight" % l, d.weight))
            if d.bias is not None:
                out.append(("dense.%d.bias" % l, d.bias))
            if str(l) in self.bn:
                out.append(("bn.%d.weight" % l, self.bn[str(l)].weight))
                out.append(("bn.%d.bias" % l, self.bn[str(l)].bias))
        return out

    def buffers_named(self):
        return [("bn.%s.running_%s" % (l, k), getattr(b, "running_" + k))
                for l, b in self.bn.items() for k in ("mean", "var")]


OPTIMS = [
    ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.01), torch.optim.SGD),
    ("rmsprop", dict(lr=0.01, alpha=0.99, eps=1e-8), torch.optim.RMSprop),
    ("rmsprop_momentum", dict(lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, weight_decay=0.001), torch.optim.RMSprop),
    ("adam", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8), torch.optim.Adam),
    ("adamw", dict(lr=0.01, betas=(0.85, 0.99), eps=1e-7, weight_decay=0.1), torch.optim.AdamW),
]
STEPS = 3


def tensor_list(name, pairs):
    lines = ["static const golden_tensor %s[] = {" % name]
    for n, t in pairs:
        lines.append('    {"%s", %d, (const float[]){%s}},' % (n, t.numel(), fmt(t)))
    lines.append("    {NULL, 0, NULL}};")
    return "\n".join(lines)


def emit(tag, arch, n_num, vocabs, x, t, mean, std):
    out = []
    net = Net(arch, n_num, vocabs)
    # a spread of initial values, as after some training
    with torch.no_grad():
        for _, p in net.named():
            p.add_(0.1 * torch.randn_like(p))
    init = {n: p.detach().clone() for n, p in net.named()}
    init_buf = {n: b.detach().clone() for n, b in net.buffers_named()}
    clean = json.loads(json.dumps(arch))
    for h in clean["outputs"]:
        del h["_width"]
    out.append('static const char golden_%s_arch[] = %s;' % (tag, json.dumps(json.dumps(clean))))
    out.append("static const int golden_%s_rows = %d;" % (tag, B))
    out.append("static const float golden_%s_x[] = {%s};" % (tag, fmt(x)))
    out.append("static const float golden_%s_t[] = {%s};" % (tag, fmt(t)))
    out.append("static const float golden_%s_mean[] = {%s};" % (tag, fmt(mean)))
    out.append("static const float golden_%s_std[] = {%s};" % (tag, fmt(std)))
    out.append(tensor_list("golden_%s_init" % tag, net.named()))
    net.train()
    y = net(x, mean, std)
    loss = net.loss(y, t)
    loss.backward()
    out.append("static const float golden_%s_out[] = {%s};" % (tag, fmt(y)))
    out.append("static const double golden_%s_loss = %.17g;" % (tag, loss.item()))
    out.append(tensor_list("golden_%s_grad" % tag, [(n, p.grad) for n, p in net.named()]))
    for oname, kw, cls in OPTIMS:
        with torch.no_grad():
            for n, p in net.named():
                p.copy_(init[n])
            for n, b in net.buffers_named():
                b.copy_(init_buf[n])
        opt = cls([p for _, p in net.named()], **kw)
        for _ in range(STEPS):
            opt.zero_grad()
            l = net.loss(net(x, mean, std), t)
            l.backward()
            opt.step()
        out.append(tensor_list("golden_%s_after_%s" % (tag, oname), net.named() + net.buffers_named()))
        net.eval()
        with torch.no_grad():
            ye = net(x, mean, std)
        net.train()
        out.append("static const float golden_%s_eval_%s[] = {%s};" % (tag, oname, fmt(ye)))
    return "\n".join(out)


def main():
    print("/* nn_golden.h - GENERATED by tests/ref/make_nn_golden.py with torch %s;"
          " do not edit. */" % torch.__version__)
    print("typedef struct { const char *name; int n; const float *v; } golden_tensor;")
    print("static const char *const golden_optims[] = {%s, NULL};" % ", ".join('"%s"' % o[0] for o in OPTIMS))
    print("/* hyper-parameters, in the order above */")
    print("static const char *const golden_optim_json[] = {%s};" % ", ".join(
        json.dumps(json.dumps({k: (list(v) if isinstance(v, tuple) else v) for k, v in o[1].items()})) for o in OPTIMS))
    print("static const int golden_steps = %d;" % STEPS)

    arch_a = {"inputs": ["a", "b", "c"],
              "layers": [{"units": 5, "act": "leaky_relu", "slope": 0.01},
                         {"units": 4, "act": "sigmoid"}],
              "outputs": [{"loss": "mae", "targets": ["y"], "_width": 1}]}
    x = torch.randn(B, 3) * torch.tensor([1.0, 10.0, 0.1]) + torch.tensor([0.0, 50.0, -1.0])
    mean = x.mean(0)
    std = x.std(0, unbiased=False)
    t = torch.randn(B, 1)
    print(emit("A", arch_a, 3, [], x, t, mean, std))

    arch_b = {"inputs": ["a", "b", "c"],
              "categorical": [{"column": "g", "dim": 2, "vocab": 5}, {"column": "s", "dim": 3, "vocab": 4}],
              "layers": [{"units": 6, "act": "relu", "batchnorm": True},
                         {"units": 2, "act": "linear", "name": "latent"},
                         {"units": 6, "act": "tanh"}],
              "outputs": [{"loss": "mse", "targets": "inputs", "_width": 3},
                          {"loss": "ce", "target": "g", "classes": 5, "_width": 5},
                          {"loss": "ce", "target": "s", "classes": 4, "_width": 4},
                          {"loss": "bce", "targets": ["flag"], "weight": 0.5, "_width": 1}]}
    xn = torch.randn(B, 3) * 2 + 1
    g = torch.randint(0, 5, (B, 1)).float()
    s = torch.randint(0, 4, (B, 1)).float()
    x = torch.cat([xn, g, s], 1)
    mean = xn.mean(0)
    std = xn.std(0, unbiased=False)
    flag = torch.randint(0, 2, (B, 1)).float()
    t = torch.cat([(xn - mean) / std, g, s, flag], 1)
    print(emit("B", arch_b, 3, [5, 4], x, t, mean, std))


if __name__ == "__main__":
    sys.exit(main())
