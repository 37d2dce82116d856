"""Reference outputs for Vireo's InternVL3.5(-Flash) implementation, from PyTorch and transformers.

Builds random-weight models with transformers' InternVLForConditionalGeneration (InternViT + Qwen3) and, for the
Flash parts that transformers 5.17 does not have (mlp2 and the Visual Resolution Router), modules written here from
the published InternVL3.5-Flash model code (modeling_internvl_chat.py): mlp2 as its nn.Sequential, the router as its
CrossAttentionPooling (attn1/norm1, then attn2/norm2 three times) and Gating. Saves each model in both parameter
layouts (InternVL's remote-code names, transformers' native names) with InternVL's config.json, in bfloat16, and
records beside it, in float32 and bfloat16: the vision features, mlp1 and mlp2 tokens, the router's probabilities and
decisions, the final hidden states and logits over the prompt, and 32 greedy tokens. Also writes the tokenizer's ids
for a fixed set of strings, from Hugging Face tokenizers.

    python3 tests/parity/make_reference.py --out DIR --tokenizer TOKENIZER_DIR [--shapes tiny,1b,2b] [--device cuda]

Each DIR/<shape>-<layout>/ is a checkpoint directory that `vireo verify-checkpoint` checks.
"""

import argparse
import json
import math
import os
import random

import torch
import torch.nn as nn
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer
from transformers import InternVLConfig, InternVLForConditionalGeneration, InternVLVisionConfig, Qwen3Config

# InternVL adds these to Qwen3's vocabulary, in this order (ids 151669...).
INTERNVL_TOKENS = ["<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>", "</box>"]
SYSTEM_MESSAGE = "你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位联合开发的多模态大语言模型。"
QUESTION = "Describe this frame in one sentence, then transcribe any text in it."
GREEDY_TOKENS = 32
LOGIT_COLUMNS = 256

SHAPES = {
    # A few MB: committed under tests/ and checked on every CI run.
    "tiny": dict(vision=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
                 text=dict(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                           num_key_value_heads=1, head_dim=4),
                 grid=(2, 1)),
    # InternVL3.5-1B: InternViT-300M and Qwen3-0.6B.
    "1b": dict(vision=dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
               text=dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                         num_key_value_heads=8, head_dim=128),
               grid=(3, 2)),
    # InternVL3.5-2B: InternViT-300M and Qwen3-1.7B.
    "2b": dict(vision=dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
               text=dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16,
                         num_key_value_heads=8, head_dim=128),
               grid=(3, 2)),
}


class Mlp2(nn.Sequential):
    """InternVL3.5-Flash's mlp2: pixel shuffle at 0.25 (16 D channels) to the language model's width."""

    def __init__(self, vit, llm):
        super().__init__(nn.LayerNorm(vit * 16), nn.Linear(vit * 16, llm * 2), nn.GELU(), nn.Dropout(0.1),
                         nn.Linear(llm * 2, llm * 2), nn.GELU(), nn.Dropout(0.1), nn.Linear(llm * 2, llm))


class CrossAttentionPooling(nn.Module):
    def __init__(self, dim, num_heads=16):
        super().__init__()
        self.query_token = nn.Parameter(torch.randn(1, dim))
        for i in range(1, 5):
            setattr(self, f"attn{i}", nn.MultiheadAttention(embed_dim=dim, num_heads=num_heads, batch_first=True))
            setattr(self, f"norm{i}", nn.LayerNorm(dim))

    def forward(self, tiles):
        """tiles: [n, 1024, D], each tile pooled on its own (the published model pools tile by tile too)."""
        query = self.query_token.unsqueeze(0).expand(tiles.shape[0], -1, -1)
        out = self.norm1(self.attn1(query, tiles, tiles)[0])
        for _ in range(3):
            out = self.norm2(self.attn2(out, tiles, tiles)[0])
        return out.squeeze(1)


