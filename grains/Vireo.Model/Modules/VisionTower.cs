using TorchSharp;
using Vireo.Model.Configuration;
using Vireo.Model.Imaging;
using static TorchSharp.torch;

namespace Vireo.Model.Modules;

/// <summary>
/// The vision side of the model: <c>vision_model</c>, <c>mlp1</c> (256 tokens a tile), <c>mlp2</c> (64 tokens a tile)
/// and <c>vir</c> (the router), named as in InternVL checkpoints, with the tiler that prepares its input.
/// A vision-only process builds and loads just this.
/// </summary>
public sealed class VisionTower : nn.Module
{
    /// <summary>The checkpoint prefixes of this side's tensors.</summary>
    public static readonly IReadOnlyList<string> CheckpointPrefixes = ["vision_model.", "mlp1.", "mlp2.", "vir.", "pooling_before_gating.", "gating."];

    public VisionTower(ModelConfig config) : base("vision")
    {
        config.Validate();
        Config = config;
        Tiler = DynamicTiler.For(config);
        vision_model = new VisionModel(config);
        mlp1 = Connectors.Standard(config.VisionConfig.HiddenSize, config.LlmConfig.HiddenSize, config.DownsampleRatio);
        if (config.HasRouter)
            mlp2 = Connectors.Compressed(config.VisionConfig.HiddenSize, config.LlmConfig.HiddenSize, config.CompressedDownsampleRatio);
        if (config.RouterConfig.Kind == RouterKind.Vireo) vir = new VisualResolutionRouter(config.VisionConfig, config.RouterConfig);
        RegisterComponents();
        if (config.RouterConfig.Kind == RouterKind.Flash)
        {
            // Registered by its parts' names: the checkpoint reads "pooling_before_gating.…" and "gating.…".
            _flash = new FlashRouter(config.VisionConfig.HiddenSize);
            foreach (var (name, module) in _flash.Parts()) register_module(name, module);
        }
    }

    // Field names are the checkpoint's parameter prefixes (TorchSharp names submodules after fields).
    private readonly VisionModel vision_model;
    private readonly nn.Module<Tensor, Tensor> mlp1;
    private readonly nn.Module<Tensor, Tensor>? mlp2;
    private readonly VisualResolutionRouter? vir;
    private readonly FlashRouter? _flash;

    public ModelConfig Config { get; }
    public DynamicTiler Tiler { get; }
    public VisionModel Encoder => vision_model;

    /// <summary>The small model's router, which training fits.</summary>
    /// <exception cref="InvalidOperationException">The checkpoint has another router or none.</exception>
    public VisualResolutionRouter Router => vir ?? throw new InvalidOperationException($"This checkpoint's router is {Config.RouterConfig.Kind}, not Vireo's trainable one.");

    /// <summary>Whether the 64-token path and a router exist (Flash checkpoints and the small model).</summary>
    public bool CanRoute => Config.HasRouter;

    /// <summary>The router's probability per tile that it can take 64 tokens, float32 [tiles]; zeros when there is no router.</summary>
    public Tensor CompressProbability(Tensor features)
    {
        if (vir is not null) return vir.CompressProbability(features).to(ScalarType.Float32);
        if (_flash is not null) return _flash.CompressProbability(features);
        return zeros(features.shape[0], dtype: ScalarType.Float32, device: features.device);
    }

    /// <summary>The router's two logits per tile (float32), or null without a router.</summary>
    public Tensor? RouterLogits(Tensor features) =>
        vir is not null ? vir.forward(features) : _flash?.Logits(features);

    /// <summary>The 256-token path: pixel shuffle at 0.5, then mlp1. [tiles, 1024, D] → [tiles, 256, H].</summary>
    public Tensor ConnectStandard(Tensor features)
    {
        using var shuffled = PixelShuffle.Apply(features, Config.DownsampleRatio);
        return mlp1.call(shuffled);
    }

    /// <summary>The 64-token path: pixel shuffle at 0.25, then mlp2. [tiles, 1024, D] → [tiles, 64, H].</summary>
    public Tensor ConnectCompressed(Tensor features)
    {
        if (mlp2 is null) throw new InvalidOperationException("This checkpoint has no 64-token connector (mlp2): it is not a Flash checkpoint.");
        using var shuffled = PixelShuffle.Apply(features, Config.CompressedDownsampleRatio);
        return mlp2.call(shuffled);
    }

    /// <summary>
    /// Runs, for each tile, only the connector chosen for it: mlp2 on the compressed tiles, mlp1 on the rest.
    /// Returns all visual tokens [sum of tokens, H] in tile order.
    /// </summary>
    public Tensor ConnectTiles(Tensor features, IReadOnlyList<bool> compress)
    {
        using var scope = NewDisposeScope();
        var device = features.device;
        var keepIdx = Enumerable.Range(0, compress.Count).Where(i => !compress[i]).Select(i => (long)i).ToArray();
        var packIdx = Enumerable.Range(0, compress.Count).Where(i => compress[i]).Select(i => (long)i).ToArray();
        // Every tile on one path: its tokens are already in tile order.
        if (packIdx.Length == 0) return ConnectStandard(features).flatten(0, 1).MoveToOuterDisposeScope();
        if (keepIdx.Length == 0) return ConnectCompressed(features).flatten(0, 1).MoveToOuterDisposeScope();
        var parts = new List<Tensor>
        {
            ConnectStandard(features.index_select(0, TorchRuntime.Upload(tensor(keepIdx), device))).flatten(0, 1),
            ConnectCompressed(features.index_select(0, TorchRuntime.Upload(tensor(packIdx), device))).flatten(0, 1),
        };
        // Rows are grouped by path (all 256-token tiles, then all 64-token ones); gather them back into tile order.
        var order = new long[keepIdx.Length * Config.TokensPerTile + packIdx.Length * Config.CompressedTokensPerTile];
        long keepAt = 0, packAt = keepIdx.Length * (long)Config.TokensPerTile, o = 0;
        foreach (var c in compress)
        {
            var n = Config.TokensFor(c);
            ref var from = ref c ? ref packAt : ref keepAt;
            for (var k = 0; k < n; k++) order[o++] = from++;
        }
        return cat(parts, 0).index_select(0, TorchRuntime.Upload(tensor(order), device)).MoveToOuterDisposeScope();
    }
}
