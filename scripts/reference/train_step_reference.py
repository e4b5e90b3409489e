#!/usr/bin/env python3
"""
Independent reference for LesionLab's training step (fine-tuning a MONAI 1.3 residual UNet with
GeneralizedDiceFocalLoss and AdamW), written with plain PyTorch (no MONAI).

    /usr/bin/python3 scripts/reference/train_step_reference.py [output.safetensors]

writes test/fixtures/training/reference-step.safetensors by default. Regenerate it only deliberately:
the tests compare LesionLab's ONNX training-step graph and optimiser against these numbers.

What it computes (all in float64; stored as float32):
  * the network of monai.networks.nets.UNet(spatial_dims=3, in_channels=2, out_channels=2,
    channels=(4, 8, 16), strides=(2, 2), num_res_units=2, norm=BATCH, act=PRELU, dropout=0, bias=True,
    kernel_size=3, up_kernel_size=3), reimplemented with MONAI's exact state_dict keys (asserted below
    against LesionLab's own layer description);
  * MONAI 1.3 GeneralizedDiceFocalLoss(softmax=True, to_onehot_y=True, focal_weight=[1, 100],
    lambda_gdl=1, lambda_focal=1) reimplemented (GDL with w_type 'square', batch=False; focal with
    per-channel sigmoid, gamma 2, class weights after the focal term, mean over N*C*D*H*W);
  * BatchNorm in eval mode (running statistics, never updated) with gradients enabled;
  * two AdamW steps (torch.optim.AdamW) on one batch, for two scenarios: "all" parameters trainable, and
    "decoder" (the up blocks only, their BatchNorm weight/bias frozen).

Every starting value (weights, BatchNorm statistics, PReLU slopes, image) is drawn in float32 and then
widened, so the float32 values stored in the fixture are exactly what the float64 computation started
from. (MONAI itself casts to float32 in places -- GDL's weights, FocalLoss's input; here everything stays
float64, which is the more accurate reference.)
"""

import json
import math
import os
import struct
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

SCRIPT = "scripts/reference/train_step_reference.py"
REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_OUT = os.path.join(REPO, "test", "fixtures", "training", "reference-step.safetensors")

SEED = 1234
CONFIG = {"channels": [4, 8, 16], "strides": [2, 2], "numResUnits": 2, "norm": "batch", "inChannels": 2, "outChannels": 2}
OPTIMIZER = {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 1e-5}
LOSS = {
    "type": "GeneralizedDiceFocalLoss",
    "softmax": True,
    "toOnehotY": True,
    "includeBackground": True,
    "wType": "square",
    "smoothNr": 1e-5,
    "smoothDr": 1e-5,
    "gamma": 2,
    "focalWeight": [1, 100],
    "lambdaGdl": 1,
    "lambdaFocal": 1,
}
BATCH = 2
PATCH = 16
STEPS = 2

