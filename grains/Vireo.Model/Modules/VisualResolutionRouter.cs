using TorchSharp;
using TorchSharp.Modules;
using Vireo.Model.Configuration;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Modules;

/// <summary>Residual gating block: LayerNorm(x + Linear(4D, D)(GELU(Linear(D, 4D)(x)))).</summary>
internal sealed class GatingBlock : Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly LayerNorm norm;

    public GatingBlock(int width) : base("block")
    {
        fc1 = Linear(width, 4 * width);
        fc2 = Linear(4 * width, width);
        norm = LayerNorm(width);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return norm.forward(x.Plus(fc2.forward(functional.gelu(fc1.forward(x))))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// ViR (<c>vir.*</c>): pools a tile's 1024 features by cross-attention from one learned query, refines the
/// pooled vector with residual gating blocks and classifies it. Each tile is scored from its own features
/// alone, so a tile's probability never depends on what else is in the batch.
/// </summary>
public sealed class VisualResolutionRouter : Module<Tensor, Tensor>
{
    /// <summary>Index of the "can take 64 tokens" class in the router's two logits.</summary>
    public const int CompressClass = 1;

    private readonly Parameter query;
    private readonly LayerNorm input_norm;
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly ModuleList<GatingBlock> blocks = new();
    private readonly Linear head;
    private readonly int _heads;

    public VisualResolutionRouter(VisionConfig vision, RouterConfig config) : base("vir")
    {
        var d = vision.HiddenSize;
        _heads = vision.NumAttentionHeads;
        query = new Parameter(randn(1, 1, d) * 0.02f);
        input_norm = LayerNorm(d);
        q_proj = Linear(d, d);
        k_proj = Linear(d, d);
        v_proj = Linear(d, d);
        o_proj = Linear(d, d);
        for (var i = 0; i < config.NumGatingBlocks; i++) blocks.Add(new GatingBlock(d));
        head = Linear(d, 2);
        RegisterComponents();
    }

    /// <param name="features">[tiles, 1024, D].</param>
    /// <returns>Logits [tiles, 2]; softmax column <see cref="CompressClass"/> is the probability the tile can be compressed.</returns>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        long n = features.shape[0], t = features.shape[1], d = features.shape[2];
        var hd = d / _heads;
        var kv = input_norm.forward(features);
        var q = q_proj.forward(query.expand(n, 1, d)).reshape(n, 1, _heads, hd).transpose(1, 2);
        var k = k_proj.forward(kv).reshape(n, t, _heads, hd).transpose(1, 2);
        var v = v_proj.forward(kv).reshape(n, t, _heads, hd).transpose(1, 2);
        var pooled = o_proj.forward(functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, d));
        var x = pooled;
        foreach (var block in blocks) x = block.forward(x);
        return head.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>Probability per tile that it can take the 64-token path.</summary>
    public Tensor CompressProbability(Tensor features)
    {
        using var logits = forward(features);
        return functional.softmax(logits, -1)[.., CompressClass];
    }
}
