using TorchSharp;
using TorchSharp.Modules;
using Vireo.Model.Configuration;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Modules;

/// <summary>RMSNorm with a learned scale (<c>weight</c>), over the last dimension.</summary>
internal sealed class RmsNorm : Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(long width, double eps) : base("norm")
    {
        _eps = eps;
        weight = new Parameter(ones(width));
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor x) => Apply(x, weight, _eps);

    /// <summary>RMSNorm of <paramref name="x"/> over its last dimension, scaled by <paramref name="scale"/> (broadcast).</summary>
    public static Tensor Apply(Tensor x, Tensor scale, double eps)
    {
        using var scope = NewDisposeScope();
        // In float32 whatever the model's dtype, then back, as Qwen3's reference does.
        var x32 = x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
        // An explicit Scalar, alive until libtorch has read it (an implicit one can be finalised during the call).
        using var epsilon = eps.ToScalar();
        var normed = x32 * rsqrt(x32.square().mean([-1], keepdim: true).Plus(epsilon));
        return (scale * (x.dtype == ScalarType.Float32 ? normed : normed.to(x.dtype))).MoveToOuterDisposeScope();
    }

    public double Eps => _eps;
}

/// <summary>Weights of several projections as slices of one matrix, so one product computes them all.</summary>
internal static class FusedProjections
{
    /// <summary>
    /// Concatenates the weights of <paramref name="parts"/> (by rows) into one tensor and makes each part's weight a view
    /// of its rows: the parts keep their names and loading, and no second copy of the weights exists.
    /// </summary>
    public static Tensor Fuse(params Linear[] parts)
    {
        using var _ = no_grad();
        var fused = cat(parts.Select(p => (Tensor)p.weight!).ToArray(), 0).DetachFromDisposeScope();
        var row = 0L;
        foreach (var part in parts)
        {
            var rows = part.weight!.shape[0];
            var old = part.weight;
            part.weight = new Parameter(fused.narrow(0, row, rows), requires_grad: false);
            old.Dispose();
            row += rows;
        }
        return fused;
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

    public KvCache(LanguageConfig config, long batch, long capacity, Device device, ScalarType dtype = ScalarType.Float32)
    {
        Capacity = capacity;
        Keys = new Tensor[config.NumHiddenLayers];
        Values = new Tensor[config.NumHiddenLayers];
        for (var i = 0; i < Keys.Length; i++)
        {
            Keys[i] = zeros([batch, config.NumKeyValueHeads, capacity, config.HeadDim], dtype: dtype, device: device);
            Values[i] = zeros([batch, config.NumKeyValueHeads, capacity, config.HeadDim], dtype: dtype, device: device);
        }
    }

    private KvCache(Tensor[] keys, Tensor[] values, long capacity)
    {
        Keys = keys;
        Values = values;
        Capacity = capacity;
    }

    public long Capacity { get; }

    /// <summary>
    /// An empty cache over rows [<paramref name="firstRow"/>, + <paramref name="rows"/>) of this one, from column
    /// <paramref name="firstColumn"/> on: what is written to it is written here. Disposing it leaves this cache whole.
    /// </summary>
    public KvCache Window(long firstRow, long rows, long firstColumn) =>
        new(Keys.Select(k => k.narrow(0, firstRow, rows).narrow(2, firstColumn, Capacity - firstColumn).DetachFromDisposeScope()).ToArray(),
            Values.Select(v => v.narrow(0, firstRow, rows).narrow(2, firstColumn, Capacity - firstColumn).DetachFromDisposeScope()).ToArray(),
            Capacity - firstColumn);

    /// <summary>Positions already written.</summary>
    public long Length { get; internal set; }

    /// <summary>Keeps only the given rows (an int64 index on the cache's device), in that order.</summary>
    public void KeepRows(Tensor rows)
    {
        for (var i = 0; i < Keys.Length; i++)
        {
            Replace(ref Keys[i], Keys[i].index_select(0, rows));
            Replace(ref Values[i], Values[i].index_select(0, rows));
        }
    }

    private static void Replace(ref Tensor slot, Tensor value)
    {
        var old = slot;
        slot = value.DetachFromDisposeScope();
        old.Dispose();
    }

    public void Dispose()
    {
        foreach (var t in Keys) t.Dispose();
        foreach (var t in Values) t.Dispose();
    }
}

/// <summary>Qwen3 attention: GQA, per-head RMSNorm on q and k, rotary embeddings, no biases.</summary>
internal sealed class Qwen3Attention : Module
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly RmsNorm q_norm;
    private readonly RmsNorm k_norm;
    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;
    private Tensor? _qkv;
    private Tensor? _qkNorm;