class Gating(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()

        def block():
            return nn.Sequential(nn.Linear(hidden_size, 4 * hidden_size), nn.GELU(), nn.Dropout(0.1),
                                 nn.Linear(4 * hidden_size, hidden_size), nn.Dropout(0.1), nn.LayerNorm(hidden_size))

        self.block1, self.block2, self.block3, self.block4 = block(), block(), block(), block()
        self.gate = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, 2))

    def forward(self, x):
        for b in (self.block1, self.block2, self.block3, self.block4):
            x = x + b(x)
        return torch.softmax(self.gate(x), dim=-1)


def pixel_shuffle(x, scale):
    """InternVL's pixel_shuffle, ps_version v2, on [n, w, h, c]."""
    n, w, h, c = x.size()
    x = x.view(n, w, int(h * scale), int(c / scale)).permute(0, 2, 1, 3).contiguous()
    x = x.view(n, int(h * scale), int(w * scale), int(c / (scale * scale))).permute(0, 2, 1, 3).contiguous()
    return x


def tokenizer_with_internvl_tokens(directory):
    tok = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    present = {t.content for t in tok.get_added_tokens_decoder().values()}
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in INTERNVL_TOKENS if t not in present])
    return tok


def prompt_ids(tok, tokens_per_tile):
    image = "<img>" + "".join("<IMG_CONTEXT>" * n for n in tokens_per_tile) + "</img>"
    text = (f"<|im_start|>system\n{SYSTEM_MESSAGE}<|im_end|>\n"
            f"<|im_start|>user\n{image}\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n")
    return tok.encode(text, add_special_tokens=False).ids


def reinit(module, generator):
    """Weights that give decisive logits (unit-scale activations, O(sqrt(H)) logits), rounded to bfloat16."""
    for name, p in module.named_parameters():
        with torch.no_grad():
            if p.dim() >= 2:
                fan_in = p.shape[-1] if "embed" not in name and "position" not in name else 1
                if "patch_embedding" in name or "projection" in name:
                    fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(fan_in))
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=generator) * 0.02)
            elif "lambda" in name or name.endswith("ls1") or name.endswith("ls2"):
                p.fill_(0.1)
            elif "query_token" in name or "cls_token" in name:
                p.copy_(torch.randn(p.shape, generator=generator))
            else:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=generator))
            p.copy_(p.to(torch.bfloat16).to(p.dtype))


def build(shape, seed):
    s = SHAPES[shape]
    vision = InternVLVisionConfig(image_size=[448, 448], patch_size=[14, 14], attention_bias=True, use_qk_norm=False,
                                  layer_scale_init_value=0.1, layer_norm_eps=1e-6, norm_type="layer_norm",
                                  hidden_act="gelu", use_mean_pooling=True, **s["vision"])
    text = Qwen3Config(vocab_size=151936, rms_norm_eps=1e-6, max_position_embeddings=40960,
                       rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
                       tie_word_embeddings=True, attention_bias=False, hidden_act="silu", **s["text"])
    config = InternVLConfig(vision_config=vision, text_config=text, downsample_ratio=0.5,
                            image_token_id=151671, vision_feature_layer=-1, vision_feature_select_strategy="default")
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config).eval()
    head_dim = s["text"]["head_dim"]
    inv_freq = model.model.language_model.rotary_emb.inv_freq
    expected = 1.0 / (1_000_000.0 ** (torch.arange(0, head_dim, 2).float() / head_dim))
    assert torch.allclose(inv_freq.cpu().float(), expected), "rope_theta did not reach the model"
    vit, llm = s["vision"]["hidden_size"], s["text"]["hidden_size"]
    flash = nn.ModuleDict(dict(mlp2=Mlp2(vit, llm), pooling_before_gating=CrossAttentionPooling(vit),
                               gating=Gating(vit))).eval()
    g = torch.Generator().manual_seed(seed)
    reinit(model, g)
    reinit(flash, g)
    with torch.no_grad():
        flash.gating.gate[1].weight.mul_(8)
    return config, model, flash


