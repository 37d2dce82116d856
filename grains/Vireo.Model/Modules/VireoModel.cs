using TorchSharp;
using Vireo.Model.Configuration;
using Vireo.Model.Imaging;
using Vireo.Model.Text;
using static TorchSharp.torch;

namespace Vireo.Model.Modules;

/// <summary>
/// The whole vision-language model: <c>vision_model</c>, <c>mlp1</c> (256 tokens a tile), <c>mlp2</c>
/// (64 tokens a tile), <c>vir</c> (the router) and <c>language_model</c>, named as in InternVL checkpoints.
/// </summary>
public sealed class VireoModel : nn.Module
{
    public VireoModel(ModelConfig config) : base("vireo")
    {
        config.Validate();
        Config = config;
        Tokenizer = new CharTokenizer(config.TokenizerCharacters);
        Tiler = new DynamicTiler(config.ImageSize, config.MinDynamicPatch, config.MaxDynamicPatch, config.UseThumbnail, config.PixelMean, config.PixelStd);
        vision_model = new VisionModel(config);
        mlp1 = Connectors.Standard(config.VisionConfig.HiddenSize, config.LlmConfig.HiddenSize, config.DownsampleRatio);
        mlp2 = Connectors.Compressed(config.VisionConfig.HiddenSize, config.LlmConfig.HiddenSize, config.CompressedDownsampleRatio);
        vir = new VisualResolutionRouter(config.VisionConfig, config.RouterConfig);
        language_model = new Qwen3LanguageModel(config.LlmConfig);
        RegisterComponents();
    }

    // Field names are the checkpoint's parameter prefixes (TorchSharp names submodules after fields).
    private readonly VisionModel vision_model;
    private readonly nn.Module<Tensor, Tensor> mlp1;
    private readonly nn.Module<Tensor, Tensor> mlp2;
    private readonly VisualResolutionRouter vir;
    private readonly Qwen3LanguageModel language_model;

    public ModelConfig Config { get; }
    public CharTokenizer Tokenizer { get; }
    public DynamicTiler Tiler { get; }
    public VisionModel Vision => vision_model;
    public VisualResolutionRouter Router => vir;
    public Qwen3LanguageModel LanguageModel => language_model;

    /// <summary>The 256-token path: pixel shuffle at 0.5, then mlp1. [tiles, 1024, D] → [tiles, 256, H].</summary>
    public Tensor ConnectStandard(Tensor features)
    {
        using var shuffled = PixelShuffle.Apply(features, Config.DownsampleRatio);
        return mlp1.call(shuffled);
    }

    /// <summary>The 64-token path: pixel shuffle at 0.25, then mlp2. [tiles, 1024, D] → [tiles, 64, H].</summary>
    public Tensor ConnectCompressed(Tensor features)
    {
        using var shuffled = PixelShuffle.Apply(features, Config.CompressedDownsampleRatio);
        return mlp2.call(shuffled);
    }

    /// <summary>Visual tokens a tile gets on the path chosen for it.</summary>
    public int TokensFor(bool compressed) => compressed ? Config.CompressedTokensPerTile : Config.TokensPerTile;

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
            var n = TokensFor(c);
            ref var from = ref c ? ref packAt : ref keepAt;
            for (var k = 0; k < n; k++) order[o++] = from++;
        }
        return cat(parts, 0).index_select(0, TorchRuntime.Upload(tensor(order), device)).MoveToOuterDisposeScope();
    }

    /// <summary>Prompt ids for one frame: bos, then per tile &lt;img&gt; + n×&lt;IMG_CONTEXT&gt; + &lt;/img&gt;.</summary>
    public List<int> PromptIds(IReadOnlyList<bool> compress)
    {
        var ids = new List<int> { CharTokenizer.Bos };
        foreach (var c in compress)
        {
            ids.Add(CharTokenizer.ImageStart);
            ids.AddRange(Enumerable.Repeat(CharTokenizer.ImageContext, TokensFor(c)));
            ids.Add(CharTokenizer.ImageEnd);
        }
        return ids;
    }

    /// <summary>
    /// Token embeddings for right-padded id rows with every &lt;IMG_CONTEXT&gt; position replaced, in order,
    /// by the rows of <paramref name="visualTokens"/>. <paramref name="imagePositions"/>, the flat indices of those
    /// positions when the caller already knows them, spares the device a round trip to find them.
    /// </summary>
    public Tensor EmbedWithVision(Tensor ids, Tensor visualTokens, Tensor? imagePositions = null)
    {
        using var scope = NewDisposeScope();
        var embeds = LanguageModel.Embed(ids);
        var flat = embeds.reshape(-1, embeds.shape[2]);
        var positions = imagePositions ?? nonzero(ids.reshape(-1) == CharTokenizer.ImageContext).reshape(-1);
        if (positions.shape[0] != visualTokens.shape[0])
            throw new InvalidOperationException($"{positions.shape[0]} image-context positions but {visualTokens.shape[0]} visual tokens.");
        return flat.index_copy(0, positions, visualTokens.to(flat.dtype)).reshape(embeds.shape).MoveToOuterDisposeScope();
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());
}
