#!/usr/bin/env python3
"""Reference fixtures for `src/engines/diffusion/scheduler.rs`, produced with diffusers.

Writes tests/fixtures/diffusion/schedulers.json (relative to the repository root).

For every sampler StrataMake exposes (euler, euler_a, ddim, lcm, dpmpp_2m_karras) this builds the
diffusers scheduler exactly as a user would (`XScheduler.from_config(scheduler_config)`, plus
`use_karras_sigmas=True` for dpmpp_2m_karras) and drives it the way the Stable Diffusion pipelines do:

* text-to-image (strength 1.0): `set_timesteps(steps)`, latents = noise * init_noise_sigma;
* image-to-image (strength < 1): `set_timesteps(steps)`, then StableDiffusionImg2ImgPipeline.get_timesteps
  (trim the schedule, `set_begin_index`) and `add_noise(image_latents, noise, timesteps[:1])`;
* then for each step i: x_in = scale_model_input(latents, t); model_output = 0.1 * x_in + bias * (1 + 0.25 i);
  latents = step(model_output, t, latents).
  The per-step log holds the scaled model input (null where it is the sample itself), the noise the
  step drew (null if none) and the sample after the step.

Stochastic schedulers draw their noise through `randn_tensor`, which is monkeypatched to hand out
recorded standard-normal noise; the noise each step consumed is stored with the step.

Usage: /work/venv-sd/bin/python models/scripts/make_scheduler_fixtures.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

import diffusers
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
)
from diffusers.schedulers import (
    scheduling_ddim,
    scheduling_dpmsolver_multistep,
    scheduling_euler_ancestral_discrete,
    scheduling_euler_discrete,
    scheduling_lcm,
)

SHAPE = (1, 4, 2, 2)
NUMEL = int(np.prod(SHAPE))

# Stable Diffusion 1.5's scheduler_config.json (with the spacing / prediction keys spelled out).
SD15 = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "prediction_type": "epsilon",
    "trained_betas": None,
    "clip_sample": False,
}

# Shaped like stabilityai/sd-turbo's scheduler_config.json.
SD_TURBO = {
    "_class_name": "EulerDiscreteScheduler",
    "_diffusers_version": "0.24.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "trailing",
    "trained_betas": None,
    "use_karras_sigmas": False,
}

CONFIGS = {
    "sd15": SD15,
    "sd_turbo": SD_TURBO,
    # Every key at the scheduler class's own default (linear betas, DDIM clip_sample / set_alpha_to_one on).
    "empty": {},
}

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

NOISE_MODULES = [
    scheduling_ddim,
    scheduling_dpmsolver_multistep,
    scheduling_euler_ancestral_discrete,
    scheduling_euler_discrete,
    scheduling_lcm,
]


def f32list(x) -> list[float]:
    """float32 values as JSON numbers with 9 significant digits (enough to round-trip f32)."""
    arr = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    return [float(f"{v:.9g}") for v in arr.reshape(-1).tolist()]


def scalar(x) -> float:
    if isinstance(x, torch.Tensor):
        x = x.item()
    return float(f"{float(x):.9g}")


class NoiseFeed:
    """Stands in for diffusers' randn_tensor: returns recorded N(0,1) noise, logging what it handed out."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.drawn: list[np.ndarray] = []

    def __call__(self, shape, generator=None, device=None, dtype=None, layout=None, **_kw):
        arr = self.rng.standard_normal(tuple(shape)).astype(np.float32)
        self.drawn.append(arr)
        out = torch.from_numpy(arr.copy())
        return out.to(dtype=dtype) if dtype is not None else out

    def take(self) -> list[np.ndarray]:
        drawn, self.drawn = self.drawn, []
        return drawn


def install_noise(feed: NoiseFeed) -> None:
    for mod in NOISE_MODULES:
        if hasattr(mod, "randn_tensor"):
            mod.randn_tensor = feed


def make_scheduler(name: str, config: dict):
    cls, forced = SCHEDULERS[name]
    return cls.from_config(dict(config), **forced)


def get_timesteps(sched, steps: int, strength: float):
    """StableDiffusionImg2ImgPipeline.get_timesteps."""
    init_timestep = min(int(steps * strength), steps)
    t_start = max(steps - init_timestep, 0)
    timesteps = sched.timesteps[t_start * sched.order :]
    if hasattr(sched, "set_begin_index"):
        sched.set_begin_index(t_start * sched.order)
    return timesteps, steps - t_start


