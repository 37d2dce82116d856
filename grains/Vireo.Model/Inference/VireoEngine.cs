using TorchSharp;
using Vireo.Model.Imaging;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Inference;

/// <summary>
/// The whole model at inference: <see cref="VireoVision"/> and <see cref="VireoLanguage"/> over one
/// <see cref="VireoModel"/>. Deterministic: the same frame gives the same text and routes alone or in any batch.
/// </summary>
public sealed class VireoEngine : IDisposable
{
    private readonly VireoModel _model;

    public VireoEngine(VireoModel model, Device device)
    {
        _model = model;
        Vision = new VireoVision(model.VisionSide, device, ownsTower: false);
        Language = new VireoLanguage(model.LanguageSide, device, ownsTower: false);
    }

    public VireoModel Model => _model;

    /// <summary>The vision side (tiles, ViT, ViR, the chosen connector).</summary>
    public VireoVision Vision { get; }

    /// <summary>The language side (prompt, prefill, greedy decoding).</summary>
    public VireoLanguage Language { get; }

    /// <summary>Loads a model directory (model.safetensors + config.json) onto a device ("auto", "cpu", "cuda").</summary>
    public static VireoEngine Load(string directory, string device = "auto")
    {
        var dev = TorchRuntime.ResolveDevice(device);
        var engine = new VireoEngine(VireoCheckpoint.Load(directory, dtype: TorchRuntime.DefaultDType(directory, device)), dev);
        // Once on the device: moving the model afterwards would part the fused weights.
        engine.Model.LanguageModel.FuseForInference();
        return engine;
    }

    /// <summary>
    /// Analyses a batch of RGB24 frames: <see cref="Encode"/>, then <see cref="DescribeBatch"/> for all of them, each frame
    /// cut into at most <paramref name="maxTiles"/> tiles (the checkpoint's own limit when null).
    /// </summary>
    public IReadOnlyList<FrameAnalysis> Analyze(IReadOnlyList<RgbFrame> frames, RoutingPolicy routing, int maxNewTokens = 96, string? question = null, int? maxTiles = null)
    {
        var encoded = Encode(frames.Select(f => new FrameInput(f, routing, MaxTiles: maxTiles)).ToArray());
        var answers = DescribeBatch(encoded.Select(e => new LanguageInput(e.Tiles.Select(t => t.Compressed).ToArray(), e.VisualTokens, question)).ToArray(), maxNewTokens);
        return encoded.Zip(answers, (e, a) => new FrameAnalysis(a.Text, e.Tiles, e.VisualTokensBefore, e.VisualTokensAfter, e.VisionMilliseconds, a.Milliseconds, a.TextConfidence, a.ShapeConfidences)).ToArray();
    }

    /// <inheritdoc cref="VireoVision.Encode"/>
    public IReadOnlyList<EncodedFrame> Encode(IReadOnlyList<FrameInput> frames) => Vision.Encode(frames);

    /// <inheritdoc cref="VireoLanguage.Describe"/>
    public LanguageAnswer Describe(IReadOnlyList<bool> compressedTiles, float[] visualTokens, int maxNewTokens = 96, string? question = null) =>
        Language.Describe(compressedTiles, visualTokens, maxNewTokens, question);

    /// <inheritdoc cref="VireoLanguage.DescribeBatch"/>
    public IReadOnlyList<LanguageAnswer> DescribeBatch(IReadOnlyList<LanguageInput> frames, int maxNewTokens = 96) =>
        Language.DescribeBatch(frames, maxNewTokens);

    public void Dispose() => _model.Dispose();
}