def native_state(model, flash):
    state = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}  # tied to the embeddings
    for k, v in flash.state_dict().items():
        parts = k.split(".")
        if parts[0] == "mlp2":
            name = "model.mlp2." + {"0": "norm", "1": "dense1", "4": "dense2", "7": "dense3"}[parts[1]] + "." + parts[2]
            state[name] = v
        elif parts[0] == "pooling_before_gating" and len(parts) > 2 and parts[2].startswith("in_proj_"):
            for which, chunk in zip(("query", "key", "value"), v.chunk(3, 0)):
                state[f"model.pooling_before_gating.{parts[1]}.{which}.{parts[2][len('in_proj_'):]}"] = chunk
        elif parts[0] == "pooling_before_gating":
            state["model." + k] = v
        elif parts[1] == "gate":
            state["model.gating." + ("gate_norm" if parts[2] == "0" else "gate_proj") + "." + parts[3]] = v
        else:
            state[f"model.gating.{parts[1]}." + {"0": "dense_in", "3": "dense_out", "5": "norm"}[parts[2]] + "." + parts[3]] = v
    return {k: v.contiguous() for k, v in state.items()}


def remote_state(model, flash):
    """InternVL's remote-code names, as its conversion script maps them (the inverse)."""
    out = {}
    qkv = {}
    for k, v in model.state_dict().items():
        if k == "lm_head.weight":
            continue
        if k.startswith("model.language_model."):
            out["language_model.model." + k[len("model.language_model."):]] = v
        elif k.startswith("model.multi_modal_projector."):
            rest = k[len("model.multi_modal_projector."):]
            idx = {"layer_norm": "0", "linear_1": "1", "linear_2": "3"}[rest.split(".")[0]]
            out[f"mlp1.{idx}.{rest.split('.')[-1]}"] = v
        elif k == "model.vision_tower.embeddings.cls_token":
            out["vision_model.embeddings.class_embedding"] = v
        elif k == "model.vision_tower.embeddings.position_embeddings":
            out["vision_model.embeddings.position_embedding"] = v
        elif k.startswith("model.vision_tower.embeddings.patch_embeddings.projection."):
            out["vision_model.embeddings.patch_embedding." + k.split(".")[-1]] = v
        elif k.startswith("model.vision_tower.encoder.layer."):
            parts = k.split(".")
            layer, tail = parts[4], ".".join(parts[5:])
            base = f"vision_model.encoder.layers.{layer}."
            if tail.split(".")[0] == "attention" and tail.split(".")[1] in ("q_proj", "k_proj", "v_proj"):
                qkv.setdefault((layer, tail.split(".")[-1]), {})[tail.split(".")[1]] = v
                continue
            tail = (tail.replace("attention.projection_layer", "attn.proj").replace("layernorm_before", "norm1")
                    .replace("layernorm_after", "norm2").replace("lambda_1", "ls1").replace("lambda_2", "ls2"))
            out[base + tail] = v
        else:
            raise ValueError(k)
    for (layer, kind), parts in qkv.items():
        out[f"vision_model.encoder.layers.{layer}.attn.qkv.{kind}"] = torch.cat(
            [parts["q_proj"], parts["k_proj"], parts["v_proj"]], 0)
    for k, v in flash.state_dict().items():
        out[k] = v
    return {k: v.contiguous() for k, v in out.items()}