# state_dict of the MONAI UNet above, as LesionLab's describeResUnet lists it (key, shape):
#   npx tsx -e "import {describeResUnet} from './src/main/inference/network/layerDescription'; import {resUnetConfig}
#   from './src/main/inference/network/resUnetConfig'; const d=describeResUnet(resUnetConfig({channels:[4,8,16],
#   strides:[2,2],numResUnits:2,norm:'batch'})); for (const t of d.tensors) console.log(t.key, JSON.stringify(t.shape))"
EXPECTED_STATE = """
model.0.conv.unit0.conv.weight [4,2,3,3,3]
model.0.conv.unit0.conv.bias [4]
model.0.conv.unit0.adn.N.weight [4]
model.0.conv.unit0.adn.N.bias [4]
model.0.conv.unit0.adn.N.running_mean [4]
model.0.conv.unit0.adn.N.running_var [4]
model.0.conv.unit0.adn.N.num_batches_tracked []
model.0.conv.unit0.adn.A.weight [1]
model.0.conv.unit1.conv.weight [4,4,3,3,3]
model.0.conv.unit1.conv.bias [4]
model.0.conv.unit1.adn.N.weight [4]
model.0.conv.unit1.adn.N.bias [4]
model.0.conv.unit1.adn.N.running_mean [4]
model.0.conv.unit1.adn.N.running_var [4]
model.0.conv.unit1.adn.N.num_batches_tracked []
model.0.conv.unit1.adn.A.weight [1]
model.0.residual.weight [4,2,3,3,3]
model.0.residual.bias [4]
model.1.submodule.0.conv.unit0.conv.weight [8,4,3,3,3]
model.1.submodule.0.conv.unit0.conv.bias [8]
model.1.submodule.0.conv.unit0.adn.N.weight [8]
model.1.submodule.0.conv.unit0.adn.N.bias [8]
model.1.submodule.0.conv.unit0.adn.N.running_mean [8]
model.1.submodule.0.conv.unit0.adn.N.running_var [8]
model.1.submodule.0.conv.unit0.adn.N.num_batches_tracked []
model.1.submodule.0.conv.unit0.adn.A.weight [1]
model.1.submodule.0.conv.unit1.conv.weight [8,8,3,3,3]
model.1.submodule.0.conv.unit1.conv.bias [8]
model.1.submodule.0.conv.unit1.adn.N.weight [8]
model.1.submodule.0.conv.unit1.adn.N.bias [8]
model.1.submodule.0.conv.unit1.adn.N.running_mean [8]
model.1.submodule.0.conv.unit1.adn.N.running_var [8]
model.1.submodule.0.conv.unit1.adn.N.num_batches_tracked []
model.1.submodule.0.conv.unit1.adn.A.weight [1]
model.1.submodule.0.residual.weight [8,4,3,3,3]
model.1.submodule.0.residual.bias [8]
model.1.submodule.1.submodule.conv.unit0.conv.weight [16,8,3,3,3]
model.1.submodule.1.submodule.conv.unit0.conv.bias [16]
model.1.submodule.1.submodule.conv.unit0.adn.N.weight [16]
model.1.submodule.1.submodule.conv.unit0.adn.N.bias [16]
model.1.submodule.1.submodule.conv.unit0.adn.N.running_mean [16]
model.1.submodule.1.submodule.conv.unit0.adn.N.running_var [16]
model.1.submodule.1.submodule.conv.unit0.adn.N.num_batches_tracked []
model.1.submodule.1.submodule.conv.unit0.adn.A.weight [1]
model.1.submodule.1.submodule.conv.unit1.conv.weight [16,16,3,3,3]
model.1.submodule.1.submodule.conv.unit1.conv.bias [16]
model.1.submodule.1.submodule.conv.unit1.adn.N.weight [16]
model.1.submodule.1.submodule.conv.unit1.adn.N.bias [16]
model.1.submodule.1.submodule.conv.unit1.adn.N.running_mean [16]
model.1.submodule.1.submodule.conv.unit1.adn.N.running_var [16]
model.1.submodule.1.submodule.conv.unit1.adn.N.num_batches_tracked []
model.1.submodule.1.submodule.conv.unit1.adn.A.weight [1]
model.1.submodule.1.submodule.residual.weight [16,8,1,1,1]
model.1.submodule.1.submodule.residual.bias [16]
model.1.submodule.2.0.conv.weight [24,4,3,3,3]
model.1.submodule.2.0.conv.bias [4]
model.1.submodule.2.0.adn.N.weight [4]
model.1.submodule.2.0.adn.N.bias [4]
model.1.submodule.2.0.adn.N.running_mean [4]
model.1.submodule.2.0.adn.N.running_var [4]
model.1.submodule.2.0.adn.N.num_batches_tracked []
model.1.submodule.2.0.adn.A.weight [1]
model.1.submodule.2.1.conv.unit0.conv.weight [4,4,3,3,3]
model.1.submodule.2.1.conv.unit0.conv.bias [4]
model.1.submodule.2.1.conv.unit0.adn.N.weight [4]
model.1.submodule.2.1.conv.unit0.adn.N.bias [4]
model.1.submodule.2.1.conv.unit0.adn.N.running_mean [4]
model.1.submodule.2.1.conv.unit0.adn.N.running_var [4]
model.1.submodule.2.1.conv.unit0.adn.N.num_batches_tracked []
model.1.submodule.2.1.conv.unit0.adn.A.weight [1]
model.2.0.conv.weight [8,2,3,3,3]
model.2.0.conv.bias [2]
model.2.0.adn.N.weight [2]
model.2.0.adn.N.bias [2]
model.2.0.adn.N.running_mean [2]
model.2.0.adn.N.running_var [2]
model.2.0.adn.N.num_batches_tracked []
model.2.0.adn.A.weight [1]
model.2.1.conv.unit0.conv.weight [2,2,3,3,3]
model.2.1.conv.unit0.conv.bias [2]
"""


