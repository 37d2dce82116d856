using TorchSharp;
using Vireo.Model.Configuration;
using Vireo.Model.Imaging;
using Vireo.Model.Text;
using static TorchSharp.torch;

namespace Vireo.Model.Modules;

/// <summary>
/// The whole vision-language model: <c>vision_model</c>, <c>mlp1</c> (256 tokens a tile), <c>mlp2</c>
/// (64 tokens a tile), <c>vir</c> (the router) and <c>language_model</c>, named as in InternVL checkpoints.
/// It is the <see cref="VisionTower"/> and the <see cref="LanguageTower"/> side by side, so a whole checkpoint and
/// the two sides loaded apart hold the same tensors under the same names.
/// </summary>
public sealed class VireoModel : nn.Module
{
    /// <param name="config">The model's shape.</param>
    /// <param name="tokenizer">Qwen3's tokenizer, for a checkpoint with InternVL's template.</param>
    public VireoModel(ModelConfig config, ITextTokenizer? tokenizer = null) : base("vireo")
    {
        config.Validate();
        Config = config;
        // Built in checkpoint order (vision, connectors, router, then language), so a seeded model starts the same.
        VisionSide = new VisionTower(config);
        LanguageSide = new LanguageTower(config, tokenizer);
        // The sides' modules are registered here under their own names: the state dict reads "vision_model.…", not
        // "vision.vision_model.…". The sides are not disposed apart from this model.
        foreach (var (name, module) in VisionSide.named_children().Concat(LanguageSide.named_children()))
            register_module(name, module);
    }

    public ModelConfig Config { get; }
    public VisionTower VisionSide { get; }
    public LanguageTower LanguageSide { get; }
    public ITextTokenizer Tokenizer => LanguageSide.Tokenizer;
    public DynamicTiler Tiler => VisionSide.Tiler;
    public VisionModel Vision => VisionSide.Encoder;
    public VisualResolutionRouter Router => VisionSide.Router;
    public Qwen3LanguageModel LanguageModel => LanguageSide.LanguageModel;

    /// <inheritdoc cref="VisionTower.ConnectStandard"/>
    public Tensor ConnectStandard(Tensor features) => VisionSide.ConnectStandard(features);

    /// <inheritdoc cref="VisionTower.ConnectCompressed"/>
    public Tensor ConnectCompressed(Tensor features) => VisionSide.ConnectCompressed(features);

    /// <inheritdoc cref="VisionTower.ConnectTiles"/>
    public Tensor ConnectTiles(Tensor features, IReadOnlyList<bool> compress) => VisionSide.ConnectTiles(features, compress);

    /// <inheritdoc cref="LanguageTower.PromptIds"/>
    public List<int> PromptIds(IReadOnlyList<bool> compress, string? question = null) => LanguageSide.PromptIds(compress, question);

    /// <inheritdoc cref="LanguageTower.EmbedWithVision"/>
    public Tensor EmbedWithVision(Tensor ids, Tensor visualTokens, Tensor? imagePositions = null) =>
        LanguageSide.EmbedWithVision(ids, visualTokens, imagePositions);

    public long ParameterCount() => parameters().Sum(p => p.numel());
}
