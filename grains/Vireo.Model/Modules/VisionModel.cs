using TorchSharp;
using TorchSharp.Modules;
using Vireo.Model.Configuration;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Modules;

/// <summary>
/// A small convolutional stem beside the patch convolution (Vireo's own, not InternViT's): 3×3 at stride 2 over
/// the pixels, 3×3 at half resolution, then a 9×9 convolution at stride 7 (one output per patch, overlapping its
/// neighbours by a pixel at half resolution), each with GELU between. Its features are added to the patch
/// embeddings, so a glyph about one patch tall that straddles patch edges reaches each patch through a nonlinear
/// view of its surroundings rather than one linear map of the patch's own pixels.
/// </summary>
internal sealed class VisionConvStem : Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly Conv2d conv3;

    public VisionConvStem(int channels, int hiddenSize, int patchSize) : base("stem")
    {
        // ModelConfig.Validate has checked that the patch size is even.
        var stride = patchSize / 2;
        conv1 = Conv2d(3, channels, 3, stride: 2, padding: 1);
        conv2 = Conv2d(channels, channels, 3, padding: 1);
        conv3 = Conv2d(channels, hiddenSize, stride + 2, stride: stride, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var h = functional.gelu(conv1.forward(pixels));
        h = functional.gelu(conv2.forward(h));
        return conv3.forward(h).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// InternViT embeddings: 14-px patch convolution, a class token and learned position embeddings, with Vireo's
/// optional <see cref="VisionConvStem"/> added to the patch convolution.
/// </summary>
internal sealed class VisionEmbeddings : Module<Tensor, Tensor>
{
    private readonly Parameter class_embedding;
    private readonly Conv2d patch_embedding;
    private readonly Parameter position_embedding;
    private readonly VisionConvStem? stem;

    public VisionEmbeddings(VisionConfig config, int imageSize, int patchSize) : base("embeddings")
    {
        var d = config.HiddenSize;
        var patches = (imageSize / patchSize) * (imageSize / patchSize);
        class_embedding = new Parameter(randn(1, 1, d) * 0.02f);
        patch_embedding = Conv2d(3, d, patchSize, stride: patchSize);
        position_embedding = new Parameter(randn(1, patches + 1, d) * 0.02f);
        if (config.ConvStemChannels > 0) stem = new VisionConvStem(config.ConvStemChannels, d, patchSize);
        RegisterComponents();
    }

    /// <summary>
    /// Restarts the position embeddings as 2D sine-cosine codes of each patch's row and column, so attention
    /// between neighbouring patches (which glyphs need) is easy from the first step.
    /// </summary>
    public void UseSineCosinePositions()
    {
        using var _ = no_grad();
        var side = (long)Math.Round(Math.Sqrt(position_embedding.shape[1] - 1));
        position_embedding.copy_(SineCosine2D((int)side, (int)position_embedding.shape[2]));
    }

    /// <summary>
    /// [1, side*side + 1, d]: zeros for the class token, then per patch (row-major) sines and cosines of its row
    /// in the first half of the channels and of its column in the second, at d/4 geometric frequencies.
    /// </summary>
    internal static Tensor SineCosine2D(int side, int d)
    {
        var quarter = d / 4;
        var values = new float[(side * side + 1) * d];
        for (var row = 0; row < side; row++)
            for (var col = 0; col < side; col++)
            {
                var offset = (1 + row * side + col) * d;
                for (var i = 0; i < quarter; i++)
                {
                    var omega = Math.Pow(10000, -(double)i / quarter);
                    values[offset + i] = (float)Math.Sin(row * omega);
                    values[offset + quarter + i] = (float)Math.Cos(row * omega);
                    values[offset + 2 * quarter + i] = (float)Math.Sin(col * omega);
                    values[offset + 3 * quarter + i] = (float)Math.Cos(col * omega);
                }
            }
        return tensor(values, [1, side * side + 1, d]);
    }

    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var grid = patch_embedding.forward(pixels);
        if (stem is not null) grid = grid.Plus(stem.forward(pixels));
        var patches = grid.flatten(2).transpose(1, 2);
        var cls = class_embedding.expand(patches.shape[0], 1, -1);
        return cat([cls, patches], 1).Plus(position_embedding).MoveToOuterDisposeScope();
    }
}

/// <summary>InternViT attention: fused qkv projection and an output projection.</summary>
internal sealed class VisionAttention : Module<Tensor, Tensor>
{
    private readonly Linear qkv;
    private readonly Linear proj;
    private readonly int _heads;

    public VisionAttention(VisionConfig config) : base("attn")
    {
        _heads = config.NumAttentionHeads;
        qkv = Linear(config.HiddenSize, 3 * config.HiddenSize, hasBias: config.QkvBias);
        proj = Linear(config.HiddenSize, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>
    /// When set, a float32 input's attention (scores, softmax and weighted sum) is computed in this type and
    /// cast back, as autocast does: on CUDA, bfloat16 lets the fused flash kernel run on tensor cores.
    /// </summary>
    public ScalarType? ComputeType { get; set; }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], d = x.shape[2];
        var packed = qkv.forward(x).reshape(b, n, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4);
        var attended = ComputeType is { } low && x.dtype == ScalarType.Float32
            ? functional.scaled_dot_product_attention(packed[0].to(low), packed[1].to(low), packed[2].to(low)).to(ScalarType.Float32)
            : functional.scaled_dot_product_attention(packed[0], packed[1], packed[2]);
        return proj.forward(attended.transpose(1, 2).reshape(b, n, d)).MoveToOuterDisposeScope();
    }
}

/// <summary>InternViT MLP: fc1, GELU, fc2.</summary>
internal sealed class VisionMlp : Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;

    public VisionMlp(VisionConfig config) : base("mlp")
    {
        fc1 = Linear(config.HiddenSize, config.IntermediateSize);
        fc2 = Linear(config.IntermediateSize, config.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var hidden = functional.gelu(fc1.forward(x));
        return fc2.forward(hidden);
    }
}

/// <summary>Pre-norm InternViT block with layer scale: x + ls1*attn(norm1(x)), then x + ls2*mlp(norm2(x)).</summary>
internal sealed class VisionEncoderLayer : Module<Tensor, Tensor>
{
    private readonly VisionAttention attn;
    private readonly VisionMlp mlp;
    private readonly LayerNorm norm1;
    private readonly LayerNorm norm2;
    private readonly Parameter ls1;
    private readonly Parameter ls2;

    public VisionAttention Attention => attn;

    public VisionEncoderLayer(VisionConfig config) : base("layer")
    {
        attn = new VisionAttention(config);
        mlp = new VisionMlp(config);
        norm1 = LayerNorm(config.HiddenSize, config.LayerNormEps);
        norm2 = LayerNorm(config.HiddenSize, config.LayerNormEps);
        ls1 = new Parameter(full(config.HiddenSize, (float)config.InitializerFactor));
        ls2 = new Parameter(full(config.HiddenSize, (float)config.InitializerFactor));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(attn.forward(norm1.forward(x)) * ls1);
        return h.Plus(mlp.forward(norm2.forward(h)) * ls2).MoveToOuterDisposeScope();
    }
}

/// <summary>InternViT encoder stack.</summary>
internal sealed class VisionEncoder : Module<Tensor, Tensor>
{
    private readonly ModuleList<VisionEncoderLayer> layers = new();

    public IEnumerable<VisionEncoderLayer> Layers => layers;

    public VisionEncoder(VisionConfig config) : base("encoder")
    {
        for (var i = 0; i < config.NumHiddenLayers; i++) layers.Add(new VisionEncoderLayer(config));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        foreach (var layer in layers) h = layer.forward(h);
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// InternViT-style vision encoder (<c>vision_model.*</c>). Returns the last hidden state without the class token:
/// [tiles, 1024, D] for 448-px tiles and 14-px patches.
/// </summary>
public sealed class VisionModel : Module<Tensor, Tensor>
{
    private readonly VisionEmbeddings embeddings;
    private readonly VisionEncoder encoder;

    public VisionModel(ModelConfig config) : base("vision_model")
    {
        embeddings = new VisionEmbeddings(config.VisionConfig, config.ImageSize, config.PatchSize);
        encoder = new VisionEncoder(config.VisionConfig);
        RegisterComponents();
    }

    /// <inheritdoc cref="VisionEmbeddings.UseSineCosinePositions"/>
    public void UseSineCosinePositions() => embeddings.UseSineCosinePositions();

    /// <summary>
    /// Computes every encoder layer's attention in <paramref name="type"/> (for example bfloat16 on CUDA) while the
    /// weights, the projections and the residual stream stay float32; <c>null</c> computes it in the input's type.
    /// </summary>
    public void ComputeAttentionIn(ScalarType? type)
    {
        foreach (var layer in encoder.Layers) layer.Attention.ComputeType = type;
    }

    /// <param name="pixels">[tiles, 3, 448, 448], normalised.</param>
    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var hidden = encoder.forward(embeddings.forward(pixels));
        return hidden[.., 1..].MoveToOuterDisposeScope();
    }
}
