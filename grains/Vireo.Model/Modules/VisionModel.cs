using TorchSharp;
using TorchSharp.Modules;
using Vireo.Model.Configuration;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Modules;

/// <summary>InternViT embeddings: 14-px patch convolution, a class token and learned position embeddings.</summary>
internal sealed class VisionEmbeddings : Module<Tensor, Tensor>
{
    private readonly Parameter _classEmbedding;
    private readonly Conv2d _patchEmbedding;
    private readonly Parameter _positionEmbedding;

    public VisionEmbeddings(VisionConfig config, int imageSize, int patchSize) : base("embeddings")
    {
        var d = config.HiddenSize;
        var patches = (imageSize / patchSize) * (imageSize / patchSize);
        _classEmbedding = new Parameter(randn(1, 1, d) * 0.02f);
        _patchEmbedding = Conv2d(3, d, patchSize, stride: patchSize);
        _positionEmbedding = new Parameter(randn(1, patches + 1, d) * 0.02f);
        register_parameter("class_embedding", _classEmbedding);
        register_module("patch_embedding", _patchEmbedding);
        register_parameter("position_embedding", _positionEmbedding);
    }

    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var patches = _patchEmbedding.forward(pixels).flatten(2).transpose(1, 2);
        var cls = _classEmbedding.expand(patches.shape[0], 1, -1);
        return (cat([cls, patches], 1) + _positionEmbedding).MoveToOuterDisposeScope();
    }
}

/// <summary>InternViT attention: fused qkv projection and an output projection.</summary>
internal sealed class VisionAttention : Module<Tensor, Tensor>
{
    private readonly Linear _qkv;
    private readonly Linear _proj;
    private readonly int _heads;

    public VisionAttention(VisionConfig config) : base("attn")
    {
        _heads = config.NumAttentionHeads;
        _qkv = Linear(config.HiddenSize, 3 * config.HiddenSize, hasBias: config.QkvBias);
        _proj = Linear(config.HiddenSize, config.HiddenSize);
        register_module("qkv", _qkv);
        register_module("proj", _proj);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], d = x.shape[2];
        var qkv = _qkv.forward(x).reshape(b, n, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4);
        var attended = functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]);
        return _proj.forward(attended.transpose(1, 2).reshape(b, n, d)).MoveToOuterDisposeScope();
    }
}

/// <summary>InternViT MLP: fc1, GELU, fc2.</summary>
internal sealed class VisionMlp : Module<Tensor, Tensor>
{
    private readonly Linear _fc1;
    private readonly Linear _fc2;

    public VisionMlp(VisionConfig config) : base("mlp")
    {
        _fc1 = Linear(config.HiddenSize, config.IntermediateSize);
        _fc2 = Linear(config.IntermediateSize, config.HiddenSize);
        register_module("fc1", _fc1);
        register_module("fc2", _fc2);
    }

    public override Tensor forward(Tensor x)
    {
        using var hidden = functional.gelu(_fc1.forward(x));
        return _fc2.forward(hidden);
    }
}

/// <summary>Pre-norm InternViT block with layer scale: x + ls1*attn(norm1(x)), then x + ls2*mlp(norm2(x)).</summary>
internal sealed class VisionEncoderLayer : Module<Tensor, Tensor>
{
    private readonly VisionAttention _attn;
    private readonly VisionMlp _mlp;
    private readonly LayerNorm _norm1;
    private readonly LayerNorm _norm2;
    private readonly Parameter _ls1;
    private readonly Parameter _ls2;

    public VisionEncoderLayer(VisionConfig config) : base("layer")
    {
        _attn = new VisionAttention(config);
        _mlp = new VisionMlp(config);
        _norm1 = LayerNorm(config.HiddenSize, config.LayerNormEps);
        _norm2 = LayerNorm(config.HiddenSize, config.LayerNormEps);
        _ls1 = new Parameter(full(config.HiddenSize, (float)config.InitializerFactor));
        _ls2 = new Parameter(full(config.HiddenSize, (float)config.InitializerFactor));
        register_module("attn", _attn);
        register_module("mlp", _mlp);
        register_module("norm1", _norm1);
        register_module("norm2", _norm2);
        register_parameter("ls1", _ls1);
        register_parameter("ls2", _ls2);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x + _attn.forward(_norm1.forward(x)) * _ls1;
        return (h + _mlp.forward(_norm2.forward(h)) * _ls2).MoveToOuterDisposeScope();
    }
}

/// <summary>InternViT encoder stack.</summary>
internal sealed class VisionEncoder : Module<Tensor, Tensor>
{
    private readonly ModuleList<VisionEncoderLayer> _layers = new();

    public VisionEncoder(VisionConfig config) : base("encoder")
    {
        for (var i = 0; i < config.NumHiddenLayers; i++) _layers.Add(new VisionEncoderLayer(config));
        register_module("layers", _layers);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        foreach (var layer in _layers) h = layer.forward(h);
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// InternViT-style vision encoder (<c>vision_model.*</c>). Returns the last hidden state without the class token:
/// [tiles, 1024, D] for 448-px tiles and 14-px patches.
/// </summary>
public sealed class VisionModel : Module<Tensor, Tensor>
{
    private readonly VisionEmbeddings _embeddings;
    private readonly VisionEncoder _encoder;

    public VisionModel(ModelConfig config) : base("vision_model")
    {
        _embeddings = new VisionEmbeddings(config.VisionConfig, config.ImageSize, config.PatchSize);
        _encoder = new VisionEncoder(config.VisionConfig);
        register_module("embeddings", _embeddings);
        register_module("encoder", _encoder);
    }

    /// <param name="pixels">[tiles, 3, 448, 448], normalised.</param>
    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var hidden = _encoder.forward(_embeddings.forward(pixels));
        return hidden[.., 1..].MoveToOuterDisposeScope();
    }
}
