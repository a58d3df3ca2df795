#!/usr/bin/env python3
"""Makes models/tiny-sd: a tiny Stable-Diffusion-1.x-class model with RANDOM weights, exported to ONNX.

It is a test model only: it has the architecture and the file layout of the common SD 1.x ONNX
exports (text_encoder/, unet/ with external weights, vae_decoder/, vae_encoder/, tokenizer/,
scheduler/, model_index.json) but its weights are random (fixed seeds), so its images are noise.
It lets StrataMake's ONNX pipeline be tested end to end in seconds without a real model.

Run with the reference venv (see models/README.md), after models/scripts/make_clip_vocab.py
has written tokenizer/vocab.json and tokenizer/merges.txt:

    /work/venv-sd/bin/python models/scripts/make_tiny_sd.py [--out models/tiny-sd]

The weights are the same on every run (torch.manual_seed before each model is built) and the
exported files are byte-identical on a given torch/onnx version. model.toml lists the sha256 and
size of every other file in the folder, so run this script again whenever a file changes.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import torch

from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPSET = 17
SEQ_LEN = 77
VOCAB_SIZE = 49408  # the real CLIP BPE vocabulary (49406 = <|startoftext|>, 49407 = <|endoftext|>)
TEXT_HIDDEN = 32
LATENT_CHANNELS = 4
VAE_SCALING_FACTOR = 0.18215

TEXT_SEED = 1
UNET_SEED = 2
VAE_SEED = 3

# Component folders this script owns (emptied and rewritten on every run). tokenizer/vocab.json and
# tokenizer/merges.txt belong to make_clip_vocab.py and are never touched here.
OWNED = ["text_encoder", "unet", "vae_decoder", "vae_encoder", "scheduler"]


# ----------------------------------------------------------------------------------------- models

def build_text_encoder():
    torch.manual_seed(TEXT_SEED)
    config = CLIPTextConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=TEXT_HIDDEN,
        intermediate_size=64,
        projection_dim=TEXT_HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=SEQ_LEN,
        hidden_act="quick_gelu",
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )
    config._attn_implementation = "eager"
    model = CLIPTextModel(config)
    return model.eval()


def build_unet():
    torch.manual_seed(UNET_SEED)
    model = UNet2DConditionModel(
        sample_size=8,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(16, 32),
        layers_per_block=1,
        cross_attention_dim=TEXT_HIDDEN,
        attention_head_dim=2,  # SD 1.x's legacy name: this is the number of heads (8 in SD 1.5)
        norm_num_groups=8,
    )
    return model.eval()


def build_vae():
    torch.manual_seed(VAE_SEED)
    model = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 16, 16),  # 4 blocks = 3 downsamples: a factor of 8, as in SD
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=4,
        sample_size=64,
        scaling_factor=VAE_SCALING_FACTOR,
    )
    return model.eval()


class TextEncoderGraph(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        out = self.model(input_ids=input_ids)
        return out.last_hidden_state, out.pooler_output


class UNetGraph(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.model(sample, timestep, encoder_hidden_states, return_dict=False)[0]


class VaeDecoderGraph(torch.nn.Module):
    """latent_sample (unscaled: the pipeline divides by the scaling factor first) -> image in about [-1, 1]."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample, return_dict=False)[0]


class VaeEncoderGraph(torch.nn.Module):
    """image in [-1, 1] -> the MEAN of the latent distribution (no sampling, no scaling factor)."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        moments = self.vae.quant_conv(self.vae.encoder(sample))  # [mean | logvar] on the channel axis
        return moments[:, :LATENT_CHANNELS]


# ----------------------------------------------------------------------------------------- export

def export(module, args, path, input_names, output_names, dynamic_axes, external=False):
    """Legacy TorchScript exporter, then a re-save with onnx (all initializers external for the UNet)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.onnx")
        with torch.no_grad():
            torch.onnx.export(
                module,
                args,
                raw,
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        model = onnx.load(raw)
    onnx.checker.check_model(model)
    if external:
        data_name = os.path.basename(path) + "_data"  # model.onnx_data, as optimum's exports name it
        onnx.save_model(
            model,
            path,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data_name,
            size_threshold=0,
            convert_attribute=False,
        )
    else:
        onnx.save_model(model, path)
    onnx.checker.check_model(path)


def check_against_torch(path, feeds, expected, tol=1e-4):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = sess.run(None, feeds)
    for name, got, want in zip([o.name for o in sess.get_outputs()], outs, expected):
        want = want.detach().numpy()
        if got.shape != want.shape:
            sys.exit(f"{path}: output {name} has shape {got.shape}, torch gives {want.shape}")
        err = float(np.max(np.abs(got - want)))
        scale = float(np.max(np.abs(want)))
        print(f"  {os.path.relpath(path, ROOT)} {name} {list(got.shape)} max|onnx-torch|={err:.2e} max|torch|={scale:.3g}")
        if err > tol * max(1.0, scale):
            sys.exit(f"{path}: output {name} differs from torch by {err}")


# ----------------------------------------------------------------------------------------- files

def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def scheduler_config_obj():
    return PNDMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        trained_betas=None,
        skip_prk_steps=True,
        set_alpha_to_one=False,
        prediction_type="epsilon",
        timestep_spacing="leading",
        steps_offset=1,
    )


