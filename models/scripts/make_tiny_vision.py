#!/usr/bin/env python3
"""Makes the two tiny image-to-map models the tests use, with known behaviour instead of
learned weights, so a test can tell that the model's answer was used:

  models/tiny-depth/       family "depth" (Depth Anything V2 layout: input pixel_values
                           [1,3,64,64] normalised with ImageNet mean/std, output
                           predicted_depth [1,64,64]); depth = 1 - brightness, i.e. dark
                           is near, the opposite of a brightness relief.
  models/tiny-background/  family "background-removal" (RMBG layout: input [1,3,64,64]
                           normalised with mean 0.5 / std 1, output mask [1,1,64,64]);
                           mask = sigmoid(20 * (0.5 - brightness)): dark pixels are the
                           subject.

Both are one 1x1 convolution (plus a squeeze or a sigmoid) built with the onnx helper API,
deterministic byte for byte. Run with the reference venv (models/scripts/
requirements-reference.txt): /work/venv-sd/bin/python models/scripts/make_tiny_vision.py
"""
import hashlib
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIDE = 64


def brightness_conv(mean, std, scale, offset):
    """Weights and bias of a 1x1 convolution giving scale * mean(rgb) + offset from the
    normalised input x_c = (rgb_c - mean_c) / std_c."""
    weight = np.array([scale * s / 3.0 for s in std], dtype=np.float32).reshape(1, 3, 1, 1)
    bias = np.array([offset + scale * sum(mean) / 3.0], dtype=np.float32)
    return weight, bias


def model(name, input_name, output_name, output_shape, mean, std, scale, offset, tail):
    weight, bias = brightness_conv(mean, std, scale, offset)
    nodes = [helper.make_node("Conv", [input_name, "w", "b"], ["conv"])]
    initializers = [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")]
    if tail == "squeeze":
        initializers.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"))
        nodes.append(helper.make_node("Squeeze", ["conv", "axes"], [output_name]))
    else:
        nodes.append(helper.make_node("Sigmoid", ["conv"], [output_name]))
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, output_shape)],
        initializers,
    )
    made = helper.make_model(graph, producer_name="stratamake-tests", opset_imports=[helper.make_opsetid("", 17)])
    made.ir_version = 8
    onnx.checker.check_model(made)
    return made.SerializeToString()


def write(folder, id_, name, family, description, onnx_bytes, mean, std):
    out = os.path.join(ROOT, folder)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "model.onnx")
    with open(path, "wb") as f:
        f.write(onnx_bytes)
    digest = hashlib.sha256(onnx_bytes).hexdigest()
    fmt = lambda values: "[" + ", ".join(repr(float(v)) for v in values) + "]"
    toml = f"""# StrataMake model manifest. Written by models/scripts/make_tiny_vision.py: do not edit by hand.
id = "{id_}"
name = "{name}"
family = "{family}"
test_only = true
license = "CC0-1.0 (made by models/scripts/make_tiny_vision.py)"
description = "{description}"

[vision]
input_size = {SIDE}
mean = {fmt(mean)}
std = {fmt(std)}

[[files]]
path = "model.onnx"
sha256 = "{digest}"
size = {len(onnx_bytes)}
"""
    with open(os.path.join(out, "model.toml"), "w", encoding="utf-8", newline="\n") as f:
        f.write(toml)


def main():
    imagenet_mean, imagenet_std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    depth = model("tiny_depth", "pixel_values", "predicted_depth", [1, SIDE, SIDE],
                  imagenet_mean, imagenet_std, -1.0, 1.0, "squeeze")
    write("tiny-depth", "tiny-depth-test", "Tiny depth test model (depth = 1 - brightness)", "depth",
          "For tests: dark is near.", depth, imagenet_mean, imagenet_std)
    half, one = [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]
    mask = model("tiny_background", "input", "mask", [1, 1, SIDE, SIDE], half, one, -20.0, 10.0, "sigmoid")
    write("tiny-background", "tiny-background-test", "Tiny background removal test model (dark is the subject)",
          "background-removal", "For tests: dark pixels are the subject.", mask, half, one)


if __name__ == "__main__":
    main()
