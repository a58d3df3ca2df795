#!/usr/bin/env python3
"""Writes tests/fixtures/diffusion/pipeline/*.json: reference values for StrataMake's Rust diffusion pipeline.

The reference implementation is diffusers itself, run on the ONNX files of models/tiny-sd with
onnxruntime (CPU, one thread):
  * text-to-image: diffusers' OnnxStableDiffusionPipeline drives the run (its callback records the
    latents after every step); the same run is repeated with an explicit loop (diffusers scheduler +
    onnxruntime sessions, UNet timestep int64 [batch]) which also records the guided UNet output of
    every step, and the two must agree (they do, to float rounding);
  * image-to-image: an explicit loop with the timestep logic of diffusers' StableDiffusionImg2ImgPipeline
    (its own get_timesteps is called), because the legacy OnnxStableDiffusionImg2ImgPipeline adds the
    noise at a different timestep than the one it starts denoising from (it adds steps_offset to
    init_timestep); see the fixture's `notes`.

Schedulers that draw noise inside `step` (Euler ancestral, LCM) get it from a tape: diffusers'
`randn_tensor` is replaced in the scheduler modules by a function that returns the next draw of
np.random.default_rng(NOISE_SEED).standard_normal(shape) (float32); every draw is stored in the
fixture (`step_noise`) so the Rust side can replay it.

Float16 models (graphs whose float inputs and outputs are float16, e.g. models/tiny-sd-fp16) get
what StrataMake's pipeline does with them: every float tensor is float32 between the graph calls
(scheduler, guidance) and is rounded to float16 at a graph's input; the explicit loop is then the
reference, and OnnxStableDiffusionPipeline, which keeps the latents in float16 between the steps (it
passes them as the graph wants them), only cross-checks it within a looser bound. A float16 fixture
gets a `tolerance_basis` (how far the reference moves when only float rounding changes, measured by
fp16_spread), a `tolerance` that is at least twice that (the first of FP16_TOLERANCES that is), and
`fp32_comparison` (its distance from the float32 model's fixture of the same case, when that file exists).
Float16 models get text-to-image cases only.

Run with the reference venv, after models/scripts/make_tiny_sd.py (and make_tiny_sd_fp16.py):

    /work/venv-sd/bin/python models/scripts/make_pipeline_fixtures.py
    /work/venv-sd/bin/python models/scripts/make_pipeline_fixtures.py --model models/tiny-sd-fp16 \
        --out tests/fixtures/diffusion/pipeline-fp16 --cases euler_cfg7.5
"""
import argparse
import hashlib
import importlib
import inspect
import json
import math
import os
import sys
import types

import numpy as np
import onnxruntime as ort
import torch

import diffusers
import transformers
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
    OnnxRuntimeModel,
    OnnxStableDiffusionPipeline,
    StableDiffusionImg2ImgPipeline,
)
from transformers import CLIPTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPT = "a red cube on a wooden table, studio light"
NEGATIVE_PROMPT = "blurry"
WIDTH = HEIGHT = 64
STEPS = 4
LATENT_SEED = 1234
NOISE_SEED = 4321
VAE_SCALING_FACTOR = 0.18215
IMG2IMG_STRENGTH = 0.5
TOLERANCE = 1e-3
# Float16 graphs: the reference itself moves when only float rounding changes (fp16_spread(); each fixture's
# `tolerance_basis`), by up to ~0.025 for euler_cfg7.5. A float16 fixture's tolerance is the first of these
# that is at least twice that movement.
FP16_TOLERANCES = [5e-2, 1e-1, 2e-1, 5e-1]
FP32_FIXTURES = os.path.join(ROOT, "tests", "fixtures", "diffusion", "pipeline")

# name -> (class, overrides of the model's scheduler_config.json)
SCHEDULERS = {
    "euler": (EulerDiscreteScheduler, {}),
    "euler_a": (EulerAncestralDiscreteScheduler, {}),
    "ddim": (DDIMScheduler, {}),
    "lcm": (LCMScheduler, {}),
    "dpmpp_2m_karras": (
        DPMSolverMultistepScheduler,
        {"use_karras_sigmas": True, "algorithm_type": "dpmsolver++", "solver_order": 2},
    ),
}
GUIDANCES = [7.5, 1.0]


