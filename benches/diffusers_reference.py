#!/work/venv-sd/bin/python
"""Python reference timing for image generation: diffusers' OnnxStableDiffusionPipeline on onnxruntime (CPU).

RUN IT WITH THE REFERENCE VENV, NOT THE SYSTEM PYTHON (it needs torch, diffusers, transformers and
onnxruntime==1.31.1; models/README.md says how /work/venv-sd is made):

    /work/venv-sd/bin/python benches/diffusers_reference.py [--model models/tiny-sd] [--width 64]
        [--height 64] [--steps 4] [--scheduler euler] [--guidance 7.5] [--runs 10] [--threads 0]

It loads the model folder with OnnxStableDiffusionPipeline.from_pretrained (onnxruntime CPU
provider), generates one untimed warm-up image, then times --runs images of the given size and
prints one JSON line on stdout (everything else goes to stderr):

    {"impl": "diffusers-onnx", ..., "median_seconds_per_image": ..., "median_seconds_per_step": ...,
     "median_unet_seconds_per_step": ...}

seconds_per_image is the whole pipeline call (tokenizer, text encoder, denoising loop, VAE decode,
no safety checker); seconds_per_step is that divided by --steps; unet_seconds_per_step is the time
spent in the UNet session alone, per step (one batched call of 2 rows when guidance > 1). The
initial latents are fixed (numpy seed 1234) so every run does the same work. --threads sets
onnxruntime's intra-op threads (0 = its default); give the Rust side the same number when comparing.
"""
import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCHEDULERS = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "lcm": ("LCMScheduler", {}),
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler",
                        {"use_karras_sigmas": True, "algorithm_type": "dpmsolver++", "solver_order": 2}),
    "pndm": ("PNDMScheduler", {}),  # what model_index.json names
}


def main():
    parser = argparse.ArgumentParser(description="diffusers ONNX pipeline timing (run with /work/venv-sd/bin/python)")
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "tiny-sd"))
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--scheduler", choices=sorted(SCHEDULERS), default="euler")
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--prompt", default="a red cube on a wooden table, studio light")
    parser.add_argument("--negative-prompt", default="blurry")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = default)")
    args = parser.parse_args()

    # the libraries print deprecation and progress messages on stdout: keep stdout for the JSON line
    real_stdout = sys.stdout
    sys.stdout = sys.stderr

    import numpy as np
    import onnxruntime as ort
    import torch
    import diffusers
    from diffusers import OnnxStableDiffusionPipeline

    if args.threads:
        torch.set_num_threads(args.threads)
    opts = ort.SessionOptions()
    if args.threads:
        opts.intra_op_num_threads = args.threads
    started = time.perf_counter()
    # provider_options={} works around diffusers 0.42 passing an empty list (which onnxruntime rejects
    # and then retries without) when none is given.
    pipe = OnnxStableDiffusionPipeline.from_pretrained(
        args.model, provider="CPUExecutionProvider", provider_options={}, sess_options=opts)
    load_seconds = time.perf_counter() - started
    pipe.set_progress_bar_config(disable=True)

    cls_name, overrides = SCHEDULERS[args.scheduler]
    cls = getattr(diffusers, cls_name)
    # built from the folder's scheduler_config.json itself, as the fixtures are (it carries clip_sample etc.)
    with open(os.path.join(args.model, "scheduler", "scheduler_config.json")) as f:
        scheduler = cls.from_config(json.load(f), **overrides)
    # The ONNX pipeline computes `numpy latents * scheduler.init_noise_sigma`, a TypeError when that is a
    # torch tensor (Euler, Euler ancestral): give those schedulers a float-valued property.
    prop = getattr(type(scheduler), "init_noise_sigma", None)
    if isinstance(prop, property):
        scheduler.__class__ = type(cls_name, (type(scheduler),), {
            "init_noise_sigma": property(lambda self: float(prop.fget(self)))})
    pipe.scheduler = scheduler

    # time spent inside the UNet session
    unet_time = [0.0]
    unet_call = pipe.unet.__call__.__func__

    class TimedUNet(type(pipe.unet)):
        def __call__(self, **kwargs):
            t0 = time.perf_counter()
            try:
                return unet_call(self, **kwargs)
            finally:
                unet_time[0] += time.perf_counter() - t0

    pipe.unet.__class__ = TimedUNet

    latents = np.random.default_rng(1234).standard_normal(
        (1, 4, args.height // 8, args.width // 8)).astype(np.float32)
    negative = args.negative_prompt if args.guidance > 1.0 else None

    def generate():
        return pipe(prompt=args.prompt, negative_prompt=negative, height=args.height, width=args.width,
                    num_inference_steps=args.steps, guidance_scale=args.guidance, latents=latents.copy(),
                    output_type="np", return_dict=False)[0]

    generate()  # warm-up: first-run allocations and kernel selection
    totals, unets = [], []
    for _ in range(args.runs):
        unet_time[0] = 0.0
        t0 = time.perf_counter()
        image = generate()
        totals.append(time.perf_counter() - t0)
        unets.append(unet_time[0])
    assert image.shape == (1, args.height, args.width, 3), image.shape

    median = statistics.median(totals)
    result = {
        "impl": "diffusers-onnx",
        "pipeline": "OnnxStableDiffusionPipeline",
        "diffusers": diffusers.__version__,
        "onnxruntime": ort.__version__,
        "model": os.path.relpath(os.path.abspath(args.model), ROOT),
        "width": args.width,
        "height": args.height,
        "steps": args.steps,
        "scheduler": args.scheduler,
        "scheduler_class": cls_name,
        "guidance_scale": args.guidance,
        "threads": args.threads or None,
        "runs": args.runs,
        "load_seconds": round(load_seconds, 4),
        "median_seconds_per_image": round(median, 6),
        "median_seconds_per_step": round(median / args.steps, 6),
        "median_unet_seconds_per_step": round(statistics.median(unets) / args.steps, 6),
        "min_seconds_per_image": round(min(totals), 6),
        "max_seconds_per_image": round(max(totals), 6),
    }
    sys.stdout = real_stdout
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
