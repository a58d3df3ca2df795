#!/usr/bin/env python3
"""Makes models/tiny-sd-fp16: the tiny random-weight test model of models/tiny-sd, converted to float16.

It reads models/tiny-sd (made by make_tiny_sd.py) and writes a folder with the same layout: the
tokenizer, scheduler, configs and model_index.json are copied unchanged, and the four ONNX graphs
(text_encoder, unet, vae_decoder, vae_encoder) are rewritten to float16 *including their float inputs
and outputs*, as the common fp16 SD exports are: `sample`, `encoder_hidden_states`, `latent_sample`,
`last_hidden_state`, ... become tensor(float16); `input_ids` stays int32 and `timestep` int64. The UNet
keeps all its initializers in unet/model.onnx_data. It exists so that StrataMake's float16 path (f16
tensors in and out of every graph) is tested end to end.

The conversion is a plain onnx graph rewrite (no torch, no onnxconverter-common), so the result is the
same bytes on every run:
  * every float32 initializer and Constant/ConstantOfShape value becomes float16 (values beyond the
    float16 range, such as the text encoder's -3.4e38 attention-mask constant, are clamped to
    +-65504, as torch.finfo(torch.float16).min is used by an fp16 torch model);
  * Cast(to=float) becomes Cast(to=float16);
  * graph inputs, outputs and value_info of type float become float16;
  * a few nodes stay float32 (FP32_NODES), with Cast nodes at their borders: the UNet's sinusoidal
    timestep embedding (`time_proj`), which diffusers also computes in float32 in an fp16 UNet
    (get_timestep_embedding works in float32; the UNet casts t_emb to the sample dtype afterwards):
    in float16, timestep * frequency near 1000 has a rounding step of 0.5 rad, which would scramble
    sin/cos. Resize's `roi`/`scales` inputs are float32 by the operator's definition and stay so.
Operators that onnxruntime's CPU provider has no float16 kernel for still run: onnxruntime inserts
float32 casts around them itself (its InsertCastTransformer), on any graph optimization level.

Every converted graph is checked with onnx.checker (full check) and run with onnxruntime CPU against
the float32 graph of models/tiny-sd on fixed inputs (also other batch and image sizes); the relative
error (max |fp16 - fp32| / max |fp32|) must stay under 2e-2. model.toml is written last.

Run with the reference venv (see models/README.md), after make_tiny_sd.py:

    /work/venv-sd/bin/python models/scripts/make_tiny_sd_fp16.py [--src models/tiny-sd] [--out models/tiny-sd-fp16]
"""
import argparse
import hashlib
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GRAPHS = ["text_encoder", "unet", "vae_decoder", "vae_encoder"]
EXTERNAL = {"unet"}  # graphs whose initializers all live in model.onnx_data (as in tiny-sd)
FLOAT, FLOAT16 = TensorProto.FLOAT, TensorProto.FLOAT16
FP16_MAX = float(np.finfo(np.float16).max)  # 65504
VAE_SCALING_FACTOR = 0.18215
MAX_RELATIVE_ERROR = 2e-2


def fp32_nodes(graph_name, graph):
    """Nodes kept in float32 (see the module docstring)."""
    if graph_name == "unet":
        names = [n.name for n in graph.node if n.name.startswith("/model/time_proj/")]
        if not any(n.endswith("/Sin") for n in names):
            sys.exit("unet: no /model/time_proj/ nodes found (has the export changed?)")
        return set(names)
    return set()


# Operator inputs that are float32 by the operator's definition whatever the data type (index -> why).
FP32_INPUTS = {"Resize": {1, 2}}  # roi (T2; any float type, kept float32), scales (tensor(float))


# ------------------------------------------------------------------------------ the rewrite

