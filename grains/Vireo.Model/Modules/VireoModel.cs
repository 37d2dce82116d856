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
        Vision = new VisionModel(config);
        Mlp1 = Connector.Standard(config.VisionConfig.HiddenSize, config.LlmConfig.HiddenSize, config.DownsampleRatio);
        Mlp2 = Connector.Compressed(config.VisionConfig.HiddenSize, config.LlmConfig.HiddenSize, config.CompressedDownsampleRatio);
        Router = new VisualResolutionRouter(config.VisionConfig, config.RouterConfig);
        LanguageModel = new Qwen3LanguageModel(config.LlmConfig);
        register_module("vision_model", Vision);
        register_module("mlp1", Mlp1);
        register_module("mlp2", Mlp2);
        register_module("vir", Router);
        register_module("language_model", LanguageModel);
    }

    public ModelConfig Config { get; }
    public CharTokenizer Tokenizer { get; }
    public DynamicTiler Tiler { get; }
    public VisionModel Vision { get; }
    public Connector Mlp1 { get; }
    public Connector Mlp2 { get; }
    public VisualResolutionRouter Router { get; }
    public Qwen3LanguageModel LanguageModel { get; }

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
        Tensor? full = keepIdx.Length > 0 ? Mlp1.forward(features.index_select(0, tensor(keepIdx, device: device))) : null;
        Tensor? packed = packIdx.Length > 0 ? Mlp2.forward(features.index_select(0, tensor(packIdx, device: device))) : null;
        var parts = new List<Tensor>(compress.Count);
        int k = 0, p = 0;
        for (var i = 0; i < compress.Count; i++)
            parts.Add(compress[i] ? packed![p++] : full![k++]);
        return cat(parts, 0).MoveToOuterDisposeScope();
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
    /// by the rows of <paramref name="visualTokens"/>.
    /// </summary>
    public Tensor EmbedWithVision(Tensor ids, Tensor visualTokens)
    {
        using var scope = NewDisposeScope();
        var embeds = LanguageModel.Embed(ids);
        var flat = embeds.reshape(-1, embeds.shape[2]);
        var positions = nonzero(ids.reshape(-1) == CharTokenizer.ImageContext).reshape(-1);
        if (positions.shape[0] != visualTokens.shape[0])
            throw new InvalidOperationException($"{positions.shape[0]} image-context positions but {visualTokens.shape[0]} visual tokens.");
        return flat.index_copy(0, positions, visualTokens.to(flat.dtype)).reshape(embeds.shape).MoveToOuterDisposeScope();
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());
}
