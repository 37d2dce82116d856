using TorchSharp;
using TorchSharp.Modules;
using Vireo.Model.Configuration;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Modules;

/// <summary>RMSNorm with a learned scale (<c>weight</c>), over the last dimension.</summary>
internal sealed class RmsNorm : Module<Tensor, Tensor>
{
    private readonly Parameter _weight;
    private readonly double _eps;

    public RmsNorm(long width, double eps) : base("norm")
    {
        _eps = eps;
        _weight = new Parameter(ones(width));
        register_parameter("weight", _weight);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var variance = x.pow(2).mean([-1], keepdim: true);
        return (x * rsqrt(variance + _eps) * _weight).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// A static key/value cache for greedy generation: one preallocated buffer per layer, written in place,
/// so decoding allocates nothing that grows with the sequence.
/// </summary>
public sealed class KvCache : IDisposable
{
    internal readonly Tensor[] Keys;
    internal readonly Tensor[] Values;

    public KvCache(LanguageConfig config, long batch, long capacity, Device device)
    {
        Capacity = capacity;
        Keys = new Tensor[config.NumHiddenLayers];
        Values = new Tensor[config.NumHiddenLayers];
        for (var i = 0; i < Keys.Length; i++)
        {
            Keys[i] = zeros([batch, config.NumKeyValueHeads, capacity, config.HeadDim], device: device);
            Values[i] = zeros([batch, config.NumKeyValueHeads, capacity, config.HeadDim], device: device);
        }
    }

    public long Capacity { get; }

    /// <summary>Positions already written.</summary>
    public long Length { get; internal set; }

    public void Dispose()
    {
        foreach (var t in Keys) t.Dispose();
        foreach (var t in Values) t.Dispose();
    }
}

/// <summary>Qwen3 attention: GQA, per-head RMSNorm on q and k, rotary embeddings, no biases.</summary>
internal sealed class Qwen3Attention : Module
{
    private readonly Linear _q;
    private readonly Linear _k;
    private readonly Linear _v;
    private readonly Linear _o;
    private readonly RmsNorm _qNorm;
    private readonly RmsNorm _kNorm;
    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;

    public Qwen3Attention(LanguageConfig c) : base("self_attn")
    {
        _heads = c.NumAttentionHeads;
        _kvHeads = c.NumKeyValueHeads;
        _headDim = c.HeadDim;
        _q = Linear(c.HiddenSize, _heads * _headDim, hasBias: false);
        _k = Linear(c.HiddenSize, _kvHeads * _headDim, hasBias: false);
        _v = Linear(c.HiddenSize, _kvHeads * _headDim, hasBias: false);
        _o = Linear(_heads * _headDim, c.HiddenSize, hasBias: false);
        _qNorm = new RmsNorm(_headDim, c.RmsNormEps);
        _kNorm = new RmsNorm(_headDim, c.RmsNormEps);
        register_module("q_proj", _q);
        register_module("k_proj", _k);
        register_module("v_proj", _v);
        register_module("o_proj", _o);
        register_module("q_norm", _qNorm);
        register_module("k_norm", _kNorm);
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = _qNorm.forward(_q.forward(x).reshape(b, t, _heads, _headDim)).transpose(1, 2);
        var k = _kNorm.forward(_k.forward(x).reshape(b, t, _kvHeads, _headDim)).transpose(1, 2);
        var v = _v.forward(x).reshape(b, t, _kvHeads, _headDim).transpose(1, 2);
        q = Rotary.Apply(q, cos, sin);
        k = Rotary.Apply(k, cos, sin);
        var causal = true;
        if (cache is not null)
        {
            var start = cache.Length;
            cache.Keys[layer].narrow(2, start, t).copy_(k);
            cache.Values[layer].narrow(2, start, t).copy_(v);
            k = cache.Keys[layer].narrow(2, 0, start + t);
            v = cache.Values[layer].narrow(2, 0, start + t);
            // A single new query attends to every cached position; a prefill from empty is plainly causal.
            causal = start == 0;
            if (!causal && t != 1) throw new NotSupportedException("Chunked prefill onto a non-empty cache is not supported.");
        }
        var groups = _heads / _kvHeads;
        if (groups > 1)
        {
            k = k.repeat_interleave(groups, 1);
            v = v.repeat_interleave(groups, 1);
        }
        var attended = functional.scaled_dot_product_attention(q, k, v, is_casual: causal);
        return _o.forward(attended.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope();
    }
}

internal static class Rotary
{
    /// <summary>rotate_half RoPE: x*cos + rotate_half(x)*sin, cos/sin shaped [t, head_dim].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = cat([-x2, x1], -1);
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }

    public static (Tensor Cos, Tensor Sin) Tables(long start, long length, int headDim, double theta, Device device)
    {
        using var scope = NewDisposeScope();
        var invFreq = pow(theta, -arange(0, headDim, 2, dtype: ScalarType.Float64, device: device) / headDim);
        var positions = arange(start, start + length, dtype: ScalarType.Float64, device: device);
        var freqs = outer(positions, invFreq);
        var emb = cat([freqs, freqs], -1);
        return (emb.cos().to(ScalarType.Float32).MoveToOuterDisposeScope(), emb.sin().to(ScalarType.Float32).MoveToOuterDisposeScope());
    }
}

/// <summary>SwiGLU MLP: down(silu(gate(x)) * up(x)).</summary>
internal sealed class Qwen3Mlp : Module<Tensor, Tensor>
{
    private readonly Linear _gate;
    private readonly Linear _up;
    private readonly Linear _down;

    public Qwen3Mlp(LanguageConfig c) : base("mlp")
    {
        _gate = Linear(c.HiddenSize, c.IntermediateSize, hasBias: false);
        _up = Linear(c.HiddenSize, c.IntermediateSize, hasBias: false);
        _down = Linear(c.IntermediateSize, c.HiddenSize, hasBias: false);
        register_module("gate_proj", _gate);
        register_module("up_proj", _up);
        register_module("down_proj", _down);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return _down.forward(functional.silu(_gate.forward(x)) * _up.forward(x)).MoveToOuterDisposeScope();
    }
}

internal sealed class Qwen3DecoderLayer : Module
{
    private readonly Qwen3Attention _attn;
    private readonly Qwen3Mlp _mlp;
    private readonly RmsNorm _inputNorm;
    private readonly RmsNorm _postNorm;

    public Qwen3DecoderLayer(LanguageConfig c) : base("layer")
    {
        _attn = new Qwen3Attention(c);
        _mlp = new Qwen3Mlp(c);
        _inputNorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        _postNorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        register_module("self_attn", _attn);
        register_module("mlp", _mlp);
        register_module("input_layernorm", _inputNorm);
        register_module("post_attention_layernorm", _postNorm);
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var h = x + _attn.Forward(_inputNorm.forward(x), cos, sin, cache, layer);
        return (h + _mlp.forward(_postNorm.forward(h))).MoveToOuterDisposeScope();
    }
}

/// <summary><c>language_model.model</c>: token embeddings, decoder layers, final norm.</summary>
internal sealed class Qwen3Model : Module
{
    private readonly ModuleList<Qwen3DecoderLayer> _layers = new();
    private readonly RmsNorm _norm;
    private readonly LanguageConfig _config;

    public Qwen3Model(LanguageConfig c) : base("model")
    {
        _config = c;
        EmbedTokens = Embedding(c.VocabSize, c.HiddenSize);
        for (var i = 0; i < c.NumHiddenLayers; i++) _layers.Add(new Qwen3DecoderLayer(c));
        _norm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        register_module("embed_tokens", EmbedTokens);
        register_module("layers", _layers);
        register_module("norm", _norm);
    }

    public Embedding EmbedTokens { get; }

    public Tensor Forward(Tensor embeds, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var start = cache?.Length ?? 0;
        var t = embeds.shape[1];
        if (cache is not null && start + t > cache.Capacity) throw new InvalidOperationException("KV cache is full.");
        var (cos, sin) = Rotary.Tables(start, t, _config.HeadDim, _config.RopeTheta, embeds.device);
        var h = embeds;
        for (var i = 0; i < _layers.Count; i++) h = _layers[i].Forward(h, cos, sin, cache, i);
        if (cache is not null) cache.Length = start + t;
        return _norm.forward(h).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Qwen3-style causal language model (<c>language_model.*</c>): RMSNorm, RoPE, grouped-query attention
/// with per-head q/k RMSNorm, SwiGLU MLP, and a KV cache for generation.
/// </summary>
public sealed class Qwen3LanguageModel : Module
{
    private readonly Qwen3Model _model;
    private readonly Linear _lmHead;

    public Qwen3LanguageModel(LanguageConfig config) : base("language_model")
    {
        Config = config;
        _model = new Qwen3Model(config);
        _lmHead = Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        register_module("model", _model);
        register_module("lm_head", _lmHead);
    }

    public LanguageConfig Config { get; }

    /// <summary>Token ids [b, t] → embeddings [b, t, H].</summary>
    public Tensor Embed(Tensor ids) => _model.EmbedTokens.forward(ids);

    /// <summary>Final hidden states [b, t, H] for input embeddings, appending to <paramref name="cache"/> when given.</summary>
    public Tensor Hidden(Tensor embeds, KvCache? cache = null) => _model.Forward(embeds, cache);

    /// <summary>Logits over the vocabulary for hidden states.</summary>
    public Tensor Logits(Tensor hidden) => _lmHead.forward(hidden);
}