def elem_types(model):
    """Element type of every tensor name in the graph (from onnx shape inference)."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    types = {}
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        types[vi.name] = vi.type.tensor_type.elem_type
    for init in g.initializer:
        types[init.name] = init.data_type
    for node in g.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    types[node.output[0]] = attr.t.data_type
                elif attr.name in ("value_float", "value_floats"):
                    types[node.output[0]] = FLOAT
    missing = sorted({name for node in g.node for name in list(node.input) + list(node.output)
                      if name and name not in types})
    if missing:
        sys.exit(f"shape inference left the type of {len(missing)} tensors unknown, e.g. {missing[:5]}")
    return types


def to_fp16_array(arr, stats):
    arr = np.asarray(arr, dtype=np.float32)
    over = np.abs(arr) > FP16_MAX
    if np.any(over):
        stats["clamped"] += int(np.count_nonzero(over))
        arr = np.clip(arr, -FP16_MAX, FP16_MAX)
    return arr.astype(np.float16)


def tensor_to_fp16(tensor, stats):
    """A float32 TensorProto (raw or float_data, data loaded) as a float16 TensorProto of the same name."""
    arr = numpy_helper.to_array(tensor)
    out = numpy_helper.from_array(to_fp16_array(arr, stats), tensor.name)
    return out


def convert_graph(model, keep_fp32):
    """Rewrites `model` (external data loaded) to float16 in place; returns statistics."""
    types = elem_types(model)
    g = model.graph
    stats = {"clamped": 0, "casts": 0, "fp32_nodes": len(keep_fp32), "initializers": 0}

    producer = {}
    for node in g.node:
        for out in node.output:
            if out:
                producer[out] = node
    consumers = {}
    for node in g.node:
        for slot, name in enumerate(node.input):
            if name:
                consumers.setdefault(name, []).append((node, slot))
    graph_inputs = {vi.name for vi in g.input}
    graph_outputs = {vi.name for vi in g.output}
    initializers = {t.name for t in g.initializer}

    def wanted(node, slot):
        """The float type `node` needs at input `slot`: FLOAT, FLOAT16, or None (Cast takes any)."""
        if node.name in keep_fp32 or slot in FP32_INPUTS.get(node.op_type, ()):
            return FLOAT
        if node.op_type == "Cast":
            return None
        return FLOAT16

    def only_fp32_consumers(name):
        wants = [wanted(n, s) for n, s in consumers.get(name, [])]
        return name not in graph_outputs and bool(wants) and all(w == FLOAT for w in wants)

    # The type each float tensor has in the new graph.
    home = {}
    for name, ty in types.items():
        if ty != FLOAT:
            continue
        node = producer.get(name)
        if name in graph_inputs:
            home[name] = FLOAT16
        elif node is not None and node.name in keep_fp32:
            home[name] = FLOAT
        elif (name in initializers or (node is not None and node.op_type in ("Constant", "Cast"))) \
                and only_fp32_consumers(name):
            home[name] = FLOAT  # a float32 constant or cast feeding float32 inputs only: left as it is
        else:
            home[name] = FLOAT16
    for name in graph_outputs:
        if home.get(name) == FLOAT:
            sys.exit(f"graph output {name} would be float32")

    # Initializers.
    for i, init in enumerate(g.initializer):
        if init.data_type == FLOAT and home.get(init.name) == FLOAT16:
            g.initializer[i].CopyFrom(tensor_to_fp16(init, stats))
            stats["initializers"] += 1

    # Nodes: attributes of the float16 ones, then Cast nodes where a tensor's type is not the one wanted.
    new_nodes = []
    cast_of = {}  # (tensor, type) -> cast output name
    for node in g.node:
        fp16_outputs = any(home.get(out) == FLOAT16 for out in node.output)
        if node.name not in keep_fp32 and fp16_outputs:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == FLOAT:
                    if node.op_type not in ("Constant", "ConstantOfShape"):
                        sys.exit(f"{node.name}: unexpected float tensor attribute {attr.name}")
                    attr.t.CopyFrom(tensor_to_fp16(attr.t, stats))
                elif attr.type in (onnx.AttributeProto.FLOAT, onnx.AttributeProto.FLOATS) and node.op_type == "Constant":
                    sys.exit(f"{node.name}: Constant with a {attr.name} attribute is not handled")
            if node.op_type == "Cast":
                to = next(a for a in node.attribute if a.name == "to")
                if to.i == FLOAT:
                    to.i = FLOAT16
        for slot, name in enumerate(node.input):
            if not name or types.get(name) != FLOAT:
                continue
            want = wanted(node, slot)
            if want is None or home[name] == want:
                continue
            key = (name, want)
            if key not in cast_of:
                suffix = "fp32" if want == FLOAT else "fp16"
                out = f"{name}/to_{suffix}"
                new_nodes.append(helper.make_node("Cast", [name], [out], name=f"{name}/Cast_to_{suffix}", to=want))
                cast_of[key] = out
                stats["casts"] += 1
            node.input[slot] = cast_of[key]
        new_nodes.append(node)
    del g.node[:]
    g.node.extend(new_nodes)

    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.tensor_type.elem_type == FLOAT:
            vi.type.tensor_type.elem_type = home.get(vi.name, FLOAT16)
    return stats


# ------------------------------------------------------------------------------ files

def save(model, path, external):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if external:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + "_data", size_threshold=0, convert_attribute=False)
    else:
        onnx.save_model(model, path)
    onnx.checker.check_model(path, full_check=True)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_files(folder):
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), folder).replace(os.sep, "/")
            if rel != "model.toml":
                files.append(rel)
    return sorted(files)


def write_manifest(out):
    files = folder_files(out)
    lines = [
        "# StrataMake model manifest. Written by models/scripts/make_tiny_sd_fp16.py: do not edit by hand.",
        "# models/tiny-sd converted to float16, graph inputs and outputs included (input_ids int32, timestep int64).",
        'id = "tiny-sd-fp16-test"',
        'name = "Tiny SD test model, float16 (random weights)"',
        'family = "sd1"',
        "test_only = true",
        'license = "CC0-1.0 (random weights made by models/scripts/make_tiny_sd.py)"',
        'prediction_type = "epsilon"',
        f"vae_scaling_factor = {VAE_SCALING_FACTOR}",
        "",
        "[defaults]",
        "width = 64",
        "height = 64",
        "steps = 4",
        "guidance_scale = 7.5",
        'scheduler = "euler"',
        "credit_cost = 1",
    ]
    for rel in files:
        full = os.path.join(out, rel)
        lines += ["", "[[files]]", f'path = "{rel}"', f'sha256 = "{sha256_of(full)}"', f"size = {os.path.getsize(full)}"]
    with open(os.path.join(out, "model.toml"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    return files


# ------------------------------------------------------------------------------ checks

def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def io_types(sess):
    return ([(i.name, i.type) for i in sess.get_inputs()], [(o.name, o.type) for o in sess.get_outputs()])


def test_feeds(graph_name):
    """Fixed inputs (float32) for comparing the two graphs, at several batch and image sizes."""
    rng = np.random.default_rng(7)
    if graph_name == "text_encoder":
        ids = np.full((2, 77), 49407, dtype=np.int32)
        ids[:, 0] = 49406
        ids[0, 1:9] = rng.integers(0, 49406, 8)
        ids[1, 1:30] = rng.integers(0, 49406, 29)
        return [{"input_ids": ids}, {"input_ids": ids[:1]}]
    if graph_name == "unet":
        ehs = rng.standard_normal((2, 77, 32)).astype(np.float32)
        return [
            {"sample": rng.standard_normal((2, 4, 8, 8)).astype(np.float32),
             "timestep": np.array([981, 981], dtype=np.int64), "encoder_hidden_states": ehs},
            {"sample": (rng.standard_normal((3, 4, 12, 16)) * 14.6).astype(np.float32),
             "timestep": np.array([1, 500, 999], dtype=np.int64),
             "encoder_hidden_states": rng.standard_normal((3, 77, 32)).astype(np.float32)},
            {"sample": rng.standard_normal((2, 4, 8, 8)).astype(np.float32),
             "timestep": np.array([250], dtype=np.int64), "encoder_hidden_states": ehs},
        ]
    if graph_name == "vae_decoder":
        return [{"latent_sample": (rng.standard_normal((1, 4, 8, 8)) / VAE_SCALING_FACTOR).astype(np.float32)},
                {"latent_sample": (rng.standard_normal((2, 4, 6, 10)) / VAE_SCALING_FACTOR).astype(np.float32)}]
    if graph_name == "vae_encoder":
        return [{"sample": rng.uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)},
                {"sample": rng.uniform(-1, 1, (2, 3, 48, 80)).astype(np.float32)}]
    raise KeyError(graph_name)


def compare(graph_name, src_path, out_path):
    ref, half = session(src_path), session(out_path)
    half_types = {i.name: i.type for i in half.get_inputs()}
    worst = []
    for feeds in test_feeds(graph_name):
        half_feeds = {k: (v.astype(np.float16) if half_types[k] == "tensor(float16)" else v) for k, v in feeds.items()}
        for name, want, got in zip([o.name for o in ref.get_outputs()], ref.run(None, feeds), half.run(None, half_feeds)):
            if got.dtype != np.float16:
                sys.exit(f"{out_path}: output {name} is {got.dtype}, not float16")
            if got.shape != want.shape:
                sys.exit(f"{out_path}: output {name} has shape {got.shape}, the float32 graph gives {want.shape}")
            if not np.all(np.isfinite(got)):
                sys.exit(f"{out_path}: output {name} is not finite")
            err = float(np.max(np.abs(got.astype(np.float32) - want)))
            scale = float(np.max(np.abs(want)))
            rel = err / max(scale, 1e-6)
            worst.append((rel, err, scale, name, tuple(want.shape)))
            if rel > MAX_RELATIVE_ERROR:
                sys.exit(f"{out_path}: output {name} {want.shape} differs from float32 by {err:.3g} "
                         f"(max |value| {scale:.3g}, relative {rel:.3g} > {MAX_RELATIVE_ERROR})")
    return max(worst)


# ------------------------------------------------------------------------------ main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", default=os.path.join(ROOT, "models", "tiny-sd"))
    parser.add_argument("--out", default=os.path.join(ROOT, "models", "tiny-sd-fp16"))
    args = parser.parse_args()
    src, out = os.path.abspath(args.src), os.path.abspath(args.out)
    if not os.path.exists(os.path.join(src, "model.toml")):
        sys.exit(f"{src}/model.toml is missing: run models/scripts/make_tiny_sd.py first")
    if os.path.exists(out):
        if os.path.samefile(src, out):
            sys.exit("--out must not be the source folder")
        # The folder is this script's alone. Emptied first also because onnx appends to an existing
        # external data file instead of rewriting it.
        shutil.rmtree(out)
    os.makedirs(out)

    # Everything but the ONNX files and the manifest is copied unchanged.
    onnx_files = {f"{g}/model.onnx" for g in GRAPHS} | {f"{g}/model.onnx_data" for g in EXTERNAL}
    for rel in folder_files(src):
        if rel in onnx_files:
            continue
        os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
        shutil.copyfile(os.path.join(src, rel), os.path.join(out, rel))

    for name in GRAPHS:
        src_path = os.path.join(src, name, "model.onnx")
        out_path = os.path.join(out, name, "model.onnx")
        model = onnx.load(src_path)  # external data loaded into the tensors
        stats = convert_graph(model, fp32_nodes(name, model.graph))
        save(model, out_path, external=name in EXTERNAL)
        rel, err, scale, output, shape = compare(name, src_path, out_path)
        inputs, outputs = io_types(session(out_path))
        print(f"{name}: {stats['initializers']} initializers to float16, {stats['fp32_nodes']} nodes kept float32, "
              f"{stats['casts']} casts added, {stats['clamped']} values clamped to +-65504")
        print(f"  inputs {inputs}\n  outputs {outputs}")
        print(f"  worst vs float32: {output} {list(shape)}: max |diff| {err:.3g}, max |fp32| {scale:.3g}, "
              f"relative {rel:.2e}")

    files = write_manifest(out)
    total = 0
    for rel in files + ["model.toml"]:
        size = os.path.getsize(os.path.join(out, rel))
        total += size
        print(f"{size:>10}  {rel}")
    print(f"{total:>10}  total")


if __name__ == "__main__":
    main()