def write_tokenizer_configs(tok_dir):
    """tokenizer_config.json / special_tokens_map.json so transformers' CLIPTokenizer loads the folder
    with SD 1.x's behaviour: 77 tokens, padded with <|endoftext|> (49407)."""
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
    }
    write_json(os.path.join(tok_dir, "special_tokens_map.json"), special)
    cfg = dict(special)
    cfg.update({
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "errors": "replace",
        "model_max_length": SEQ_LEN,
        "tokenizer_class": "CLIPTokenizer",
    })
    write_json(os.path.join(tok_dir, "tokenizer_config.json"), cfg)


def write_model_index(out):
    """model_index.json exactly as diffusers writes it for an OnnxStableDiffusionPipeline."""
    from diffusers import OnnxRuntimeModel, OnnxStableDiffusionPipeline
    from transformers import CLIPTokenizer

    def load(name):
        path = os.path.join(out, name, "model.onnx")
        return OnnxRuntimeModel(model=ort.InferenceSession(path, providers=["CPUExecutionProvider"]))

    pipe = OnnxStableDiffusionPipeline(
        vae_encoder=load("vae_encoder"),
        vae_decoder=load("vae_decoder"),
        text_encoder=load("text_encoder"),
        tokenizer=CLIPTokenizer.from_pretrained(os.path.join(out, "tokenizer")),
        unet=load("unet"),
        scheduler=PNDMScheduler.from_pretrained(os.path.join(out, "scheduler")),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_config(out)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(out):
    files = []
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames.sort()
        for name in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), out).replace(os.sep, "/")
            if rel != "model.toml":
                files.append(rel)
    files.sort()
    lines = [
        "# StrataMake model manifest. Written by models/scripts/make_tiny_sd.py: do not edit by hand.",
        "# The UNet's `timestep` input is int64, shape [1] or [batch] (optimum-style export).",
        'id = "tiny-sd-test"',
        'name = "Tiny SD test model (random weights)"',
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


# ----------------------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "models", "tiny-sd"))
    args = parser.parse_args()
    out = os.path.abspath(args.out)

    tok_dir = os.path.join(out, "tokenizer")
    for needed in ("vocab.json", "merges.txt"):
        if not os.path.exists(os.path.join(tok_dir, needed)):
            sys.exit(f"{tok_dir}/{needed} is missing: run models/scripts/make_clip_vocab.py first")

    torch.set_num_threads(1)
    for name in OWNED:
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)
    for stale in ("model_index.json", "model.toml"):
        if os.path.exists(os.path.join(out, stale)):
            os.remove(os.path.join(out, stale))

    # Text encoder: input_ids int32 [batch, 77] -> last_hidden_state [batch, 77, 32], pooler_output [batch, 32].
    text = build_text_encoder()
    ids = torch.full((1, SEQ_LEN), 49407, dtype=torch.int32)
    ids[0, :5] = torch.tensor([49406, 320, 736, 11353, 49407], dtype=torch.int32)
    graph = TextEncoderGraph(text)
    path = os.path.join(out, "text_encoder", "model.onnx")
    export(graph, (ids,), path, ["input_ids"], ["last_hidden_state", "pooler_output"],
           {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}})
    ids2 = ids.repeat(2, 1)
    ids2[1, 1:] = 49407
    with torch.no_grad():
        check_against_torch(path, {"input_ids": ids2.numpy()}, graph(ids2))
    text.config.save_pretrained(os.path.join(out, "text_encoder"))

    # UNet: sample [batch, 4, h, w] float32, timestep int64 [batch] (or [1]), encoder_hidden_states
    # [batch, 77, 32] -> out_sample [batch, 4, h, w]. All weights in unet/model.onnx_data.
    unet = build_unet()
    graph = UNetGraph(unet)
    gen = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 4, 8, 8, generator=gen)
    timestep = torch.tensor([981, 981], dtype=torch.int64)
    ehs = torch.randn(2, SEQ_LEN, TEXT_HIDDEN, generator=gen)
    path = os.path.join(out, "unet", "model.onnx")
    export(graph, (sample, timestep, ehs), path, ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
           {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "timestep_batch"},
            "encoder_hidden_states": {0: "batch", 1: "sequence"},
            "out_sample": {0: "batch", 2: "height", 3: "width"}},
           external=True)
    sample3 = torch.randn(3, 4, 12, 16, generator=gen)
    ehs3 = torch.randn(3, SEQ_LEN, TEXT_HIDDEN, generator=gen)
    t3 = torch.tensor([1, 500, 999], dtype=torch.int64)
    with torch.no_grad():
        check_against_torch(path, {"sample": sample3.numpy(), "timestep": t3.numpy(), "encoder_hidden_states": ehs3.numpy()},
                            [graph(sample3, t3, ehs3)])
        t1 = torch.tensor([250], dtype=torch.int64)
        check_against_torch(path, {"sample": sample3.numpy(), "timestep": t1.numpy(), "encoder_hidden_states": ehs3.numpy()},
                            [graph(sample3, t1, ehs3)])
    unet.save_config(os.path.join(out, "unet"))

    # VAE decoder: latent_sample [batch, 4, h, w] -> sample [batch, 3, 8h, 8w].
    vae = build_vae()
    dec = VaeDecoderGraph(vae)
    latent = torch.randn(1, 4, 8, 8, generator=gen)
    path = os.path.join(out, "vae_decoder", "model.onnx")
    export(dec, (latent,), path, ["latent_sample"], ["sample"],
           {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "image_height", 3: "image_width"}})
    latent2 = torch.randn(2, 4, 6, 10, generator=gen)
    with torch.no_grad():
        check_against_torch(path, {"latent_sample": latent2.numpy()}, [dec(latent2)])
    vae.save_config(os.path.join(out, "vae_decoder"))

    # VAE encoder: sample [batch, 3, H, W] in [-1, 1] -> latent_sample [batch, 4, H/8, W/8] (the mean).
    enc = VaeEncoderGraph(vae)
    image = torch.rand(1, 3, 64, 64, generator=gen) * 2 - 1
    path = os.path.join(out, "vae_encoder", "model.onnx")
    export(enc, (image,), path, ["sample"], ["latent_sample"],
           {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_sample": {0: "batch", 2: "latent_height", 3: "latent_width"}})
    image2 = torch.rand(2, 3, 48, 80, generator=gen) * 2 - 1
    with torch.no_grad():
        check_against_torch(path, {"sample": image2.numpy()}, [enc(image2)])
        # the graph's output is the distribution's mean as diffusers computes it
        want = vae.encode(image2).latent_dist.mean
        got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"sample": image2.numpy()})[0]
        assert np.max(np.abs(got - want.numpy())) < 1e-4
    vae.save_config(os.path.join(out, "vae_encoder"))

    # SD 1.5's scheduler_config.json also carries clip_sample = false, which PNDMScheduler itself does not
    # take: DDIM and the other schedulers built with from_config() read it (their default is true).
    sched = json.loads(scheduler_config_obj().to_json_string())
    sched["clip_sample"] = False
    os.makedirs(os.path.join(out, "scheduler"))
    write_json(os.path.join(out, "scheduler", "scheduler_config.json"), sched)
    write_tokenizer_configs(tok_dir)
    write_model_index(out)
    files = write_manifest(out)

    total = 0
    for rel in files + ["model.toml"]:
        size = os.path.getsize(os.path.join(out, rel))
        total += size
        print(f"{size:>10}  {rel}")
    print(f"{total:>10}  total")


if __name__ == "__main__":
    main()