# ---------------------------------------------------------------------------------------------------------
# The network: MONAI 1.3 UNet / ResidualUnit / Convolution / ADN / SkipConnection, module names preserved.
# ---------------------------------------------------------------------------------------------------------


def convolution(in_ch, out_ch, stride, transposed=False, conv_only=False):
    """monai.networks.blocks.Convolution (kernel 3, 'same' padding 1, ADN ordering 'NDA')."""
    block = nn.Sequential()
    if transposed:
        # MONAI: padding = same_padding(3) = 1, output_padding = stride_minus_kernel_padding(3, stride) = stride - 1
        block.add_module("conv", nn.ConvTranspose3d(in_ch, out_ch, 3, stride=stride, padding=1, output_padding=stride - 1, bias=True))
    else:
        block.add_module("conv", nn.Conv3d(in_ch, out_ch, 3, stride=stride, padding=1, bias=True))
    if not conv_only:
        # nn.Dropout(p=0.0) is what MONAI's ADN builds for dropout=0; it has no state and is the identity.
        block.add_module("adn", nn.Sequential(OrderedDict(N=nn.BatchNorm3d(out_ch), D=nn.Dropout(p=0.0), A=nn.PReLU())))
    return block


class ResidualUnit(nn.Module):
    """monai.networks.blocks.ResidualUnit: conv(x) + residual(x)."""

    def __init__(self, in_ch, out_ch, stride, subunits, last_conv_only=False):
        super().__init__()
        self.conv = nn.Sequential()
        self.residual = nn.Identity()  # registered second, as in MONAI, so conv.* keys come first
        s_ch, s_stride = in_ch, stride
        for su in range(max(1, subunits)):
            conv_only = last_conv_only and su == subunits - 1
            self.conv.add_module(f"unit{su:d}", convolution(s_ch, out_ch, s_stride, conv_only=conv_only))
            s_ch, s_stride = out_ch, 1
        if stride != 1 or in_ch != out_ch:
            k, p = (3, 1) if stride != 1 else (1, 0)  # only the channels change: 1x1x1, no padding
            self.residual = nn.Conv3d(in_ch, out_ch, k, stride=stride, padding=p, bias=True)

    def forward(self, x):
        res = self.residual(x)
        return self.conv(x) + res


class SkipConnection(nn.Module):
    """monai.networks.layers.SkipConnection(mode='cat', dim=1): cat([x, submodule(x)], 1)."""

    def __init__(self, submodule):
        super().__init__()
        self.submodule = submodule

    def forward(self, x):
        return torch.cat([x, self.submodule(x)], dim=1)


