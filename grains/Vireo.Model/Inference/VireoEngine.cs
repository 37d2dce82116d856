using System.Diagnostics;
using TorchSharp;
using Vireo.Model.Imaging;
using Vireo.Model.Modules;
using Vireo.Model.Text;
using Vireo.Model.Training;
using static TorchSharp.torch;

namespace Vireo.Model.Inference;

/// <summary>How tiles are routed between the 256-token and the 64-token connector.</summary>
public enum RoutingMode
{
    /// <summary>ViR decides per tile: compress when the tile's own probability reaches the threshold.</summary>
    Auto,

    /// <summary>No compression: every tile gets 256 tokens.</summary>
    Off,

    /// <summary>Every tile gets 64 tokens.</summary>
    AllCompressed,

    /// <summary>A baseline for evaluation: each tile compressed with a fixed probability, seeded.</summary>
    Random,
}

/// <summary>Routing for one call.</summary>
/// <param name="Mode">The routing rule.</param>
/// <param name="Threshold">For <see cref="RoutingMode.Auto"/>: compress when P(compress) ≥ this; null uses the config's.</param>
/// <param name="RandomCompressFraction">For <see cref="RoutingMode.Random"/>: the chance a tile is compressed.</param>
/// <param name="RandomSeed">For <see cref="RoutingMode.Random"/>.</param>
public sealed record RoutingOptions(RoutingMode Mode, double? Threshold = null, double RandomCompressFraction = 0.5, int RandomSeed = 0)
{
    public static RoutingOptions Auto { get; } = new(RoutingMode.Auto);
    public static RoutingOptions Off { get; } = new(RoutingMode.Off);
    public static RoutingOptions AllCompressed { get; } = new(RoutingMode.AllCompressed);
}

/// <summary>A frame to encode, with its own routing and (optionally) its own tile-count limits.</summary>
public sealed record FrameInput(RgbFrame Frame, RoutingOptions Routing, int? MinTiles = null, int? MaxTiles = null);

/// <summary>The vision half's result for one frame: decisions and the visual tokens the language model will read.</summary>
/// <param name="Tiles">Per-tile decisions and ViR probabilities.</param>
/// <param name="VisualTokensBefore">Tiles × 256.</param>
/// <param name="VisualTokensAfter">Tokens after routing.</param>
/// <param name="VisualTokens">[VisualTokensAfter × language width] values, row-major.</param>
/// <param name="VisionMilliseconds">This frame's share of the batch's vision time.</param>
public sealed record EncodedFrame(
    IReadOnlyList<TileDecision> Tiles,
    int VisualTokensBefore,
    int VisualTokensAfter,
    float[] VisualTokens,
    double VisionMilliseconds);

/// <summary>What happened to one tile.</summary>
/// <param name="Index">Tile index in the frame: grid tiles row by row, then the thumbnail.</param>
/// <param name="IsThumbnail">Whether this is the whole-frame thumbnail.</param>
/// <param name="Compressed">Whether the tile took the 64-token path.</param>
/// <param name="CompressProbability">ViR's probability that the tile can take 64 tokens (computed in every mode).</param>
/// <param name="VisualTokens">Tokens the tile contributed (256 or 64).</param>
public sealed record TileDecision(int Index, bool IsThumbnail, bool Compressed, float CompressProbability, int VisualTokens);

/// <summary>The result for one frame.</summary>
/// <param name="Text">The generated text: caption, then "text: …".</param>
/// <param name="Tiles">Per-tile routing decisions and ViR probabilities.</param>
/// <param name="VisualTokensBefore">Tiles × 256: the tokens without routing.</param>
/// <param name="VisualTokensAfter">The tokens the language model actually received.</param>
/// <param name="VisionMilliseconds">This frame's share of the batch's tiling, ViT, router and connector time.</param>
/// <param name="LanguageMilliseconds">Prefill and greedy decoding for this frame.</param>
public sealed record FrameAnalysis(
    string Text,
    IReadOnlyList<TileDecision> Tiles,
    int VisualTokensBefore,
    int VisualTokensAfter,
    double VisionMilliseconds,
    double LanguageMilliseconds);

