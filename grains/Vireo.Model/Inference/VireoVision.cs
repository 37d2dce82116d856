using System.Diagnostics;
using TorchSharp;
using Vireo.Model.Imaging;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Inference;

/// <summary>
/// The vision side at inference: all tiles of a batch go through the ViT together, ViR scores each tile from its own
/// features, and only the connector chosen for a tile runs. A frame gets the same routes alone or in any batch.
/// </summary>
public sealed class VireoVision(VisionTower tower, Device device, bool ownsTower = true) : ModelSide<VisionTower>(tower, device, ownsTower)
{
    /// <summary>
    /// Most tiles sent through the ViT at once; bounds activation memory. On a GPU a whole batch of frames goes in one
    /// pass (128 tiles of InternViT-300M need a few GB of activations in bfloat16).
    /// </summary>
    public int MaxTilesPerVisionPass { get; init; } = device.type == DeviceType.CUDA ? 128 : 16;

    /// <summary>
    /// Loads only the vision side of a model directory (<c>vision_model</c>, <c>mlp1</c>, <c>mlp2</c>, <c>vir</c> from
    /// model.safetensors, and config.json) onto a device ("auto", "cpu", "cuda").
    /// </summary>
    /// <exception cref="Modules.CheckpointMismatchException">The vision side's tensors differ from its config.</exception>
    public static VireoVision Load(string directory, string device = "auto") =>
        new(VireoCheckpoint.LoadVision(directory, dtype: TorchRuntime.DefaultDType(directory, device)), TorchRuntime.ResolveDevice(device));

    /// <summary>
    /// Tiles every frame, runs all tiles through the ViT together, lets ViR score each tile from its own features,
    /// and runs only the chosen connector per tile. Each frame's routing is its own.
    /// </summary>
    public IReadOnlyList<EncodedFrame> Encode(IReadOnlyList<FrameInput> frames)
    {
        if (frames.Count == 0) return [];
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var config = Tower.Config;
        var clock = Stopwatch.StartNew();
        var tilers = frames.Select(f => f.MinTiles is null && f.MaxTiles is null
            ? Tower.Tiler
            : Tower.Tiler.WithLimits(f.MinTiles ?? config.MinDynamicPatch, f.MaxTiles ?? config.MaxDynamicPatch)).ToArray();
        var tiles = TileBatch.From(Tower.Tiler, frames.Select(f => f.Frame).ToArray(), tilers);
        using var pixels = tiles.ToTensor(Device);
        var features = Features(pixels);
        var probabilities = Tower.CompressProbability(features).cpu().data<float>().ToArray();
        var compress = new bool[tiles.TotalTiles];
        // Without a router (a non-Flash checkpoint) every tile takes 256 tokens, whatever the policy asks.
        if (Tower.CanRoute)
            for (int f = 0, offset = 0; f < frames.Count; offset += tiles.TileCounts[f], f++)
                frames[f].Routing.Decide(probabilities.AsSpan(offset, tiles.TileCounts[f]), config.RouterConfig.Threshold, compress.AsSpan(offset, tiles.TileCounts[f]));
        var visual = Tower.ConnectTiles(features, compress).to(ScalarType.Float32).cpu();
        var visionMs = clock.Elapsed.TotalMilliseconds;
        var width = (int)visual.shape[1];
        var all = visual.data<float>().ToArray();

        var results = new EncodedFrame[frames.Count];
        var tileOffset = 0;
        var tokenOffset = 0;
        for (var f = 0; f < frames.Count; f++)
        {
            var count = tiles.TileCounts[f];
            var routes = new TileRoute[count];
            var frameTokens = 0;
            for (var t = 0; t < count; t++)
            {
                var c = compress[tileOffset + t];
                var n = config.TokensFor(c);
                frameTokens += n;
                routes[t] = new TileRoute(t, tiles.IsThumbnail(f, t), c, probabilities[tileOffset + t], n);
            }
            var tokens = all.AsSpan(tokenOffset * width, frameTokens * width).ToArray();
            results[f] = new EncodedFrame(routes, count * config.TokensPerTile, frameTokens, tokens, visionMs * count / tiles.TotalTiles);
            tileOffset += count;
            tokenOffset += frameTokens;
        }
        return results;
    }

    /// <summary>
    /// The ViT's features [tiles, 1024, D] for normalised tiles [tiles, 3, 448, 448] on this side's device, at most
    /// <see cref="MaxTilesPerVisionPass"/> tiles a pass.
    /// </summary>
    public Tensor Features(Tensor tiles)
    {
        using var inference = inference_mode();
        using var pixels = tiles.to(Tower.Encoder.parameters().First().dtype);
        var count = pixels.shape[0];
        if (count <= MaxTilesPerVisionPass) return Tower.Encoder.forward(pixels);
        using var scope = NewDisposeScope();
        var chunks = new List<Tensor>();
        for (var start = 0L; start < count; start += MaxTilesPerVisionPass)
            chunks.Add(Tower.Encoder.forward(pixels.narrow(0, start, Math.Min(MaxTilesPerVisionPass, count - start))));
        return cat(chunks, 0).MoveToOuterDisposeScope();
    }
}
