"""The Hugging Face side of `vireo bench model`.

Builds transformers' InternVLForConditionalGeneration at InternVL3.5's real shapes (InternViT-300M before Qwen3-1.7B or
Qwen3-8B) with random weights, in bfloat16 with sdpa attention, and times what Vireo's benchmark times on the same
shapes and prompts: the vision tower, prefill, the first token, and whole frames with generate. transformers has no
visual resolution router, so every tile takes 256 tokens. Prints progress, then one line of JSON.

    python3 infra/scripts/bench_model_hf.py --shape 8b --tiles 7 --batch 16 --new-tokens 64
"""

import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import InternVLConfig, InternVLForConditionalGeneration, InternVLVisionConfig, Qwen3Config

VISION = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
TEXT = {
    "2b": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16,
               num_key_value_heads=8, head_dim=128, tie_word_embeddings=True),
    "8b": dict(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32,
               num_key_value_heads=8, head_dim=128, tie_word_embeddings=False),
    # The benchmark's own check: the same tiles through a model of a few layers.
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, tie_word_embeddings=True),
}
TOKENS_PER_TILE = 256


def build(shape, image_token, device):
    vision = VISION if shape != "tiny" else dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=2,
                                                 intermediate_size=128)
    vision_config = InternVLVisionConfig(image_size=[448, 448], patch_size=[14, 14], attention_bias=True,
                                         use_qk_norm=False, layer_scale_init_value=0.1, layer_norm_eps=1e-6,
                                         norm_type="layer_norm", hidden_act="gelu", use_mean_pooling=True, **vision)
    text_config = Qwen3Config(vocab_size=151936, rms_norm_eps=1e-6, max_position_embeddings=40960,
                              rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
                              attention_bias=False, hidden_act="silu", **TEXT[shape])
    config = InternVLConfig(vision_config=vision_config, text_config=text_config, downsample_ratio=0.5,
                            image_token_id=image_token, vision_feature_layer=-1,
                            vision_feature_select_strategy="default")
    config._attn_implementation = "sdpa"
    torch.manual_seed(1)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = InternVLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model.to(device=device, dtype=torch.bfloat16).eval()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(run, runs, device):
    """Median milliseconds of the timed runs, after one untimed run."""
    run()
    sync(device)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", required=True, choices=sorted(TEXT))
    p.add_argument("--tiles", type=int, default=7)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--prefix", type=int, default=40)
    p.add_argument("--suffix", type=int, default=20)
    p.add_argument("--image-token", type=int, required=True)
    p.add_argument("--image-start", type=int, required=True)
    p.add_argument("--image-end", type=int, required=True)
    p.add_argument("--device", default="cuda")
    a = p.parse_args()
    device = torch.device(a.device)

    clock = time.perf_counter()
    model = build(a.shape, a.image_token, device)
    language = model.model.language_model
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}; "
          f"attention {model.config._attn_implementation}; built in {time.perf_counter() - clock:.1f} s", flush=True)

    # The same prompt as Vireo's benchmark: text ids, the image block, text ids.
    prompt = (list(range(1000, 1000 + a.prefix)) + [a.image_start] + [a.image_token] * (a.tiles * TOKENS_PER_TILE)
              + [a.image_end] + list(range(2000, 2000 + a.suffix)))
    frames = a.batch
    generator = torch.Generator(device=device).manual_seed(1)
    pixels = torch.randn(frames * a.tiles, 3, 448, 448, device=device, dtype=torch.bfloat16, generator=generator)
    one_pixels = pixels[: a.tiles]
    ids = torch.tensor([prompt] * frames, device=device)
    one_ids = ids[:1]
    result = {}

    with torch.inference_mode():
        vision = lambda px: model.model.vision_tower(pixel_values=px).last_hidden_state
        t_frame = timed(lambda: vision(one_pixels), a.runs, device)
        t_batch = timed(lambda: vision(pixels), a.runs, device)
        result["vision_tiles_per_s_frame"] = a.tiles / t_frame * 1000
        result["vision_tiles_per_s_batch"] = frames * a.tiles / t_batch * 1000
        print(f"vision: {result['vision_tiles_per_s_frame']:.0f} tiles/s at {a.tiles}, "
              f"{result['vision_tiles_per_s_batch']:.0f} at {frames * a.tiles}", flush=True)

        embeds = torch.randn(frames, len(prompt), language.config.hidden_size, device=device, dtype=torch.bfloat16,
                             generator=generator)

        def prefill():
            out = language(inputs_embeds=embeds, use_cache=True)
            return model.lm_head(out.last_hidden_state[:, -1]).argmax(-1).cpu()

        t_prefill = timed(prefill, a.runs, device)
        result["prefill_tokens_per_s"] = frames * len(prompt) / t_prefill * 1000
        print(f"prefill of {frames} frames: {frames * len(prompt)} tokens in {t_prefill:.1f} ms = "
              f"{result['prefill_tokens_per_s'] / 1000:.1f} k tokens/s", flush=True)

        def generate(input_ids, px, new_tokens):
            return model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), pixel_values=px,
                                  max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)

        t_first_1 = timed(lambda: generate(one_ids, one_pixels, 1), a.runs, device)
        t_first = timed(lambda: generate(ids, pixels, 1), a.runs, device)
        t_whole_1 = timed(lambda: generate(one_ids, one_pixels, a.new_tokens), a.runs, device)
        t_whole = timed(lambda: generate(ids, pixels, a.new_tokens), a.runs, device)
        result["ttft_ms_1"] = t_first_1
        result["first_token_frames_per_s"] = frames / t_first * 1000
        result["frames_per_s_1"] = 1000 / t_whole_1
        result["frames_per_s"] = frames / t_whole * 1000
        result["decode_step_ms"] = (t_whole - t_first) / (a.new_tokens - 1)
        print(f"generate: first token {t_first_1:.1f} ms for 1 frame, {result['first_token_frames_per_s']:.2f} frames/s "
              f"at {frames}; whole frames {result['frames_per_s_1']:.2f} frames/s at 1, {result['frames_per_s']:.2f} "
              f"at {frames}; decode step {result['decode_step_ms']:.2f} ms", flush=True)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
