using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Modules;

/// <summary>
/// <c>nn.MultiheadAttention</c> (batch first) with its parameter names: a packed <c>in_proj_weight</c>/<c>in_proj_bias</c>
/// for query, key and value, and <c>out_proj</c>.
/// </summary>
internal sealed class PackedMultiheadAttention : Module
{
    private readonly Parameter in_proj_weight;
    private readonly Parameter in_proj_bias;
    private readonly Linear out_proj;
    private readonly int _heads;

    public PackedMultiheadAttention(int width, int heads, string name) : base(name)
    {
        _heads = heads;
        in_proj_weight = new Parameter(randn(3 * width, width) * (1.0 / Math.Sqrt(width)));
        in_proj_bias = new Parameter(zeros(3 * width));
        out_proj = Linear(width, width);
        RegisterComponents();
    }

    /// <param name="query">[n, q, D].</param>
    /// <param name="keyValue">[n, t, D]: keys and values are the same tensor here.</param>
    public Tensor Forward(Tensor query, Tensor keyValue)
    {
        using var scope = NewDisposeScope();
        long n = query.shape[0], lq = query.shape[1], t = keyValue.shape[1], d = query.shape[2];
        var hd = d / _heads;
        var w = in_proj_weight.chunk(3, 0);
        var b = in_proj_bias.chunk(3, 0);
        var q = functional.linear(query, w[0], b[0]).reshape(n, lq, _heads, hd).transpose(1, 2);
        var k = functional.linear(keyValue, w[1], b[1]).reshape(n, t, _heads, hd).transpose(1, 2);
        var v = functional.linear(keyValue, w[2], b[2]).reshape(n, t, _heads, hd).transpose(1, 2);
        var attended = functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, lq, d);
        return out_proj.forward(attended).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// InternVL3.5-Flash's attention pooling before the gate (<c>pooling_before_gating.*</c>): one learned query attends to
/// a tile's 1024 features, and its output attends again, each step followed by a LayerNorm. As in the published model
/// code, the second attention and norm serve the second, third and fourth steps; <c>attn3</c>/<c>norm3</c> and
/// <c>attn4</c>/<c>norm4</c> are in the checkpoint and loaded, but not used.
/// </summary>
internal sealed class FlashAttentionPooling : Module<Tensor, Tensor>
{
    private readonly Parameter query_token;
    private readonly PackedMultiheadAttention attn1;
    private readonly PackedMultiheadAttention attn2;
    private readonly PackedMultiheadAttention attn3;
    private readonly PackedMultiheadAttention attn4;
    private readonly LayerNorm norm1;
    private readonly LayerNorm norm2;
    private readonly LayerNorm norm3;
    private readonly LayerNorm norm4;

    public FlashAttentionPooling(int width, int heads) : base("pooling_before_gating")
    {
        query_token = new Parameter(randn(1, width));
        attn1 = new PackedMultiheadAttention(width, heads, "attn1");
        attn2 = new PackedMultiheadAttention(width, heads, "attn2");
        attn3 = new PackedMultiheadAttention(width, heads, "attn3");
        attn4 = new PackedMultiheadAttention(width, heads, "attn4");
        norm1 = LayerNorm(width);
        norm2 = LayerNorm(width);
        norm3 = LayerNorm(width);
        norm4 = LayerNorm(width);
        RegisterComponents();
    }

    /// <param name="features">[tiles, 1024, D]: each tile pooled on its own.</param>
    /// <returns>[tiles, D].</returns>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var q = query_token.unsqueeze(0).expand(features.shape[0], -1, -1);
        var x = norm1.forward(attn1.Forward(q, features));
        for (var step = 0; step < 3; step++) x = norm2.forward(attn2.Forward(x, features));
        return x.squeeze(1).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// InternVL3.5-Flash's gate (<c>gating.*</c>): four residual blocks x + LayerNorm(Linear(GELU(Linear(x)))), each a
/// <c>nn.Sequential</c> (0 Linear(D, 4D), 3 Linear(4D, D), 5 LayerNorm), then LayerNorm and Linear(D, 2) (<c>gate.0</c>, <c>gate.1</c>).
/// </summary>
internal sealed class FlashGating : Module<Tensor, Tensor>
{
    private readonly Sequential block1;
    private readonly Sequential block2;
    private readonly Sequential block3;
    private readonly Sequential block4;
    private readonly Sequential gate;

    public FlashGating(int width) : base("gating")
    {
        block1 = Block(width);
        block2 = Block(width);
        block3 = Block(width);
        block4 = Block(width);
        gate = Sequential(("0", LayerNorm(width)), ("1", Linear(width, 2)));
        RegisterComponents();
    }

    private static Sequential Block(int width) => Sequential(
        ("0", Linear(width, 4 * width)),
        ("1", GELU()),
        ("2", Identity()),
        ("3", Linear(4 * width, width)),
        ("4", Identity()),
        ("5", LayerNorm(width)));

    /// <returns>Logits [tiles, 2].</returns>
    public override Tensor forward(Tensor pooled)
    {
        using var scope = NewDisposeScope();
        var x = pooled;
        foreach (var block in new[] { block1, block2, block3, block4 }) x = x.Plus(block.forward(x));
        return gate.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// InternVL3.5-Flash's Visual Resolution Router: attention pooling of a tile's features, then the gate. Softmax
/// column <see cref="CompressClass"/> is the probability that the tile can take the 64-token path. Each tile is scored
/// from its own features alone (the published model thresholds at a quantile over the batch as well; Vireo does not,
/// so a tile's decision never depends on its neighbours).
/// </summary>
public sealed class FlashRouter : nn.Module
{
    /// <summary>Heads of the pooling attention, fixed in the published model whatever the encoder's width.</summary>
    public const int PoolingHeads = 16;

    /// <summary>The gate's "compress" class: the published model takes the 64-token path when column 0 is high.</summary>
    public const int CompressClass = 0;

    public FlashRouter(int width) : base("flash_router")
    {
        pooling_before_gating = new FlashAttentionPooling(width, PoolingHeads);
        gating = new FlashGating(width);
        RegisterComponents();
    }

    private readonly FlashAttentionPooling pooling_before_gating;
    private readonly FlashGating gating;

    /// <summary>The checkpoint prefixes of the router's tensors.</summary>
    public static readonly IReadOnlyList<string> CheckpointPrefixes = ["pooling_before_gating.", "gating."];

    /// <summary>Logits [tiles, 2] for features [tiles, 1024, D].</summary>
    public Tensor Logits(Tensor features)
    {
        using var pooled = pooling_before_gating.forward(features);
        return gating.forward(pooled);
    }

    /// <summary>Probability per tile that it can take the 64-token path.</summary>
    public Tensor CompressProbability(Tensor features)
    {
        using var logits = Logits(features);
        using var probabilities = functional.softmax(logits.to(ScalarType.Float32), -1);
        return probabilities[.., CompressClass].clone();
    }

    internal IEnumerable<(string Name, nn.Module Module)> Parts() =>
        [("pooling_before_gating", pooling_before_gating), ("gating", gating)];
}