    public Qwen3Attention(LanguageConfig c) : base("self_attn")
    {
        _heads = c.NumAttentionHeads;
        _kvHeads = c.NumKeyValueHeads;
        _headDim = c.HeadDim;
        q_proj = Linear(c.HiddenSize, _heads * _headDim, hasBias: false);
        k_proj = Linear(c.HiddenSize, _kvHeads * _headDim, hasBias: false);
        v_proj = Linear(c.HiddenSize, _kvHeads * _headDim, hasBias: false);
        o_proj = Linear(_heads * _headDim, c.HiddenSize, hasBias: false);
        q_norm = new RmsNorm(_headDim, c.RmsNormEps);
        k_norm = new RmsNorm(_headDim, c.RmsNormEps);
        RegisterComponents();
    }

    /// <summary>
    /// For inference: q, k and v come from one product, and q and k are normalised and rotated together, so a step
    /// launches fewer operations. The weights stay the same tensors.
    /// </summary>
    public void Fuse()
    {
        _qkv = FusedProjections.Fuse(q_proj, k_proj, v_proj);
        using var _ = no_grad();
        _qkNorm = cat([q_norm.Weight.expand(_heads, _headDim), k_norm.Weight.expand(_kvHeads, _headDim)], 0).DetachFromDisposeScope();
    }