def config_json(config, layout, threshold):
    v, t = config.vision_config, config.text_config
    vision = dict(hidden_size=v.hidden_size, num_hidden_layers=v.num_hidden_layers,
                  num_attention_heads=v.num_attention_heads, intermediate_size=v.intermediate_size,
                  layer_norm_eps=v.layer_norm_eps, hidden_act="gelu", norm_type="layer_norm")
    text = dict(architectures=["Qwen3ForCausalLM"], model_type="qwen3", vocab_size=t.vocab_size,
                hidden_size=t.hidden_size, intermediate_size=t.intermediate_size,
                num_hidden_layers=t.num_hidden_layers, num_attention_heads=t.num_attention_heads,
                num_key_value_heads=t.num_key_value_heads, head_dim=t.head_dim, rms_norm_eps=t.rms_norm_eps,
                rope_theta=1_000_000, max_position_embeddings=t.max_position_embeddings, tie_word_embeddings=True,
                attention_bias=False, hidden_act="silu", torch_dtype="bfloat16")
    flash = dict(flash_mode=True, flash_relative_threshold=0.0, flash_absolute_threshold=threshold)
    if layout == "native":
        vision.update(architectures=["InternVLVisionModel"], model_type="internvl_vision", image_size=[448, 448],
                      patch_size=[14, 14], attention_bias=True, use_qk_norm=False, layer_scale_init_value=0.1)
        return dict(architectures=["InternVLForConditionalGeneration"], model_type="internvl", downsample_ratio=0.5,
                    image_token_id=151671, vision_feature_layer=-1, vision_feature_select_strategy="default",
                    vision_config=vision, text_config=text, **flash)
    vision.update(architectures=["InternVisionModel"], model_type="intern_vit_6b", image_size=448, patch_size=14,
                  qkv_bias=True, qk_normalization=False, initializer_factor=0.1)
    return dict(architectures=["InternVLChatModel"], model_type="internvl_chat", downsample_ratio=0.5,
                force_image_size=448, dynamic_image_size=True, min_dynamic_patch=1, max_dynamic_patch=12,
                use_thumbnail=True, ps_version="v2", select_layer=-1, template="internvl2_5",
                vision_config=vision, llm_config=text, **flash)


