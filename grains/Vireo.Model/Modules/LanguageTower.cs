using TorchSharp;
using Vireo.Model.Configuration;
using Vireo.Model.Text;
using static TorchSharp.torch;

namespace Vireo.Model.Modules;

/// <summary>
/// The language side of the model: <c>language_model</c> and the tokenizer, with the prompt layout that places a
/// frame's visual tokens between image tokens. A language-only process builds and loads just this.
/// </summary>
public sealed class LanguageTower : nn.Module
{
    /// <summary>The checkpoint prefixes of this side's tensors.</summary>
    public static readonly IReadOnlyList<string> CheckpointPrefixes = ["language_model."];

    public LanguageTower(ModelConfig config) : base("language")
    {
        config.Validate();
        Config = config;
        Tokenizer = new CharTokenizer(config.TokenizerCharacters);
        language_model = new Qwen3LanguageModel(config.LlmConfig);
        RegisterComponents();
    }

    // The field name is the checkpoint's parameter prefix.
    private readonly Qwen3LanguageModel language_model;

    public ModelConfig Config { get; }
    public CharTokenizer Tokenizer { get; }
    public Qwen3LanguageModel LanguageModel => language_model;

    /// <summary>Prompt ids for one frame: bos, then per tile &lt;img&gt; + n×&lt;IMG_CONTEXT&gt; + &lt;/img&gt;.</summary>
    public List<int> PromptIds(IReadOnlyList<bool> compress)
    {
        var ids = new List<int> { CharTokenizer.Bos };
        foreach (var c in compress)
        {
            ids.Add(CharTokenizer.ImageStart);
            ids.AddRange(Enumerable.Repeat(CharTokenizer.ImageContext, Config.TokensFor(c)));
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
        var embeds = language_model.Embed(ids);
        var flat = embeds.reshape(-1, embeds.shape[2]);
        var positions = imagePositions ?? nonzero(ids.reshape(-1) == CharTokenizer.ImageContext).reshape(-1);
        if (positions.shape[0] != visualTokens.shape[0])
            throw new InvalidOperationException($"{positions.shape[0]} image-context positions but {visualTokens.shape[0]} visual tokens.");
        return flat.index_copy(0, positions, visualTokens.to(flat.dtype)).reshape(embeds.shape).MoveToOuterDisposeScope();
    }
}