class UNet(nn.Module):
    """monai.networks.nets.UNet with num_res_units > 0, built in MONAI's order (inner blocks first)."""

    def __init__(self, in_ch, out_ch, channels, strides, num_res_units):
        super().__init__()
        self.num_res_units = num_res_units

        def create_block(inc, outc, chans, strs, is_top):
            c, s = chans[0], strs[0]
            if len(chans) > 2:
                sub = create_block(c, c, chans[1:], strs[1:], False)
                upc = c * 2
            else:
                sub = ResidualUnit(c, chans[1], 1, num_res_units)  # bottom layer
                upc = c + chans[1]
            down = ResidualUnit(inc, c, s, num_res_units)
            up = nn.Sequential(
                convolution(upc, outc, s, transposed=True),
                ResidualUnit(outc, outc, 1, 1, last_conv_only=is_top),
            )
            return nn.Sequential(down, SkipConnection(sub), up)

        self.model = create_block(in_ch, out_ch, channels, strides, True)

    def forward(self, x):
        return self.model(x)


# ---------------------------------------------------------------------------------------------------------
# The loss: MONAI 1.3 GeneralizedDiceFocalLoss(softmax=True, to_onehot_y=True, focal_weight=[1, 100]).
# ---------------------------------------------------------------------------------------------------------


def one_hot(label, classes):
    return torch.cat([(label == c).to(torch.float64) for c in range(classes)], dim=1)


def generalized_dice(logits, target):
    """GeneralizedDiceLoss(softmax=True, to_onehot_y=True, w_type='square', batch=False, reduction='mean')."""
    p = torch.softmax(logits, dim=1)
    t = one_hot(target, logits.shape[1])
    axes = list(range(2, logits.dim()))
    intersection = torch.sum(t * p, axes)
    ground_o = torch.sum(t, axes)
    pred_o = torch.sum(p, axes)
    denominator = ground_o + pred_o
    w = torch.reciprocal(ground_o * ground_o)  # depends on the target only: no gradient
    infs = torch.isinf(w)
    w[infs] = 0.0
    w = w + infs * torch.max(w, dim=1)[0].unsqueeze(1)
    numer = 2.0 * (intersection * w).sum(1, keepdim=True) + LOSS["smoothNr"]
    denom = (denominator * w).sum(1, keepdim=True) + LOSS["smoothDr"]
    f = 1.0 - numer / denom
    return torch.mean(f)


def focal(logits, target):
    """FocalLoss(to_onehot_y=True, include_background=True, gamma=2, weight=[1, 100], use_softmax=False, 'mean')."""
    t = one_hot(target, logits.shape[1])
    x = logits
    max_val = (-x).clamp(min=0)
    loss = x - x * t + max_val + ((-max_val).exp() + (-x - max_val).exp()).log()
    invprobs = F.logsigmoid(-x * (t * 2 - 1))
    loss = (invprobs * LOSS["gamma"]).exp() * loss
    weight = torch.tensor(LOSS["focalWeight"], dtype=loss.dtype).view([-1] + [1] * (t.dim() - 2))
    loss = weight * loss
    return loss.mean()


def loss_fn(logits, target):
    gdl = generalized_dice(logits, target)
    foc = focal(logits, target)
    return LOSS["lambdaGdl"] * gdl + LOSS["lambdaFocal"] * foc, gdl, foc


def check_loss_independently(logits, target):
    """The same numbers by a second route (BCE-with-logits, explicit loops over samples/classes)."""
    x = logits.detach()
    t = one_hot(target, x.shape[1])
    bce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    pt = torch.sigmoid(x) * t + (1 - torch.sigmoid(x)) * (1 - t)
    w = torch.tensor(LOSS["focalWeight"], dtype=x.dtype).view(1, -1, 1, 1, 1)
    foc = (w * (1 - pt) ** 2 * bce).mean().item()
    p = torch.softmax(x, 1)
    fs = []
    for n in range(x.shape[0]):
        g = [t[n, c].sum().item() for c in range(x.shape[1])]
        finite = [1 / gc**2 for gc in g if gc > 0]
        wc = [1 / gc**2 if gc > 0 else max(finite, default=0.0) for gc in g]
        num = 2 * sum(wc[c] * (p[n, c] * t[n, c]).sum().item() for c in range(x.shape[1])) + 1e-5
        den = sum(wc[c] * (p[n, c].sum().item() + g[c]) for c in range(x.shape[1])) + 1e-5
        fs.append(1 - num / den)
    return sum(fs) / len(fs), foc