def run_case(case_id: int, name: str, config_name: str, overrides: dict, steps: int, strength: float, bias):
    config = dict(CONFIGS[config_name])
    config.update(overrides)
    rng = np.random.default_rng(1000 + case_id)
    feed = NoiseFeed(rng)
    install_noise(feed)

    sched = make_scheduler(name, config)
    sched.set_timesteps(steps)
    case = {
        "scheduler": name,
        "config": config_name,
        "overrides": overrides,
        "steps": steps,
        "strength": strength,
        "full_timesteps": [scalar(t) for t in sched.timesteps],
    }
    sigmas = getattr(sched, "sigmas", None)
    case["sigmas"] = f32list(sigmas) if name in ("euler", "euler_a", "dpmpp_2m_karras") else None

    if strength < 1.0:
        timesteps, n_run = get_timesteps(sched, steps, strength)
        if n_run < 1 or len(timesteps) == 0:
            case["error"] = "no_steps"
            return case
    else:
        timesteps = sched.timesteps

    case["error"] = None
    case["timesteps"] = [scalar(t) for t in timesteps]
    case["init_noise_sigma"] = scalar(sched.init_noise_sigma)

    if strength < 1.0:
        image_latents = (rng.standard_normal(SHAPE) * 0.8).astype(np.float32)
        noise = rng.standard_normal(SHAPE).astype(np.float32)
        latent_timestep = timesteps[:1].repeat(1)
        latents = sched.add_noise(torch.from_numpy(image_latents), torch.from_numpy(noise), latent_timestep)
        case["image_latents"] = f32list(image_latents)
        case["noise"] = f32list(noise)
        case["noised"] = f32list(latents)
    else:
        noise = rng.standard_normal(SHAPE).astype(np.float32)
        latents = torch.from_numpy(noise) * sched.init_noise_sigma
        case["init_noise"] = f32list(noise)
        case["latents"] = f32list(latents)

    feed.take()
    log = []
    bias_t = torch.from_numpy(bias.reshape(SHAPE))
    for i, t in enumerate(timesteps):
        latents_in = latents
        x_in = sched.scale_model_input(latents, t)
        model_output = 0.1 * x_in + bias_t * (1.0 + 0.25 * i)
        kwargs = {"eta": 0.0} if name == "ddim" else {}
        latents = sched.step(model_output, t, latents, return_dict=False, **kwargs)[0]
        drawn = feed.take()
        if len(drawn) > 1:
            raise RuntimeError("more than one noise draw in a step")
        # Only the Euler family scales the model input; for the others it is the sample itself
        # (checked here, stored as null to keep the fixture small).
        scales = name in ("euler", "euler_a")
        if not scales and not torch.equal(x_in, latents_in):
            raise RuntimeError(f"{name}: scale_model_input is not the identity")
        log.append(
            {
                "scaled": f32list(x_in) if scales else None,
                "noise": f32list(drawn[0]) if drawn else None,
                "sample": f32list(latents),
            }
        )
    case["log"] = log
    return case


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(root / "tests/fixtures/diffusion/schedulers.json"))
    args = parser.parse_args()

    torch.set_num_threads(1)
    bias = (np.random.default_rng(7).standard_normal(NUMEL) * 0.5).astype(np.float32)

    plan = []
    for name in SCHEDULERS:
        for spacing in ("leading", "trailing", "linspace"):
            for steps in (1, 2, 4, 20):
                for prediction in ("epsilon", "v_prediction"):
                    for strength in (1.0, 0.5):
                        overrides = {"timestep_spacing": spacing, "prediction_type": prediction}
                        plan.append((name, "sd15", overrides, steps, strength))
    # SD-Turbo-like config, as shipped (trailing).
    for steps in (1, 4):
        for strength in (1.0, 0.5):
            plan.append(("euler", "sd_turbo", {}, steps, strength))
    # Extra coverage of config keys the schedulers understand.
    for name in SCHEDULERS:
        if name != "euler_a":  # EulerAncestral does not implement prediction_type "sample"
            plan.append((name, "sd15", {"prediction_type": "sample"}, 4, 1.0))
        plan.append((name, "empty", {}, 4, 1.0))
        if name != "dpmpp_2m_karras":
            # DPM++ Karras + squaredcos_cap_v2 truncates timesteps to duplicates ([998, 998, 983, 0] for 4
            # steps) and diffusers then indexes past the end of its sigmas; not a usable reference.
            plan.append((name, "sd15", {"beta_schedule": "squaredcos_cap_v2"}, 4, 1.0))
        plan.append((name, "sd15", {"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02}, 4, 0.5))
    plan.append(("ddim", "sd15", {"clip_sample": True, "clip_sample_range": 0.5}, 4, 1.0))
    plan.append(("ddim", "sd15", {"set_alpha_to_one": True}, 4, 1.0))
    plan.append(("lcm", "sd15", {"original_inference_steps": 25, "timestep_scaling": 5.0}, 4, 1.0))
    plan.append(("lcm", "sd15", {"clip_sample": True}, 4, 0.75))
    for steps in (4, 20):
        plan.append(("euler", "sd15", {"use_karras_sigmas": True}, steps, 1.0))
        plan.append(("euler", "sd15", {"final_sigmas_type": "sigma_min"}, steps, 1.0))
        plan.append(("dpmpp_2m_karras", "sd15", {"final_sigmas_type": "sigma_min"}, steps, 1.0))
        plan.append(("dpmpp_2m_karras", "sd15", {"solver_type": "heun"}, steps, 1.0))
        plan.append(("dpmpp_2m_karras", "sd15", {"lower_order_final": False}, steps, 1.0))
        plan.append(("dpmpp_2m_karras", "sd15", {"euler_at_final": True, "final_sigmas_type": "sigma_min"}, steps, 1.0))
    plan.append(("euler", "sd15", {"use_karras_sigmas": True, "sigma_min": 0.1, "sigma_max": 10.0}, 4, 1.0))
    plan.append(("dpmpp_2m_karras", "sd15", {"sigma_min": 0.1, "sigma_max": 10.0}, 4, 1.0))
    plan.append(("euler", "sd15", {"_use_default_values": ["steps_offset", "timestep_spacing"]}, 4, 1.0))
    for strength in (0.3, 0.7, 0.29):
        plan.append(("euler", "sd15", {}, 10, strength))
        plan.append(("dpmpp_2m_karras", "sd15", {}, 30, strength))

    cases = [run_case(i, *entry, bias) for i, entry in enumerate(plan)]

    # Schedules only (no stepping), over many step counts, to pin down spacing arithmetic
    # (numpy linspace / arange / banker's rounding quirks, e.g. 61 trailing steps give 62 timesteps).
    tables = []
    counts = list(range(1, 31)) + [50, 61, 103, 121, 250]
    for name in ("euler", "ddim", "dpmpp_2m_karras", "lcm"):
        spacings = ("leading", "trailing", "linspace") if name in ("euler", "ddim") else ("leading",)
        for spacing in spacings:
            for steps in counts:
                if name == "lcm" and steps > 50:
                    continue
                sched = make_scheduler(name, {**SD15, "timestep_spacing": spacing})
                sched.set_timesteps(steps)
                tables.append(
                    {
                        "scheduler": name,
                        "spacing": spacing,
                        "steps": steps,
                        "timesteps": [scalar(t) for t in sched.timesteps],
                        "sigmas": (
                            f32list(sched.sigmas)
                            if hasattr(sched, "sigmas") and name != "lcm" and steps <= 61
                            else None
                        ),
                    }
                )

    alphas = {}
    for key, cfg in (("sd15", SD15), ("empty", {}), ("squaredcos", {**SD15, "beta_schedule": "squaredcos_cap_v2"})):
        alphas[key] = f32list(DDIMScheduler.from_config(cfg).alphas_cumprod)

    out = {
        "generator": "models/scripts/make_scheduler_fixtures.py",
        "versions": {"diffusers": diffusers.__version__, "torch": torch.__version__, "numpy": np.__version__},
        "shape": list(SHAPE),
        "model_output_rule": "model_output = 0.1 * scaled_input + bias * (1 + 0.25 * i), computed in float32",
        "bias": f32list(bias),
        "configs": CONFIGS,
        "alphas_cumprod": alphas,
        "cases": cases,
        "timestep_tables": tables,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    text = json.dumps(out, separators=(",", ":"))
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.write("\n")
    print(f"wrote {args.out}: {len(cases)} cases, {len(tables)} timestep tables, {len(text)} bytes")


if __name__ == "__main__":
    main()