# ------------------------------------------------------------------------------ noise tape

class NoiseTape:
    """Stands in for diffusers.utils.torch_utils.randn_tensor inside the scheduler modules."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.rng = np.random.default_rng(NOISE_SEED)
        self.draws = []  # (step index or None, array)
        self.step = None

    def randn_tensor(self, shape, generator=None, device=None, dtype=None, layout=None, **_):
        arr = self.rng.standard_normal(tuple(shape)).astype(np.float32)
        self.draws.append((self.step, arr))
        return torch.from_numpy(arr.copy()).to(dtype=dtype or torch.float32)


TAPE = NoiseTape()
for _module in ("scheduling_euler_ancestral_discrete", "scheduling_lcm", "scheduling_euler_discrete",
                "scheduling_ddim", "scheduling_dpmsolver_multistep"):
    _mod = importlib.import_module(f"diffusers.schedulers.{_module}")
    assert hasattr(_mod, "randn_tensor"), _module
    _mod.randn_tensor = TAPE.randn_tensor


# ------------------------------------------------------------------------------ helpers

def f32list(arr):
    """float32 values as the shortest decimal that reads back to the same float32."""
    return [float(str(v)) for v in np.asarray(arr, dtype=np.float32).ravel()]


def tensor_obj(arr):
    arr = np.asarray(arr, dtype=np.float32)
    return {"shape": list(arr.shape), "values": f32list(arr)}


def timestep_value(t):
    v = float(t)
    return int(v) if v.is_integer() else v


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def dump(obj, indent=0):
    """JSON with one key per line but each list of numbers on one line (small diffs, readable)."""
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f'{pad}  {json.dumps(k)}: {dump(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        items = [f"{pad}  {dump(v, indent + 1)}" for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def scheduler_config_record(scheduler):
    """The scheduler's effective config; infinities (e.g. DPM's lambda_min_clipped) become
    the strings "inf"/"-inf", since JSON has no such numbers."""
    def finite(v):
        if isinstance(v, float) and math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    return {k: finite(v) for k, v in dict(scheduler.config).items() if not k.startswith("_")}


class Model:
    def __init__(self, folder, threads=1, optimization=ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        self.folder = folder
        self.name = os.path.relpath(folder, ROOT).replace(os.sep, "/")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = optimization
        self.sessions = {}
        for name in ("text_encoder", "unet", "vae_decoder", "vae_encoder"):
            self.sessions[name] = ort.InferenceSession(
                os.path.join(folder, name, "model.onnx"), sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_types = {name: {i.name: i.type for i in s.get_inputs()} for name, s in self.sessions.items()}
        self.tokenizer = CLIPTokenizer.from_pretrained(os.path.join(folder, "tokenizer"))
        with open(os.path.join(folder, "scheduler", "scheduler_config.json")) as f:
            self.scheduler_config = json.load(f)
        unet_inputs = self.input_types["unet"]
        assert unet_inputs["timestep"] == "tensor(int64)", unet_inputs
        assert unet_inputs["sample"] in ("tensor(float)", "tensor(float16)"), unet_inputs
        self.float16 = unet_inputs["sample"] == "tensor(float16)"

    def run(self, name, feeds):
        """Runs a graph as StrataMake does: float32 values in and out, float16 only at a float16 graph's edge."""
        types = self.input_types[name]
        feeds = {k: v.astype(np.float16) if types[k] == "tensor(float16)" else v for k, v in feeds.items()}
        return [out.astype(np.float32) if out.dtype == np.float16 else out
                for out in self.sessions[name].run(None, feeds)]

    def scheduler(self, name):
        cls, overrides = SCHEDULERS[name]
        return cls.from_config(self.scheduler_config, **overrides)

    def token_ids(self, text):
        ids = self.tokenizer(text, padding="max_length", max_length=self.tokenizer.model_max_length,
                             truncation=True, return_tensors="np").input_ids
        assert ids.shape == (1, 77), ids.shape
        return ids.astype(np.int32)

    def encode(self, text):
        return self.run("text_encoder", {"input_ids": self.token_ids(text)})

    def unet(self, sample, t, embeds):
        timestep = np.full((sample.shape[0],), timestep_value(t), dtype=np.int64)
        return self.run("unet", {"sample": sample, "timestep": timestep, "encoder_hidden_states": embeds})[0]

    def pipeline(self, scheduler):
        """OnnxStableDiffusionPipeline on the shared sessions. Its `latents * scheduler.init_noise_sigma` is numpy *
        torch, which raises TypeError when init_noise_sigma is a tensor (Euler and Euler ancestral in this diffusers
        version), so those schedulers get a subclass whose init_noise_sigma property returns a Python float."""
        cls = type(scheduler)
        prop = getattr(cls, "init_noise_sigma", None)
        if isinstance(prop, property):
            scheduler.__class__ = type(cls.__name__, (cls,), {
                "init_noise_sigma": property(lambda self: float(prop.fget(self)))})

        def wrap(name):
            return OnnxRuntimeModel(model=self.sessions[name])

        return OnnxStableDiffusionPipeline(
            vae_encoder=wrap("vae_encoder"), vae_decoder=wrap("vae_decoder"), text_encoder=wrap("text_encoder"),
            tokenizer=self.tokenizer, unet=wrap("unet"), scheduler=scheduler, safety_checker=None,
            feature_extractor=None, requires_safety_checker=False)

    def file_hashes(self):
        return {rel: sha256_of(os.path.join(self.folder, rel)) for rel in (
            "text_encoder/model.onnx", "unet/model.onnx", "unet/model.onnx_data",
            "vae_decoder/model.onnx", "vae_encoder/model.onnx", "scheduler/scheduler_config.json")}