# ---------------------------------------------------------------------------------------------------------
# Fixture writing: safetensors by hand.
# ---------------------------------------------------------------------------------------------------------


def write_safetensors(path, tensors, metadata):
    header = OrderedDict()
    header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name, t in tensors:
        arr = t.detach().to(torch.float32).contiguous()
        assert torch.isfinite(arr).all(), name
        data = struct.pack("<%df" % arr.numel(), *arr.reshape(-1).tolist())
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------------------------------------


def f32(t):
    """Round to float32, then widen: the stored value is exactly the one computed with."""
    return t.to(torch.float32).to(torch.float64)


def build_initial_model():
    torch.manual_seed(SEED)
    model = UNet(CONFIG["inChannels"], CONFIG["outChannels"], CONFIG["channels"], CONFIG["strides"], CONFIG["numResUnits"])
    # Exercise every code path: non-trivial BatchNorm statistics and affine parameters, distinct PReLU slopes.
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, nn.BatchNorm3d):
                c = module.num_features
                module.running_mean.copy_(torch.rand(c) * 0.4 - 0.2)
                module.running_var.copy_(torch.rand(c) * 1.0 + 0.5)
                module.weight.copy_(torch.rand(c) * 0.4 + 0.8)
                module.bias.copy_(torch.rand(c) * 0.2 - 0.1)
            elif isinstance(module, nn.PReLU):
                module.weight.copy_(torch.rand(1) * 0.3 + 0.1)
    model = model.double()  # float32 values widened exactly
    model.eval()  # BatchNorm uses (and never updates) its running statistics
    return model


def make_batch():
    shape = (BATCH, 1, PATCH, PATCH, PATCH)
    ch0 = torch.rand(shape)
    ch1 = (torch.randn(shape) * 2.0).abs()
    image = f32(torch.cat([ch0, ch1], dim=1))
    label = torch.zeros(shape, dtype=torch.float64)
    # Sample 0: one lesion, an off-centre ellipsoid of about 100 voxels. Sample 1: no lesion at all.
    z, y, x = torch.meshgrid(torch.arange(PATCH), torch.arange(PATCH), torch.arange(PATCH), indexing="ij")
    blob = ((z - 6.5) / 3.2) ** 2 + ((y - 9.0) / 2.6) ** 2 + ((x - 7.4) / 2.9) ** 2 <= 1.0
    label[0, 0][blob] = 1.0
    return image, label


def check_state_dict(model):
    expected = []
    for line in EXPECTED_STATE.strip().splitlines():
        key, shape = line.split(" ")
        expected.append((key, json.loads(shape)))
    actual = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    if actual != expected:
        for i, (a, e) in enumerate(zip(actual, expected)):
            if a != e:
                print(f"first difference at {i}: got {a}, expected {e}", file=sys.stderr)
                break
        raise AssertionError(f"state_dict differs from LesionLab's description ({len(actual)} vs {len(expected)} entries)")


def scenario_trainable(model, name):
    keys = []
    for key, _ in model.named_parameters():
        if name == "all":
            keys.append(key)
        elif name == "decoder":
            in_up = key.startswith("model.2.") or key.startswith("model.1.submodule.2.")
            is_bn = ".adn.N." in key
            if in_up and not is_bn:
                keys.append(key)
        else:
            raise ValueError(name)
    return keys