/// <summary>
/// Batched inference: all tiles of a batch go through the ViT together, ViR scores each tile from its own
/// features, only the chosen connector runs per tile, then each frame is decoded greedily with a KV cache.
/// Deterministic: the same frame gives the same text and decisions alone or in any batch.
/// </summary>
public sealed class VireoEngine : IDisposable
{
    private readonly VireoModel _model;
    private readonly Device _device;

    public VireoEngine(VireoModel model, Device device)
    {
        _model = model;
        _device = device;
        _model.to(device);
        _model.eval();
    }

    public VireoModel Model => _model;

    /// <summary>Most tiles sent through the ViT at once; bounds activation memory.</summary>
    public int MaxTilesPerVisionPass { get; init; } = 16;

    /// <summary>Loads a model directory (model.safetensors + config.json) onto a device ("auto", "cpu", "cuda").</summary>
    public static VireoEngine Load(string directory, string device = "auto")
    {
        var dev = TorchRuntime.ResolveDevice(device);
        return new VireoEngine(VireoCheckpoint.Load(directory), dev);
    }

    /// <summary>Analyses a batch of RGB24 frames: <see cref="Encode"/>, then <see cref="Describe"/> for each frame.</summary>
    public IReadOnlyList<FrameAnalysis> Analyze(IReadOnlyList<RgbFrame> frames, RoutingOptions routing, int maxNewTokens = 96)
    {
        var encoded = Encode(frames.Select(f => new FrameInput(f, routing)).ToArray());
        return encoded.Select(e =>
        {
            var (text, ms) = Describe(e.Tiles.Select(t => t.Compressed).ToArray(), e.VisualTokens, maxNewTokens);
            return new FrameAnalysis(text, e.Tiles, e.VisualTokensBefore, e.VisualTokensAfter, e.VisionMilliseconds, ms);
        }).ToArray();
    }

    /// <summary>
    /// The vision half: tiles every frame, runs all tiles through the ViT together, lets ViR score each tile from its
    /// own features, and runs only the chosen connector per tile. Each frame's routing is its own.
    /// </summary>
    public IReadOnlyList<EncodedFrame> Encode(IReadOnlyList<FrameInput> frames)
    {
        if (frames.Count == 0) return [];
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var tilers = frames.Select(f => f.MinTiles is null && f.MaxTiles is null
            ? _model.Tiler
            : _model.Tiler.WithLimits(f.MinTiles ?? _model.Config.MinDynamicPatch, f.MaxTiles ?? _model.Config.MaxDynamicPatch)).ToArray();
        var tiles = TileBatch.From(_model, frames.Select(f => f.Frame).ToArray(), tilers);
        var features = EncodeTiles(tiles);
        var probabilities = _model.Router.CompressProbability(features).to(ScalarType.Float32).cpu().data<float>().ToArray();
        var compress = new bool[tiles.TotalTiles];
        for (int f = 0, offset = 0; f < frames.Count; offset += tiles.TileCounts[f], f++)
            Decide(probabilities.AsSpan(offset, tiles.TileCounts[f]), frames[f].Routing, compress.AsSpan(offset, tiles.TileCounts[f]));
        var visual = _model.ConnectTiles(features, compress).to(ScalarType.Float32).cpu();
        var visionMs = clock.Elapsed.TotalMilliseconds;
        var width = (int)visual.shape[1];
        var all = visual.data<float>().ToArray();

        var results = new EncodedFrame[frames.Count];
        var tileOffset = 0;
        var tokenOffset = 0;
        for (var f = 0; f < frames.Count; f++)
        {
            var count = tiles.TileCounts[f];
            var decisions = new List<TileDecision>(count);
            var frameTokens = 0;
            for (var t = 0; t < count; t++)
            {
                var c = compress[tileOffset + t];
                var n = _model.TokensFor(c);
                frameTokens += n;
                decisions.Add(new TileDecision(t, tiles.IsThumbnail(f, t), c, probabilities[tileOffset + t], n));
            }
            var tokens = all.AsSpan(tokenOffset * width, frameTokens * width).ToArray();
            results[f] = new EncodedFrame(decisions, count * _model.Config.TokensPerTile, frameTokens, tokens, visionMs * count / tiles.TotalTiles);
            tileOffset += count;
            tokenOffset += frameTokens;
        }
        return results;
    }