def embeddings(model, guidance):
    cond = model.encode(PROMPT)[0]
    if guidance > 1.0:
        uncond = model.encode(NEGATIVE_PROMPT)[0]
        return np.concatenate([uncond, cond])  # batch order [uncond, cond], as diffusers does
    return cond


def denoise(model, scheduler, latents, timesteps, embeds, guidance):
    """The denoising loop of diffusers' SD pipelines, with onnxruntime for the UNet. latents: torch float32."""
    cfg = guidance > 1.0
    trace = []
    for i, t in enumerate(timesteps):
        TAPE.step = i
        model_in = torch.cat([latents] * 2) if cfg else latents
        model_in = scheduler.scale_model_input(model_in, t)
        noise_pred = model.unet(model_in.numpy(), t, embeds)
        if cfg:
            uncond, cond = np.split(noise_pred, 2)
            noise_pred = uncond + guidance * (cond - uncond)
        latents = scheduler.step(torch.from_numpy(noise_pred), t, latents).prev_sample
        trace.append({"index": i, "timestep": timestep_value(t),
                      "guided_noise_pred": noise_pred, "latents": latents.numpy().copy()})
    TAPE.step = None
    return latents.numpy(), trace


def trace_obj(trace):
    return [{"index": s["index"], "timestep": s["timestep"], "guided_noise_pred": f32list(s["guided_noise_pred"]),
             "latents": f32list(s["latents"])} for s in trace]


def noise_obj(draws):
    return [{"step": step, "shape": list(arr.shape), "values": f32list(arr)} for step, arr in draws]


def common_header(model, case, reference, guidance, negative):
    cond_ids = model.token_ids(PROMPT)
    last_hidden, pooled = model.encode(PROMPT)
    eos_pos = int(np.argmax(cond_ids[0] == 49407))
    return {
        "case": case,
        "reference": reference,
        "versions": {"diffusers": diffusers.__version__, "transformers": transformers.__version__,
                     "torch": torch.__version__.split("+")[0], "onnxruntime": ort.__version__, "numpy": np.__version__},
        "model": model.name,
        "model_sha256": model.file_hashes(),
        "tolerance": TOLERANCE,
        "prompt": PROMPT,
        "negative_prompt": negative,
        "width": WIDTH,
        "height": HEIGHT,
        "steps": STEPS,
        "guidance_scale": guidance,
        "vae_scaling_factor": VAE_SCALING_FACTOR,
        "batch_order": ["uncond", "cond"] if guidance > 1.0 else ["cond"],
        "unet_timestep": "int64, shape [batch] (one value repeated per batch row)",
        "token_ids": {"prompt": cond_ids[0].tolist(),
                      "negative_prompt": model.token_ids(negative)[0].tolist() if negative is not None else None},
        "text_encoder_anchor": {
            "prompt_last_hidden_state_first8": f32list(last_hidden.ravel()[:8]),  # token 0 (BOS)
            "prompt_last_hidden_state_at_first_eos_first8": f32list(last_hidden[0, eos_pos, :8]),
            "first_eos_position": eos_pos,
            "prompt_pooler_output_first8": f32list(pooled.ravel()[:8]),
            "prompt_last_hidden_state_abs_sum": float(np.sum(np.abs(last_hidden), dtype=np.float64)),
            "prompt_last_hidden_state_shape": list(last_hidden.shape),
        },
    }