def pixels(tiles, seed):
    """A fixed image, as tiles of bytes: smooth gradients, bars and noise. Pixel values are (byte - 128) / 64."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(448).view(1, 1, 448, 1).float()
    x = torch.arange(448).view(1, 1, 1, 448).float()
    t = torch.arange(tiles).view(tiles, 1, 1, 1).float()
    c = torch.arange(3).view(1, 3, 1, 1).float()
    base = 128 + 60 * torch.sin(x / (17 + 5 * t) + c) + 40 * torch.cos(y / (23 + 3 * c) - t)
    bars = ((x // (8 + 4 * t)) % 2) * 30 * (c == (t % 3)).float()
    noise = torch.randint(-20, 21, (tiles, 3, 448, 448), generator=g).float()
    return (base + bars + noise).clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def run(model, flash, px, tok, threshold, dtype, device, columns):
    model = model.to(device=device, dtype=dtype)
    flash = flash.to(device=device, dtype=dtype)
    values = ((px.float() - 128) / 64).to(device=device, dtype=dtype)
    inner = model.model
    hidden = inner.vision_tower(pixel_values=values).last_hidden_state[:, 1:, :]
    side = int(hidden.shape[1] ** 0.5)
    grid = hidden.reshape(hidden.shape[0], side, side, -1)
    mlp1 = inner.multi_modal_projector(pixel_shuffle(grid, 0.5).reshape(hidden.shape[0], -1, hidden.shape[-1] * 4))
    mlp2 = flash.mlp2(pixel_shuffle(grid, 0.25).reshape(hidden.shape[0], -1, hidden.shape[-1] * 16))
    probs = flash.gating(flash.pooling_before_gating(hidden))[:, 0].float()
    if threshold is None:
        return dict(router_probability=probs.cpu())
    decisions = probs >= threshold
    visual = torch.cat([mlp2[i] if decisions[i] else mlp1[i] for i in range(hidden.shape[0])], 0)
    ids = prompt_ids(tok, [64 if d else 256 for d in decisions.tolist()])
    ids_t = torch.tensor([ids], device=device)
    embeds = inner.language_model.get_input_embeddings()(ids_t)
    mask = ids_t[0] == 151671
    embeds[0, mask] = visual.to(embeds.dtype)
    lm = inner.language_model
    out = lm(inputs_embeds=embeds, use_cache=True)
    final = out.last_hidden_state[0]
    logits = model.lm_head(final).float()
    cache = out.past_key_values
    greedy = []
    nxt = logits[-1].argmax()
    for _ in range(GREEDY_TOKENS):
        greedy.append(int(nxt))
        step = lm(inputs_embeds=lm.get_input_embeddings()(nxt.view(1, 1)), past_key_values=cache, use_cache=True)
        cache = step.past_key_values
        nxt = model.lm_head(step.last_hidden_state[0, -1]).float().argmax()
    return dict(vision_features=hidden.float().cpu(), mlp1_tokens=mlp1.float().cpu(), mlp2_tokens=mlp2.float().cpu(),
                router_probability=probs.cpu(), router_decision=decisions.to(torch.uint8).cpu(),
                prompt_ids=torch.tensor(ids, dtype=torch.int64), final_hidden=final.float().cpu(),
                logits_columns=logits[:, columns].cpu(), logits_last=logits[-1].cpu(),
                greedy_ids=torch.tensor(greedy, dtype=torch.int64))


def tokenizer_strings(count, seed):
    rng = random.Random(seed)
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?'\"()-_/\\@#$%^&*+=<>[]{}|~`",
        "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从",
        "日本語のテキストとカタカナ한국어 문장입니다",
        "😀😃😄😁😆😅🤣😂🙂🙃😉😊😇🥰😍🤩😘👍🏽👩‍👩‍👧‍👦🇫🇷🇯🇵❤️✨🔥",
        "e\u0301a\u0300o\u0302n\u0303u\u0308c\u0327 Å Ω ﬁ ﬀ ½ ² Ⅻ ﹏ ｆｕｌｌｗｉｄｔｈ",
        "0123456789",
        " \t\n\r\u00a0\u3000",
    ]
    specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<img>", "</img>", "<IMG_CONTEXT>", "<think>", "</think>", "<box>"]
    fixed = ["", " ", "  ", "\n", "\n\n", " \n ", "hello world", "Hello, World!", "1234567890", "3.14159", "1,000,000",
             "   leading", "trailing   ", "tabs\tand\nnewlines\r\n", "naïve café", "e\u0301", "中文和English混合",
             "<|im_start|>user\nhi<|im_end|>", "<img><IMG_CONTEXT><IMG_CONTEXT></img>", "don't you'll I'M",
             "ＡＢＣ１２３", "👩‍💻 coding", "ﬁne", "x" * 300, " " * 40, "\n" * 12, "2024-12-04T15:00:00Z"]
    out = list(fixed)
    while len(out) < count:
        kind = rng.random()
        n = rng.randint(1, 40)
        if kind < 0.15:
            s = "".join(rng.choice(pools[rng.randrange(len(pools))]) for _ in range(n))
        elif kind < 0.3:
            s = "".join(rng.choice(pools[0] + pools[5] + pools[6]) for _ in range(n))
        elif kind < 0.45:
            s = "".join(rng.choice(pools[1] + pools[0]) for _ in range(n))
        elif kind < 0.55:
            s = "".join(rng.choice(pools[3] + " ") for _ in range(n))
        elif kind < 0.65:
            s = "".join(rng.choice(pools[4] + pools[0]) for _ in range(n))
        elif kind < 0.75:
            s = "".join(rng.choice(pools[5] + " .,") for _ in range(n))
        elif kind < 0.85:
            s = "".join(rng.choice(pools[6] + "ab") for _ in range(n))
        else:
            parts = [rng.choice(specials) if rng.random() < 0.4 else
                     "".join(rng.choice(pools[rng.randrange(len(pools))]) for _ in range(rng.randint(0, 8)))
                     for _ in range(rng.randint(1, 6))]
            s = "".join(parts)
        out.append(s)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", required=True, help="folder with Qwen3's tokenizer.json")
    ap.add_argument("--shapes", default="tiny,1b,2b")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--strings", type=int, default=2500)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tok = tokenizer_with_internvl_tokens(args.tokenizer)
    assert tok.token_to_id("<IMG_CONTEXT>") == 151671, tok.token_to_id("<IMG_CONTEXT>")
    strings = tokenizer_strings(args.strings, seed=11)
    with open(os.path.join(args.out, "tokenizer_reference.json"), "w", encoding="utf-8") as f:
        json.dump(dict(tokenizers_version=__import__("tokenizers").__version__, added_tokens=INTERNVL_TOKENS,
                       strings=strings, ids=[tok.encode(s, add_special_tokens=False).ids for s in strings]),
                  f, ensure_ascii=False)
    for shape in args.shapes.split(","):
        config, model, flash = build(shape, seed=7)
        cols, rows = SHAPES[shape]["grid"]
        px = pixels(cols * rows + 1, seed=3)
        columns = torch.randperm(151936, generator=torch.Generator().manual_seed(5))[:LOGIT_COLUMNS]
        columns = torch.cat([columns, torch.tensor([151645, 151669, 151670, 151671])])
        # The router's threshold: midway across the widest gap between tiles' float32 probabilities, so that some
        # tiles are compressed and some not, none of them near the line.
        device = "cpu" if shape == "tiny" else args.device
        probs = sorted(run(model, flash, px, tok, None, torch.float32, device, columns)["router_probability"].tolist())
        gaps = [(probs[i + 1] - probs[i], (probs[i + 1] + probs[i]) / 2) for i in range(len(probs) - 1)]
        threshold = max(gaps)[1] if gaps else 0.5
        results = {}
        for dtype, name in ((torch.float32, "float32"), (torch.bfloat16, "bfloat16")):
            if shape == "tiny" and dtype == torch.bfloat16:
                continue
            r = run(model, flash, px, tok, threshold, dtype, device, columns)
            results.update({f"{name}.{k}": v.contiguous() for k, v in r.items()})
            print(f"{shape} {name}: tiles={px.shape[0]} decisions={r['router_decision'].tolist()} "
                  f"prompt={len(r['prompt_ids'])} greedy={r['greedy_ids'][:8].tolist()}...", flush=True)
        model = model.float().cpu()
        flash = flash.float().cpu()
        for layout, state in (("native", native_state(model, flash)), ("remote", remote_state(model, flash))):
            d = os.path.join(args.out, f"{shape}-{layout}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(config_json(config, layout, threshold), f, indent=2)
            bf16 = {k: v.to(torch.bfloat16) for k, v in state.items()}
            if shape == "2b" and layout == "remote":
                names = sorted(bf16)
                half = len(names) // 2
                shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
                for file, keys in shards.items():
                    save_file({k: bf16[k] for k in keys}, os.path.join(d, file), metadata={"format": "pt"})
                with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                    json.dump(dict(metadata={}, weight_map={k: file for file, keys in shards.items() for k in keys}), f)
            else:
                save_file(bf16, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
            save_file({"pixel_bytes": px, "logit_columns": columns.to(torch.int64), **results},
                      os.path.join(d, "reference.safetensors"))
            with open(os.path.join(d, "reference.json"), "w") as f:
                json.dump(dict(shape=shape, layout=layout, dtypes=[k for k in ("float32", "bfloat16") if f"{k}.greedy_ids" in results],
                               router_threshold=threshold, image_context_id=151671, question=QUESTION, system_message=SYSTEM_MESSAGE,
                               pixel_values="(pixel_bytes - 128) / 64", torch=torch.__version__,
                               transformers=__import__("transformers").__version__), f, indent=2, ensure_ascii=False)
        del model, flash
        torch.cuda.empty_cache() if torch.cuda.is_available() else None


if __name__ == "__main__":
    main()