    /// <param name="x">[b, t, H].</param>
    /// <param name="cos">Rotary cosines, [t, head_dim] for positions shared by every row or [b, 1, t, head_dim].</param>
    /// <param name="sin">Rotary sines, shaped as <paramref name="cos"/>.</param>
    /// <param name="mask">
    /// For a decode step, which cached keys each row may see, bool [b, 1, 1, keys]; null sees them all. A prefill
    /// from an empty cache is plainly causal.
    /// </param>
    /// <param name="cache">The cache to append to, or null.</param>
    /// <param name="layer">This layer's index in the cache.</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        Tensor q, k, v;
        if (_qkv is not null)
        {
            var qkv = functional.linear(x, _qkv).reshape(b, t, _heads + 2 * _kvHeads, _headDim);
            var qk = Rotary.Apply(RmsNorm.Apply(qkv.narrow(2, 0, _heads + _kvHeads), _qkNorm!, q_norm.Eps).transpose(1, 2), cos, sin);
            q = qk.narrow(1, 0, _heads);
            k = qk.narrow(1, _heads, _kvHeads);
            v = qkv.narrow(2, _heads + _kvHeads, _kvHeads).transpose(1, 2);
        }
        else
        {
            q = Rotary.Apply(q_norm.forward(q_proj.forward(x).reshape(b, t, _heads, _headDim)).transpose(1, 2), cos, sin);
            k = Rotary.Apply(k_norm.forward(k_proj.forward(x).reshape(b, t, _kvHeads, _headDim)).transpose(1, 2), cos, sin);
            v = v_proj.forward(x).reshape(b, t, _kvHeads, _headDim).transpose(1, 2);
        }
        var start = 0L;
        if (cache is not null)
        {
            start = cache.Length;
            cache.Keys[layer].narrow(2, start, t).copy_(k);
            cache.Values[layer].narrow(2, start, t).copy_(v);
            k = cache.Keys[layer].narrow(2, 0, start + t);
            v = cache.Values[layer].narrow(2, 0, start + t);
            if (start > 0 && t != 1) throw new NotSupportedException("Chunked prefill onto a non-empty cache is not supported.");
            if (start == 0 && mask is not null) throw new NotSupportedException("A prefill is plainly causal; a mask applies to decode steps.");
        }
        var groups = _heads / _kvHeads;
        Tensor attended;
        if (start > 0)
        {
            // One new query a row: the query heads that share a key/value head become that head's queries, so the
            // cache is read as it is instead of being copied once per group.
            attended = functional.scaled_dot_product_attention(q.reshape(b, _kvHeads, groups, _headDim), k, v, attn_mask: mask)
                .reshape(b, _heads, 1, _headDim);
        }
        else
        {
            if (groups > 1)
            {
                k = k.repeat_interleave(groups, 1);
                v = v.repeat_interleave(groups, 1);
            }
            attended = functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        }
        return o_proj.forward(attended.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope();
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
        return (x * cos).Plus(rotated * sin).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// cos and sin in <paramref name="dtype"/>, computed in float32 as Qwen3's reference computes them: [t, head_dim]
    /// for positions [t], or [b, 1, t, head_dim] for positions [b, t] (each row at its own positions).
    /// </summary>
    public static (Tensor Cos, Tensor Sin) Tables(Tensor positions, int headDim, double theta, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var device = positions.device;
        // Explicit Scalars, alive until libtorch has read them (an implicit one can be finalised during the call).
        using Scalar zero = 0L.ToScalar(), width = ((long)headDim).ToScalar(), two = 2L.ToScalar(), @base = ((float)theta).ToScalar();
        var exponents = arange(zero, width, two, dtype: ScalarType.Int64, device: device).to(ScalarType.Float32) / width;
        var invFreq = pow(full(1, @base, dtype: ScalarType.Float32, device: device), exponents).reciprocal();
        var freqs = positions.to(ScalarType.Float32).unsqueeze(-1) * invFreq;
        var emb = cat([freqs, freqs], -1);
        if (positions.dim() == 2) emb = emb.unsqueeze(1);
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>cos and sin [length, head_dim] for the positions start, start + 1, ….</summary>
    public static (Tensor Cos, Tensor Sin) Tables(long start, long length, int headDim, double theta, Device device, ScalarType dtype = ScalarType.Float32)
    {
        using Scalar first = start.ToScalar(), end = (start + length).ToScalar();
        using var positions = arange(first, end, dtype: ScalarType.Int64, device: device);
        return Tables(positions, headDim, theta, dtype);
    }
}

/// <summary>SwiGLU MLP: down(silu(gate(x)) * up(x)).</summary>
internal sealed class Qwen3Mlp : Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    public Qwen3Mlp(LanguageConfig c) : base("mlp")
    {
        gate_proj = Linear(c.HiddenSize, c.IntermediateSize, hasBias: false);
        up_proj = Linear(c.HiddenSize, c.IntermediateSize, hasBias: false);
        down_proj = Linear(c.IntermediateSize, c.HiddenSize, hasBias: false);
        RegisterComponents();
    }

    private Tensor? _gateUp;

    /// <summary>For inference: the gate and up projections come from one product.</summary>
    public void Fuse() => _gateUp = FusedProjections.Fuse(gate_proj, up_proj);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (_gateUp is null)
            return down_proj.forward(functional.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
        var both = functional.linear(x, _gateUp).chunk(2, -1);
        return down_proj.forward(functional.silu(both[0]) * both[1]).MoveToOuterDisposeScope();
    }
}

internal sealed class Qwen3DecoderLayer : Module
{
    private readonly Qwen3Attention self_attn;
    private readonly Qwen3Mlp mlp;
    private readonly RmsNorm input_layernorm;
    private readonly RmsNorm post_attention_layernorm;

    public Qwen3DecoderLayer(LanguageConfig c) : base("layer")
    {
        self_attn = new Qwen3Attention(c);
        mlp = new Qwen3Mlp(c);
        input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        RegisterComponents();
    }

    public void Fuse()
    {
        self_attn.Fuse();
        mlp.Fuse();
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache, layer));
        return h.Plus(mlp.forward(post_attention_layernorm.forward(h))).MoveToOuterDisposeScope();
    }
}