    /// <summary>
    /// The language half: places a frame's visual tokens ([tokens × width], row-major) between the image tokens of
    /// the prompt and decodes greedily. Returns the text and the milliseconds it took.
    /// </summary>
    public (string Text, double Milliseconds) Describe(IReadOnlyList<bool> compressedTiles, float[] visualTokens, int maxNewTokens = 96)
    {
        var expected = compressedTiles.Sum(c => _model.TokensFor(c));
        var width = _model.Config.LlmConfig.HiddenSize;
        if (visualTokens.Length != expected * width)
            throw new ArgumentException($"expected {expected} visual tokens of width {width} for these tiles, got {visualTokens.Length} values");
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        using var visual = tensor(visualTokens, [expected, width]).to(_model.LanguageModel.parameters().First().dtype).to(_device);
        var text = Generate(compressedTiles, visual, maxNewTokens);
        return (text, clock.Elapsed.TotalMilliseconds);
    }

    private Tensor EncodeTiles(TileBatch tiles)
    {
        using var pixels = tiles.ToTensor(_device);
        if (tiles.TotalTiles <= MaxTilesPerVisionPass) return _model.Vision.forward(pixels);
        var chunks = new List<Tensor>();
        for (var start = 0; start < tiles.TotalTiles; start += MaxTilesPerVisionPass)
            chunks.Add(_model.Vision.forward(pixels.narrow(0, start, Math.Min(MaxTilesPerVisionPass, tiles.TotalTiles - start))));
        return cat(chunks, 0);
    }

    private void Decide(ReadOnlySpan<float> probabilities, RoutingOptions routing, Span<bool> compress)
    {
        var threshold = routing.Threshold ?? _model.Config.RouterConfig.Threshold;
        var random = routing.Mode == RoutingMode.Random ? new Random(routing.RandomSeed) : null;
        for (var i = 0; i < probabilities.Length; i++)
            compress[i] = routing.Mode switch
            {
                RoutingMode.Off => false,
                RoutingMode.AllCompressed => true,
                RoutingMode.Random => random!.NextDouble() < routing.RandomCompressFraction,
                _ => probabilities[i] >= threshold,
            };
    }

    private string Generate(IReadOnlyList<bool> compress, Tensor frameVisual, int maxNewTokens)
    {
        using var scope = NewDisposeScope();
        var prompt = _model.PromptIds(compress).Select(i => (long)i).ToArray();
        using var ids = tensor(prompt, [1, prompt.Length]).to(_device);
        var embeds = _model.EmbedWithVision(ids, frameVisual);
        using var cache = new KvCache(_model.Config.LlmConfig, 1, prompt.Length + maxNewTokens + 1, _device);
        var hidden = _model.LanguageModel.Hidden(embeds, cache);
        var next = _model.LanguageModel.Logits(hidden[.., -1]).argmax(-1);
        var output = new List<int>();
        for (var step = 0; step < maxNewTokens; step++)
        {
            var token = (int)next.cpu().item<long>();
            if (token == CharTokenizer.Eos) break;
            output.Add(token);
            using var stepScope = NewDisposeScope();
            var h = _model.LanguageModel.Hidden(_model.LanguageModel.Embed(next.reshape(1, 1)), cache);
            next = _model.LanguageModel.Logits(h[.., -1]).argmax(-1).MoveToOuterDisposeScope();
        }
        return _model.Tokenizer.Decode(output);
    }

    public void Dispose() => _model.Dispose();
}