def run_scenario(initial, name, image, label):
    model = build_initial_model()
    model.load_state_dict(initial.state_dict())
    trainable = scenario_trainable(model, name)
    params = dict(model.named_parameters())
    for key, p in params.items():
        p.requires_grad_(key in trainable)
    opt = torch.optim.AdamW(
        [params[k] for k in trainable],
        lr=OPTIMIZER["lr"],
        betas=tuple(OPTIMIZER["betas"]),
        eps=OPTIMIZER["eps"],
        weight_decay=OPTIMIZER["weightDecay"],
        amsgrad=False,
        foreach=False,
    )
    out = []
    losses = []
    for step in range(1, STEPS + 1):
        opt.zero_grad(set_to_none=True)
        logits = model(image)
        total, gdl, foc = loss_fn(logits, label)
        total.backward()
        losses.append((total.item(), gdl.item(), foc.item()))
        out.append((f"{name}/step{step}/loss", total.detach().reshape(1)))
        out.append((f"{name}/step{step}/loss_dice", gdl.detach().reshape(1)))
        out.append((f"{name}/step{step}/loss_focal", foc.detach().reshape(1)))
        if step == 1:
            for k in trainable:
                assert params[k].grad is not None, k
                out.append((f"{name}/grad1/{k}", params[k].grad.clone()))
        opt.step()
        for k in trainable:
            out.append((f"{name}/step{step}/{k}", params[k].detach().clone()))
    # Nothing else moved: frozen parameters and BatchNorm statistics are as they started.
    init = initial.state_dict()
    for k, v in model.state_dict().items():
        if k not in trainable:
            assert torch.equal(v, init[k]), f"{name}: {k} changed"
    return trainable, out, losses


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    torch.set_grad_enabled(True)

    initial = build_initial_model()
    check_state_dict(initial)
    image, label = make_batch()  # drawn after the weights, from the same seeded generator
    assert label[0].sum() > 0 and label[1].sum() == 0

    tensors = []
    for k, v in initial.state_dict().items():
        if v.is_floating_point():
            tensors.append((f"init/{k}", v))
    with torch.no_grad():
        logits = initial(image)
    assert logits.shape == (BATCH, CONFIG["outChannels"], PATCH, PATCH, PATCH)
    tensors += [("input/image", image), ("input/label", label), ("forward/logits", logits)]

    total, gdl, foc = loss_fn(logits, label)
    gdl2, foc2 = check_loss_independently(logits, label)
    assert math.isclose(gdl.item(), gdl2, rel_tol=1e-12), (gdl.item(), gdl2)
    assert math.isclose(foc.item(), foc2, rel_tol=1e-12), (foc.item(), foc2)

    scenarios = OrderedDict()
    summary = []
    for name in ("all", "decoder"):
        trainable, out, losses = run_scenario(initial, name, image, label)
        scenarios[name] = {"trainable": trainable}
        tensors += out
        assert math.isclose(losses[0][0], total.item(), rel_tol=1e-12)
        for step, (t, d, f) in enumerate(losses, 1):
            summary.append(f"{name} step{step}: loss {t:.10g} (dice {d:.10g}, focal {f:.10g})")

    names = [n for n, _ in tensors]
    assert len(names) == len(set(names))
    metadata = OrderedDict(
        [
            ("config", json.dumps(CONFIG, separators=(",", ":"))),
            ("optimizer", json.dumps(OPTIMIZER, separators=(",", ":"))),
            ("scenarios", json.dumps(scenarios, separators=(",", ":"))),
            ("loss", json.dumps(LOSS, separators=(",", ":"))),
            ("batchNorm", "eval"),
            ("seed", str(SEED)),
            ("torch", torch.__version__),
            ("script", SCRIPT),
            ("dtype_compute", "float64"),
        ]
    )
    write_safetensors(out_path, tensors, metadata)

    print(f"lesion voxels in sample 0: {int(label[0].sum().item())}; sample 1: {int(label[1].sum().item())}")
    print("\n".join(summary))
    print(f"{len(tensors)} tensors, {os.path.getsize(out_path)} bytes -> {out_path}")


if __name__ == "__main__":
    main()