/// <summary><c>language_model.model</c>: token embeddings, decoder layers, final norm.</summary>
internal sealed class Qwen3Model : Module
{
    private readonly ModuleList<Qwen3DecoderLayer> layers = new();
    private readonly RmsNorm norm;
    private readonly LanguageConfig _config;

    public Qwen3Model(LanguageConfig c) : base("model")
    {
        _config = c;
        embed_tokens = Embedding(c.VocabSize, c.HiddenSize);
        for (var i = 0; i < c.NumHiddenLayers; i++) layers.Add(new Qwen3DecoderLayer(c));
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        RegisterComponents();
    }

    private readonly Embedding embed_tokens;

    public Embedding EmbedTokens => embed_tokens;

    public void Fuse()
    {
        foreach (var layer in layers) layer.Fuse();
    }

    /// <inheritdoc cref="Qwen3LanguageModel.Hidden"/>
    public Tensor Forward(Tensor embeds, KvCache? cache, Tensor? positions, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var start = cache?.Length ?? 0;
        var t = embeds.shape[1];
        if (cache is not null && start + t > cache.Capacity) throw new InvalidOperationException("KV cache is full.");
        var (cos, sin) = positions is null
            ? Rotary.Tables(start, t, _config.HeadDim, _config.RopeTheta, embeds.device, embeds.dtype)
            : Rotary.Tables(positions, _config.HeadDim, _config.RopeTheta, embeds.dtype);
        var h = embeds;
        for (var i = 0; i < layers.Count; i++) h = layers[i].Forward(h, cos, sin, mask, cache, i);
        if (cache is not null) cache.Length = start + t;
        return norm.forward(h).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Qwen3-style causal language model (<c>language_model.*</c>): RMSNorm, RoPE, grouped-query attention
/// with per-head q/k RMSNorm, SwiGLU MLP, and a KV cache for generation.
/// </summary>
public sealed class Qwen3LanguageModel : Module
{
    private readonly Qwen3Model model;
    private readonly Linear? lm_head;

    /// <summary>The name of the output projection, absent from a tied model (whose checkpoint may still carry it).</summary>
    public const string LmHeadName = "language_model.lm_head.weight";

    public Qwen3LanguageModel(LanguageConfig config) : base("language_model")
    {
        Config = config;
        model = new Qwen3Model(config);
        // A tied model projects with the embedding matrix itself.
        if (!config.TieWordEmbeddings) lm_head = Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    public LanguageConfig Config { get; }

    /// <summary>
    /// Prepares the model for inference: each layer's projections that read the same input become one product (the
    /// weights stay where they are, as views). Call once, after the weights are loaded and the model is on its device
    /// (moving it afterwards parts the fused weights); training keeps the plain layers.
    /// </summary>
    public void FuseForInference()
    {
        if (_fused) return;
        model.Fuse();
        _fused = true;
    }

    private bool _fused;

    /// <summary>Token ids [b, t] → embeddings [b, t, H].</summary>
    public Tensor Embed(Tensor ids) => model.EmbedTokens.forward(ids);

    /// <summary>Final hidden states [b, t, H] for input embeddings, appending to <paramref name="cache"/> when given.</summary>
    /// <param name="embeds">[b, t, H].</param>
    /// <param name="cache">The cache to append to, or null.</param>
    /// <param name="positions">
    /// Each row's rotary positions [b, t] when rows sit at different positions (left-padded batches); null places
    /// every row at the cache's length onwards.
    /// </param>
    /// <param name="mask">For a decode step, which cached keys each row may see, bool [b, 1, 1, keys]; null sees them all.</param>
    public Tensor Hidden(Tensor embeds, KvCache? cache = null, Tensor? positions = null, Tensor? mask = null) =>
        model.Forward(embeds, cache, positions, mask);

    /// <summary>Logits over the vocabulary for hidden states.</summary>
    public Tensor Logits(Tensor hidden) =>
        lm_head is not null ? lm_head.forward(hidden) : functional.linear(hidden, model.EmbedTokens.weight!);
}
