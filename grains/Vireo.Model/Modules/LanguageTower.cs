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

    /// <summary>InternVL3.5's conversation template (InternVL 2.5's, with Qwen3's turn tokens).</summary>
    public const string InternVlTemplate = "internvl2_5";

    /// <summary>The system message of InternVL's internvl2_5 template.</summary>
    public const string InternVlSystemMessage = "你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位联合开发的多模态大语言模型。";

    /// <summary>The question asked of a frame when the upload brings none.</summary>
    public const string DefaultQuestion = "Describe this frame in one sentence, then transcribe any text in it.";

    private readonly ITextTokenizer? _tokenizer;

    /// <param name="config">The model's shape and template.</param>
    /// <param name="tokenizer">
    /// The tokenizer of a checkpoint with InternVL's template (Qwen3's, from its tokenizer.json); the small template's
    /// char-level tokenizer comes from the config.
    /// </param>
    public LanguageTower(ModelConfig config, ITextTokenizer? tokenizer = null) : base("language")
    {
        config.Validate();
        if (config.Template != ModelConfig.SmallTemplate && config.Template != InternVlTemplate)
            throw new NotSupportedException($"Conversation template '{config.Template}' is not implemented ({ModelConfig.SmallTemplate} and {InternVlTemplate} are).");
        Config = config;
        _tokenizer = config.Template == ModelConfig.SmallTemplate ? new CharTokenizer(config.TokenizerCharacters) : tokenizer;
        language_model = new Qwen3LanguageModel(config.LlmConfig);
        RegisterComponents();
    }

    // The field name is the checkpoint's parameter prefix.
    private readonly Qwen3LanguageModel language_model;

    public ModelConfig Config { get; }

    /// <exception cref="InvalidOperationException">The checkpoint needs Qwen3's tokenizer and none was found.</exception>
    public ITextTokenizer Tokenizer => _tokenizer
        ?? throw new InvalidOperationException("This checkpoint needs Qwen3's tokenizer: put tokenizer.json and tokenizer_config.json in its directory.");

    public Qwen3LanguageModel LanguageModel => language_model;

    /// <summary>
    /// Prompt ids for one frame whose tiles (grid row by row, then the thumbnail) took the given paths. The small
    /// template: bos, then per tile &lt;img&gt; + n×&lt;IMG_CONTEXT&gt; + &lt;/img&gt;. InternVL's: the system turn,
    /// then the user turn with the image as InternVL writes it (&lt;img&gt;, each tile's 256 or 64 &lt;IMG_CONTEXT&gt;
    /// in order, &lt;/img&gt;), a newline and the question, then the opening of the assistant's turn.
    /// </summary>
    /// <param name="compress">Per tile, whether it took the 64-token path.</param>
    /// <param name="question">The question for this frame (InternVL's template only); null asks <see cref="DefaultQuestion"/>.</param>
    public List<int> PromptIds(IReadOnlyList<bool> compress, string? question = null)
    {
        if (Config.Template == ModelConfig.SmallTemplate)
        {
            var small = new List<int> { CharTokenizer.Bos };
            foreach (var c in compress)
            {
                small.Add(CharTokenizer.ImageStart);
                small.AddRange(Enumerable.Repeat(CharTokenizer.ImageContext, Config.TokensFor(c)));
                small.Add(CharTokenizer.ImageEnd);
            }
            return small;
        }
        var tokenizer = Tokenizer;
        // Added tokens are matched before the text is split, so encoding around the image block gives the ids of
        // encoding the whole text, without thousands of <IMG_CONTEXT> to match.
        var ids = new List<int>(tokenizer.Encode($"<|im_start|>system\n{InternVlSystemMessage}<|im_end|>\n<|im_start|>user\n")) { tokenizer.ImageStart };
        foreach (var c in compress) ids.AddRange(Enumerable.Repeat(tokenizer.ImageContext, Config.TokensFor(c)));
        ids.Add(tokenizer.ImageEnd);
        ids.AddRange(tokenizer.Encode($"\n{question ?? DefaultQuestion}<|im_end|>\n<|im_start|>assistant\n"));
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
        var positions = imagePositions ?? nonzero(ids.reshape(-1) == Tokenizer.ImageContext).reshape(-1);
        if (positions.shape[0] != visualTokens.shape[0])
            throw new InvalidOperationException($"{positions.shape[0]} image-context positions but {visualTokens.shape[0]} visual tokens.");
        return flat.index_copy(0, positions, visualTokens.to(flat.dtype)).reshape(embeds.shape).MoveToOuterDisposeScope();
    }
}
