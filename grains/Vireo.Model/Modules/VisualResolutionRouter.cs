using TorchSharp;
using TorchSharp.Modules;
using Vireo.Model.Configuration;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Modules;

/// <summary>Residual gating block: LayerNorm(x + Linear(4D, D)(GELU(Linear(D, 4D)(x)))).</summary>
internal sealed class GatingBlock : Module<Tensor, Tensor>
{
    private readonly Linear _fc1;
    private readonly Linear _fc2;
    private readonly LayerNorm _norm;

    public GatingBlock(int width) : base("block")
    {
        _fc1 = Linear(width, 4 * width);
        _fc2 = Linear(4 * width, width);
        _norm = LayerNorm(width);
        register_module("fc1", _fc1);
        register_module("fc2", _fc2);
        register_module("norm", _norm);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return _norm.forward(x + _fc2.forward(functional.gelu(_fc1.forward(x)))).MoveToOuterDisposeScope();
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

    private readonly Parameter _query;
    private readonly LayerNorm _inputNorm;
    private readonly Linear _qProj;
    private readonly Linear _kProj;
    private readonly Linear _vProj;
    private readonly Linear _oProj;
    private readonly ModuleList<GatingBlock> _blocks = new();
    private readonly Linear _head;
    private readonly int _heads;

    public VisualResolutionRouter(VisionConfig vision, RouterConfig config) : base("vir")
    {
        var d = vision.HiddenSize;
        _heads = vision.NumAttentionHeads;
        _query = new Parameter(randn(1, 1, d) * 0.02f);
        _inputNorm = LayerNorm(d);
        _qProj = Linear(d, d);
        _kProj = Linear(d, d);
        _vProj = Linear(d, d);
        _oProj = Linear(d, d);
        for (var i = 0; i < config.NumGatingBlocks; i++) _blocks.Add(new GatingBlock(d));
        _head = Linear(d, 2);
        register_parameter("query", _query);
        register_module("input_norm", _inputNorm);
        register_module("q_proj", _qProj);
        register_module("k_proj", _kProj);
        register_module("v_proj", _vProj);
        register_module("o_proj", _oProj);
        register_module("blocks", _blocks);
        register_module("head", _head);
    }

    /// <param name="features">[tiles, 1024, D].</param>
    /// <returns>Logits [tiles, 2]; softmax column <see cref="CompressClass"/> is the probability the tile can be compressed.</returns>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        long n = features.shape[0], t = features.shape[1], d = features.shape[2];
        var hd = d / _heads;
        var kv = _inputNorm.forward(features);
        var q = _qProj.forward(_query.expand(n, 1, d)).reshape(n, 1, _heads, hd).transpose(1, 2);
        var k = _kProj.forward(kv).reshape(n, t, _heads, hd).transpose(1, 2);
        var v = _vProj.forward(kv).reshape(n, t, _heads, hd).transpose(1, 2);
        var pooled = _oProj.forward(functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, d));
        var x = pooled;
        foreach (var block in _blocks) x = block.forward(x);
        return _head.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>Probability per tile that it can take the 64-token path.</summary>
    public Tensor CompressProbability(Tensor features)
    {
        using var logits = forward(features);
        return functional.softmax(logits, -1)[.., CompressClass];
    }
}