def initial_latents():
    return np.random.default_rng(LATENT_SEED).standard_normal((1, 4, HEIGHT // 8, WIDTH // 8)).astype(np.float32)


# ------------------------------------------------------------------------------ cases

def txt2img_case(model, name, guidance, decode):
    negative = NEGATIVE_PROMPT if guidance > 1.0 else None
    case = f"{name}_cfg{guidance:g}"
    init = initial_latents()

    # 1. diffusers' OnnxStableDiffusionPipeline.
    TAPE.reset()
    sched = model.scheduler(name)
    before = dict(sched.config)
    pipe = model.pipeline(sched)
    assert dict(sched.config) == before, "OnnxStableDiffusionPipeline rewrote the scheduler config"
    pipe.set_progress_bar_config(disable=True)
    pipe_steps = []
    # a float16 model gets float16 latents (the pipeline passes its latents to the UNet as they are)
    pipe_init = init.astype(np.float16) if model.float16 else init.copy()
    result = pipe(prompt=PROMPT, negative_prompt=negative, height=HEIGHT, width=WIDTH, num_inference_steps=STEPS,
                  guidance_scale=guidance, latents=pipe_init, output_type="np", return_dict=False,
                  callback=lambda i, t, lat: pipe_steps.append(np.array(lat, copy=True)), callback_steps=1)
    pipe_image = result[0]
    pipe_draws = [arr for _, arr in TAPE.draws]
    pipe_timesteps = [timestep_value(t) for t in sched.timesteps]

    # 2. the explicit loop (records the UNet output of each step and which step drew which noise).
    TAPE.reset()
    sched = model.scheduler(name)
    sched.set_timesteps(STEPS)
    timesteps = [timestep_value(t) for t in sched.timesteps]
    sigmas = f32list(sched.sigmas) if hasattr(sched, "sigmas") else None
    init_noise_sigma = float(sched.init_noise_sigma)
    latents = torch.from_numpy(init.copy()) * sched.init_noise_sigma
    embeds = embeddings(model, guidance)
    final, trace = denoise(model, sched, latents, sched.timesteps, embeds, guidance)
    draws = list(TAPE.draws)

    assert timesteps == pipe_timesteps, (timesteps, pipe_timesteps)
    assert len(draws) == len(pipe_draws) and all(np.array_equal(a, b) for (_, a), b in zip(draws, pipe_draws))
    assert len(pipe_steps) == STEPS, len(pipe_steps)
    diff = max(float(np.max(np.abs(a["latents"] - b.astype(np.float32)))) for a, b in zip(trace, pipe_steps))
    image = decode_latents(model, final) if decode else None
    fp16_fields = float16_fields(model, name, guidance, case, init, final, image) if model.float16 else {}
    tolerance = fp16_fields.get("tolerance", TOLERANCE)
    if model.float16:
        # The pipeline rounds the latents, the guided noise and any step noise to float16 between the steps; the
        # loop does not. They must agree to 1% of the largest latent (about 20 float16 ulps).
        scale = max(float(np.max(np.abs(b))) for b in pipe_steps)
        assert diff < 1e-2 * scale, f"{case}: explicit loop differs from OnnxStableDiffusionPipeline by {diff}"
        reference = (
            f"explicit loop: diffusers {diffusers.__version__} {type(sched).__name__} + onnxruntime {ort.__version__} "
            f"CPU sessions (1 thread) on {model.name}, float32 between the graph calls and float16 at the graphs' "
            "inputs and outputs, as StrataMake's pipeline runs a float16 model; cross-checked against diffusers' "
            "OnnxStableDiffusionPipeline, which keeps the latents in float16 between the steps (max |difference| "
            f"of the per-step latents {diff:.1e}, max |latent| {scale:.3g})")
    else:
        assert diff < 1e-5, f"{case}: explicit loop differs from OnnxStableDiffusionPipeline by {diff}"
        reference = (
            f"diffusers {diffusers.__version__} OnnxStableDiffusionPipeline (onnxruntime {ort.__version__} CPU, 1 thread) "
            f"on {model.name}; cross-checked against an explicit loop of diffusers' {type(sched).__name__} + "
            f"onnxruntime sessions (max |difference| of the per-step latents {diff:.1e})")

    fixture = common_header(model, case, reference, guidance, negative)
    fixture.update({
        "scheduler": name,
        "scheduler_class": type(sched).__name__,
        "scheduler_config": scheduler_config_record(sched),
        "initial_latents": dict(tensor_obj(init), source=(
            f"np.random.default_rng({LATENT_SEED}).standard_normal((1, 4, {HEIGHT // 8}, {WIDTH // 8}))"
            ".astype(np.float32); the pipeline multiplies it by init_noise_sigma before the first step")),
        "init_noise_sigma": init_noise_sigma,
        "timesteps": timesteps,
        "sigmas": sigmas,
        "step_noise_source": (
            f"draws of np.random.default_rng({NOISE_SEED}).standard_normal(shape).astype(np.float32), in order, "
            "returned by the scheduler's randn_tensor inside step(); `step` is the index of the step that drew it"),
        "step_noise": noise_obj(draws),
        "steps_trace": trace_obj(trace),
        "final_latents": tensor_obj(final),
    })
    if decode:
        # the pipeline's own output is this image, clipped to [0, 1] after image / 2 + 0.5, in NHWC (a float16
        # pipeline decodes its own float16 latents)
        got = pipe_image.transpose(0, 3, 1, 2)
        assert float(np.max(np.abs(np.clip(image / 2 + 0.5, 0, 1) - got))) < (tolerance if model.float16 else 1e-4)
        fixture["decoded_image"] = dict(tensor_obj(image), note=(
            "vae_decoder(latent_sample = final_latents / vae_scaling_factor), raw float output before "
            "image / 2 + 0.5 and clipping (random weights: values can lie outside [-1, 1])"))
    fixture.update(fp16_fields)  # also replaces `tolerance` (the key keeps its place)
    return case, fixture


def decode_latents(model, latents):
    return model.run("vae_decoder", {"latent_sample": latents / np.float32(VAE_SCALING_FACTOR)})[0]


def explicit_run(model, name, guidance, init):
    """The explicit loop alone: (final latents, decoded image)."""
    TAPE.reset()
    sched = model.scheduler(name)
    sched.set_timesteps(STEPS)
    latents = torch.from_numpy(init.copy()) * sched.init_noise_sigma
    final, _ = denoise(model, sched, latents, sched.timesteps, embeddings(model, guidance), guidance)
    return final, decode_latents(model, final)


def fp16_spread(model, name, guidance, init, final, image):
    """How far a float16 model's reference moves when only float rounding changes, as it does between two correct
    implementations: other onnxruntime graph optimization levels (other fusions, so float16 rounding at other
    points, as other CPUs' kernels would), 4 threads (other summation orders), and initial latents moved by a few
    float32 ulps (relative 2**-21 and 2**-18, signs drawn at random), as float32 scheduler arithmetic done in
    another order moves the latents. Such changes flip float16 roundings at the UNet's input; in euler_cfg7.5 one
    flipped element moves the final latents by up to ~0.02 (guidance 7.5 and the first Euler step, sigma
    14.6 -> 4.1, amplify it)."""
    variants = {
        "optimization ORT_DISABLE_ALL": (Model(model.folder, optimization=ort.GraphOptimizationLevel.ORT_DISABLE_ALL), init),
        "optimization ORT_ENABLE_BASIC": (Model(model.folder, optimization=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC), init),
        "intra_op_num_threads 4": (Model(model.folder, threads=4), init),
    }
    for exponent in (21, 18):
        for seed in range(100, 104):
            jitter = np.random.default_rng(seed).choice([-1.0, 1.0], size=init.shape) * 2.0 ** -exponent
            variants[f"initial latents * (1 +- 2**-{exponent}), signs seed {seed}"] = (
                model, (init * (1 + jitter)).astype(np.float32))
    out = {}
    for label, (m, start) in variants.items():
        got_final, got_image = explicit_run(m, name, guidance, start)
        row = {"final_latents_max_abs_diff": float(f"{np.max(np.abs(got_final - final)):.3g}")}
        if image is not None:
            row["decoded_image_max_abs_diff"] = float(f"{np.max(np.abs(got_image - image)):.3g}")
        out[label] = row
    return out


def float16_fields(model, name, guidance, case, init, final, image):
    spread = fp16_spread(model, name, guidance, init, final, image)
    worst = max(v for row in spread.values() for v in row.values())
    tolerance = next((t for t in FP16_TOLERANCES if worst <= t / 2), None)
    assert tolerance is not None, f"{case}: the float16 reference moves by {worst} when only float rounding changes"
    fields = {"tolerance": tolerance, "tolerance_basis": dict(spread, worst=worst)}
    fp32_path = os.path.join(FP32_FIXTURES, f"{case}.json")
    if os.path.exists(fp32_path):
        with open(fp32_path) as f:
            ref = json.load(f)
        cmp = {"fixture": os.path.relpath(fp32_path, ROOT).replace(os.sep, "/")}
        for key, got in (("final_latents", final), ("decoded_image", image)):
            if got is None or key not in ref:
                continue
            want = np.array(ref[key]["values"], dtype=np.float32).reshape(ref[key]["shape"])
            d = np.abs(got - want)
            cmp[key] = {"max_abs_diff": float(f"{d.max():.3g}"),
                        "max_abs_fp32": float(f"{np.abs(want).max():.3g}"),
                        "max_abs_diff_over_max_abs_fp32": float(f"{d.max() / np.abs(want).max():.3g}"),
                        "max_rel_diff_where_abs_fp32_over_0.1": float(
                            f"{np.max(d[np.abs(want) > 0.1] / np.abs(want)[np.abs(want) > 0.1]):.3g}")}
        fields["fp32_comparison"] = cmp
    fields["note"] = (
        f"float16 model: the pipeline must match within tolerance {tolerance} (float32 models: {TOLERANCE}). "
        "The float16 reference itself moves by up to tolerance_basis.worst when only float rounding changes "
        "(tolerance_basis: other onnxruntime optimization levels and thread counts, initial latents moved by a few "
        "float32 ulps: a UNet input element that rounds to the other float16 neighbour moves the final latents, "
        f"max |value| {np.abs(final).max():.3g}, by up to {worst:.2g}); the tolerance is at least twice that, so it "
        "checks the float16 path (tensor types and conversions at every graph edge), while the float32 fixtures "
        "check the arithmetic closely. "
        "fp32_comparison: how far this float16 model's result lies from the float32 model's fixture (the error of "
        "float16 itself, for information).")
    return fields


def gradient_image():
    """The img2img input: 64x64 RGB, R = 4*x, G = 4*y, B = 128 (x = column, y = row), uint8."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    img = np.stack([4 * x, 4 * y, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    return img


def img2img_case(model):
    guidance = 7.5
    name = "euler"
    case = "img2img_euler"
    pixels = gradient_image()
    image = (pixels.astype(np.float32) / 255.0).transpose(2, 0, 1)[None] * 2.0 - 1.0
    encoded = model.run("vae_encoder", {"sample": image.astype(np.float32)})[0]
    init_latents = encoded * np.float32(VAE_SCALING_FACTOR)
    noise = initial_latents()

    TAPE.reset()
    sched = model.scheduler(name)
    sched.set_timesteps(STEPS)
    all_timesteps = [timestep_value(t) for t in sched.timesteps]
    # diffusers' own timestep selection for img2img (it also calls scheduler.set_begin_index)
    timesteps, n = StableDiffusionImg2ImgPipeline.get_timesteps(
        types.SimpleNamespace(scheduler=sched), STEPS, IMG2IMG_STRENGTH, "cpu")
    latent_timestep = timesteps[:1]
    noised = sched.add_noise(torch.from_numpy(init_latents), torch.from_numpy(noise), latent_timestep)
    embeds = embeddings(model, guidance)
    final, trace = denoise(model, sched, noised.clone(), timesteps, embeds, guidance)
    assert not TAPE.draws

    fixture = common_header(
        model, case,
        f"explicit loop: diffusers {diffusers.__version__} EulerDiscreteScheduler + onnxruntime {ort.__version__} "
        "CPU sessions, timesteps chosen by diffusers' StableDiffusionImg2ImgPipeline.get_timesteps",
        guidance, NEGATIVE_PROMPT)
    fixture.update({
        "scheduler": name,
        "scheduler_class": type(sched).__name__,
        "scheduler_config": scheduler_config_record(sched),
        "strength": IMG2IMG_STRENGTH,
        "init_image": {
            "definition": "64x64 RGB uint8, pixel (row y, column x) = (R 4*x, G 4*y, B 128)",
            "shape_hwc": list(pixels.shape),
            "pixels_hwc": pixels.ravel().tolist(),
            "to_tensor": "float = pixel / 255 * 2 - 1, NCHW [1, 3, 64, 64]",
        },
        "encoded_init_latents": dict(tensor_obj(init_latents),
                                     note="vae_encoder output (the latent mean) * vae_scaling_factor"),
        "noise": dict(tensor_obj(noise), source=(
            f"np.random.default_rng({LATENT_SEED}).standard_normal((1, 4, {HEIGHT // 8}, {WIDTH // 8})).astype(np.float32)"
            " (the same array as the text-to-image initial latents)")),
        "all_timesteps": all_timesteps,
        "sigmas": f32list(sched.sigmas),
        "begin_index": int(sched.begin_index),
        "start_timestep": timestep_value(latent_timestep[0]),
        "noised_latents": dict(tensor_obj(noised.numpy()), note=(
            "scheduler.add_noise(encoded_init_latents, noise, start_timestep) = init + sigmas[begin_index] * noise "
            "for Euler; not multiplied by init_noise_sigma")),
        "timesteps": [timestep_value(t) for t in timesteps],
        "steps_trace": trace_obj(trace),
        "final_latents": tensor_obj(final),
        "notes": (
            "Timestep selection as diffusers' StableDiffusionImg2ImgPipeline: init_timestep = min(int(steps * "
            "strength), steps), t_start = steps - init_timestep, timesteps = scheduler.timesteps[t_start:], noise "
            "added at timesteps[0]. The legacy OnnxStableDiffusionImg2ImgPipeline instead adds steps_offset to "
            "init_timestep (noise at 501, denoising from 251 here), which mismatches Euler's sigmas; it is not "
            "used as the reference."),
    })
    return case, fixture


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "tiny-sd"))
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "diffusion", "pipeline"))
    parser.add_argument("--cases", nargs="+", metavar="CASE",
                        help="only these cases (e.g. euler_cfg7.5 img2img_euler); default: all")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = Model(os.path.abspath(args.model))
    os.makedirs(args.out, exist_ok=True)

    wanted = [(name, guidance) for name in SCHEDULERS for guidance in GUIDANCES]
    all_cases = [f"{name}_cfg{guidance:g}" for name, guidance in wanted] + ["img2img_euler"]
    unknown = sorted(set(args.cases or []) - set(all_cases))
    if unknown:
        sys.exit(f"unknown cases {unknown}; known: {all_cases}")
    if model.float16:
        all_cases.remove("img2img_euler")
        if args.cases and "img2img_euler" in args.cases:
            sys.exit("img2img_euler: no float16 fixture (fp16_spread covers text-to-image only)")
    selected = set(args.cases or all_cases)
    cases = []
    for name, guidance in wanted:
        if f"{name}_cfg{guidance:g}" in selected:
            cases.append(txt2img_case(model, name, guidance, decode=(name == "euler" and guidance == 7.5)))
    if "img2img_euler" in selected:
        cases.append(img2img_case(model))

    for case, fixture in cases:
        path = os.path.join(args.out, f"{case}.json")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(dump(fixture) + "\n")
        final = np.array(fixture["final_latents"]["values"])
        print(f"{os.path.getsize(path):>8}  {os.path.relpath(path, ROOT)}  timesteps={fixture['timesteps']} "
              f"final |max|={np.max(np.abs(final)):.3f} noise draws={len(fixture.get('step_noise', []))}")


if __name__ == "__main__":
    main()
