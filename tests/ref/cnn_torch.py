"""cnn_torch.py - songpipe's CNN (common/cnn.h) as a torch module, with the
same state_dict names and shapes, for the golden test generator
(make_cnn_golden.py) and the benchmark (tests/bench/train_cnn.sh).

Per stage: conv3x3 (no bias) - BatchNorm2d - relu - pool 2x2, then a
residual block relu(x + bn2(conv2(relu(bn1(conv1(x)))))); adaptive average
pool to a x a; flatten; Linear -> the embedding (no activation); Linear ->
class logits."""
import torch
import torch.nn.functional as F


class Res(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c)
        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class Stage(torch.nn.Module):
    def __init__(self, cin, c, residual, pool):
        super().__init__()
        self.conv = torch.nn.Conv2d(cin, c, 3, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(c)
        self.pool = torch.nn.MaxPool2d(2) if pool == "max" else torch.nn.AvgPool2d(2)
        if residual:
            self.res = Res(c)

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv(x))))
        return self.res(x) if hasattr(self, "res") else x


class SongCNN(torch.nn.Module):
    def __init__(self, widths, residual=True, pool="avg", adapt=2, embed=40, classes=10):
        super().__init__()
        stages, cin = [], 1
        for w in widths:
            stages.append(Stage(cin, w, residual, pool))
            cin = w
        self.stage = torch.nn.ModuleList(stages)
        self.adapt = torch.nn.AdaptiveAvgPool2d(adapt)
        self.embed = torch.nn.Linear(cin * adapt * adapt, embed)
        self.out = torch.nn.Linear(embed, classes)

    def embedding(self, x):
        for s in self.stage:
            x = s(x)
        return self.embed(torch.flatten(self.adapt(x), 1))

    def forward(self, x):
        return self.out(self.embedding(x))


def scaled_widths(base, mult):
    return [max(1, int(round(b * mult))) for b in base]
