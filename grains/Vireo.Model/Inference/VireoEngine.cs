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

    /// <summary>Analyses a batch of RGB24 frames.</summary>
    public IReadOnlyList<FrameAnalysis> Analyze(IReadOnlyList<RgbFrame> frames, RoutingOptions routing, int maxNewTokens = 96)
    {
        if (frames.Count == 0) return [];
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var tiles = TileBatch.From(_model, frames);
        var features = EncodeTiles(tiles);
        var probabilities = _model.Router.CompressProbability(features).to(ScalarType.Float32).cpu().data<float>().ToArray();
        var compress = Decide(tiles, probabilities, routing);
        var visual = _model.ConnectTiles(features, compress);
        if (_device.type == DeviceType.CUDA) cuda.synchronize();
        var visionMs = clock.Elapsed.TotalMilliseconds;

        var results = new FrameAnalysis[frames.Count];
        var tileOffset = 0;
        long tokenOffset = 0;
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
            var frameVisual = visual.narrow(0, tokenOffset, frameTokens);
            var lm = Stopwatch.StartNew();
            var text = Generate(compress.Skip(tileOffset).Take(count).ToList(), frameVisual, maxNewTokens);
            results[f] = new FrameAnalysis(
                text, decisions, count * _model.Config.TokensPerTile, frameTokens,
                visionMs * count / tiles.TotalTiles, lm.Elapsed.TotalMilliseconds);
            tileOffset += count;
            tokenOffset += frameTokens;
        }
        return results;
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

    private bool[] Decide(TileBatch tiles, float[] probabilities, RoutingOptions routing)
    {
        var threshold = routing.Threshold ?? _model.Config.RouterConfig.Threshold;
        var random = new Random(routing.RandomSeed);
        return routing.Mode switch
        {
            RoutingMode.Off => new bool[tiles.TotalTiles],
            RoutingMode.AllCompressed => Enumerable.Repeat(true, tiles.TotalTiles).ToArray(),
            RoutingMode.Random => probabilities.Select(_ => random.NextDouble() < routing.RandomCompressFraction).ToArray(),
            _ => probabilities.Select(p => p >= threshold).ToArray(),
        };
    }

    private string Generate(List<bool> compress, Tensor frameVisual, int maxNewTokens)
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
