using System.Text.Json.Serialization;
using Vireo.Model.Modules;

namespace Vireo.Model.Configuration;

/// <summary>
/// Everything that shapes the model, read from and written to <c>config.json</c> beside the weights.
/// The same record describes the small shipped model and an InternVL3.5-Flash-shaped one.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Side of a square tile in pixels (448 in InternVL).</summary>
    public int ImageSize { get; init; } = 448;

    /// <summary>Side of a ViT patch in pixels (14: 448/14 = 32 patches a side).</summary>
    public int PatchSize { get; init; } = 14;

    /// <summary>Pixel shuffle ratio of the 256-token connector (mlp1).</summary>
    public double DownsampleRatio { get; init; } = 0.5;

    /// <summary>Pixel shuffle ratio of the 64-token connector (mlp2).</summary>
    public double CompressedDownsampleRatio { get; init; } = 0.25;

    /// <summary>Fewest tiles of the dynamic-resolution grid.</summary>
    public int MinDynamicPatch { get; init; } = 1;

    /// <summary>Most tiles of the dynamic-resolution grid (the thumbnail comes on top).</summary>
    public int MaxDynamicPatch { get; init; } = 4;

    /// <summary>Whether a 448x448 thumbnail of the whole frame follows the grid when the grid has more than one tile.</summary>
    public bool UseThumbnail { get; init; } = true;

    /// <summary>Per-channel mean used to normalise pixels (0..1 scale), the same at training and inference.</summary>
    public float[] PixelMean { get; init; } = [0.485f, 0.456f, 0.406f];

    /// <summary>Per-channel standard deviation used to normalise pixels.</summary>
    public float[] PixelStd { get; init; } = [0.229f, 0.224f, 0.225f];

    public required VisionConfig VisionConfig { get; init; }

    public required LanguageConfig LlmConfig { get; init; }

    public RouterConfig RouterConfig { get; init; } = new();

    /// <summary>The characters of the char-level tokenizer, after its special tokens.</summary>
    public string TokenizerCharacters { get; init; } = Text.CharTokenizer.DefaultCharacters;

    /// <summary>
    /// The conversation template that lays out the prompt: <see cref="SmallTemplate"/> for the shipped model's
    /// char-level format, or InternVL's template name (<c>internvl2_5</c>) for a checkpoint with Qwen3's tokenizer.
    /// </summary>
    public string Template { get; init; } = SmallTemplate;

    /// <summary>
    /// The least text confidence (<see cref="Inference.LanguageAnswer.TextConfidence"/>) at which an answer's text is
    /// reported; below it the text field becomes "none". 0 reports whatever is read. The small model's is chosen by
    /// <c>vireo calibrate</c> on frames of the training side and kept in config.json as <c>vireo.text_threshold</c>.
    /// </summary>
    public double TextThreshold { get; init; }

    /// <summary>
    /// The least confidence at which a shape the model names is reported (see
    /// <see cref="Inference.LanguageAnswer.ShapeConfidences"/>); 0 reports every shape. Chosen by <c>vireo calibrate</c>
    /// on frames of the training side and kept in config.json as <c>vireo.shape_threshold</c>.
    /// </summary>
    public double ShapeThreshold { get; init; }

    /// <summary>Whether <paramref name="threshold"/> can be a <see cref="TextThreshold"/> or <see cref="ShapeThreshold"/>: at least 0 and below 1.</summary>
    public static bool IsThreshold(double threshold) => threshold is >= 0 and < 1;

    /// <summary>The dtype the checkpoint was published in (config.json's torch_dtype), if it says.</summary>
    public string? TorchDType { get; init; }

    /// <summary>The template of the small models trained here: bos, the image blocks, then the answer.</summary>
    public const string SmallTemplate = "vireo-small";

    /// <summary>Whether the model has the 64-token connector and a router (a Flash checkpoint, or the small model).</summary>
    [JsonIgnore]
    public bool HasRouter => RouterConfig.Kind != RouterKind.None;

    /// <summary>Visual tokens per tile through mlp1 (256 for 448/14 and 0.5).</summary>
    [JsonIgnore]
    public int TokensPerTile => Square(PatchesPerSide * DownsampleRatio);

    /// <summary>Visual tokens per tile through mlp2 (64 for 448/14 and 0.25).</summary>
    [JsonIgnore]
    public int CompressedTokensPerTile => Square(PatchesPerSide * CompressedDownsampleRatio);

    /// <summary>Visual tokens a tile gets on the path chosen for it.</summary>
    public int TokensFor(bool compressed) => compressed ? CompressedTokensPerTile : TokensPerTile;

    [JsonIgnore]
    public int PatchesPerSide => ImageSize / PatchSize;

    private static int Square(double side) => (int)Math.Round(side) * (int)Math.Round(side);

    /// <summary>Throws when the numbers cannot describe a working model.</summary>
    public void Validate()
    {
        if (ImageSize % PatchSize != 0) throw new InvalidDataException("image_size must be a multiple of patch_size.");
        foreach (var ratio in new[] { DownsampleRatio, CompressedDownsampleRatio })
        {
            var side = PatchesPerSide * ratio;
            if (Math.Abs(side - Math.Round(side)) > 1e-9 || Math.Abs(1 / ratio - Math.Round(1 / ratio)) > 1e-9)
                throw new InvalidDataException($"Downsample ratio {ratio} does not divide {PatchesPerSide} patches into whole tokens.");
        }
        if (MinDynamicPatch < 1 || MaxDynamicPatch < MinDynamicPatch) throw new InvalidDataException("Need 1 <= min_dynamic_patch <= max_dynamic_patch.");
        if (VisionConfig.ConvStemChannels < 0 || (VisionConfig.ConvStemChannels > 0 && PatchSize % 2 != 0))
            throw new InvalidDataException("vireo.conv_stem_channels must be 0, or positive with an even patch size.");
        if (VisionConfig.HiddenSize % VisionConfig.NumAttentionHeads != 0) throw new InvalidDataException("Vision hidden_size must divide into heads.");
        if (LlmConfig.NumAttentionHeads % LlmConfig.NumKeyValueHeads != 0) throw new InvalidDataException("Query heads must be a multiple of key/value heads.");
        if (Template == SmallTemplate && LlmConfig.VocabSize < Text.CharTokenizer.SpecialCount + TokenizerCharacters.Length)
            throw new InvalidDataException("llm_config.vocab_size is smaller than the tokenizer.");
        if (RouterConfig.Kind == RouterKind.Flash && VisionConfig.HiddenSize % FlashRouter.PoolingHeads != 0)
            throw new InvalidDataException($"The Flash router's pooling needs a vision hidden_size divisible by {FlashRouter.PoolingHeads}.");
        if (!IsThreshold(TextThreshold)) throw new InvalidDataException($"vireo.text_threshold must be at least 0 and below 1, not {TextThreshold}.");
        if (!IsThreshold(ShapeThreshold)) throw new InvalidDataException($"vireo.shape_threshold must be at least 0 and below 1, not {ShapeThreshold}.");
    }

    /// <summary>Reads a config.json in InternVL's format (the remote-code <c>InternVLChatModel</c> one or transformers' native one).</summary>
    public static ModelConfig Load(string path)
    {
        var config = InternVlConfigJson.Read(File.ReadAllText(path), path);
        config.Validate();
        return config;
    }

    /// <summary>Writes config.json in InternVL's remote-code format, with Vireo's own fields under <c>vireo</c>.</summary>
    public void Save(string path) => File.WriteAllText(path, InternVlConfigJson.Write(this));

    /// <summary>The small model that ships with Vireo: cheap enough to run on a CPU.</summary>
    public static ModelConfig Small() => new()
    {
        VisionConfig = new VisionConfig { HiddenSize = 96, NumHiddenLayers = 4, NumAttentionHeads = 4, IntermediateSize = 384 },
        LlmConfig = new LanguageConfig
        {
            VocabSize = 96, HiddenSize = 160, IntermediateSize = 480, NumHiddenLayers = 3,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 40, MaxPositionEmbeddings = 2048,
        },
    };

    /// <summary>
    /// The small model with a vision encoder twice as wide (192, six heads): on the H100 its encoder learns glyphs
    /// from reading pretraining far faster than the 96-wide one (89 % against 36 % of glyph patches after 3,000 steps).
    /// </summary>
    public static ModelConfig Medium() => Small() with
    {
        VisionConfig = new VisionConfig { HiddenSize = 192, NumHiddenLayers = 4, NumAttentionHeads = 6, IntermediateSize = 768 },
    };

    /// <summary>A very small model for tests.</summary>
    public static ModelConfig Tiny() => new()
    {
        VisionConfig = new VisionConfig { HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64 },
        LlmConfig = new LanguageConfig
        {
            VocabSize = 96, HiddenSize = 48, IntermediateSize = 96, NumHiddenLayers = 1,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 12, MaxPositionEmbeddings = 2048,
        },
        MaxDynamicPatch = 2,
    };
}

/// <summary>InternViT-style encoder shape.</summary>
public sealed record VisionConfig
{
    public int HiddenSize { get; init; } = 96;
    public int NumHiddenLayers { get; init; } = 4;
    public int NumAttentionHeads { get; init; } = 4;
    public int IntermediateSize { get; init; } = 384;
    public double LayerNormEps { get; init; } = 1e-6;
    public bool QkvBias { get; init; } = true;

    /// <summary>Initial value of the layer-scale vectors ls1/ls2.</summary>
    public double InitializerFactor { get; init; } = 0.1;

    /// <summary>Channels of the convolutional stem added to the patch embeddings (Vireo's small models only); 0 = none, as in InternViT.</summary>
    public int ConvStemChannels { get; init; }
}

/// <summary>Qwen3-style decoder shape.</summary>
public sealed record LanguageConfig
{
    public int VocabSize { get; init; } = 96;
    public int HiddenSize { get; init; } = 160;
    public int IntermediateSize { get; init; } = 480;
    public int NumHiddenLayers { get; init; } = 3;
    public int NumAttentionHeads { get; init; } = 4;
    public int NumKeyValueHeads { get; init; } = 2;
    public int HeadDim { get; init; } = 40;
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000;
    public int MaxPositionEmbeddings { get; init; } = 2048;

    /// <summary>Whether the output projection is the token embedding matrix (Qwen3-0.6B and -1.7B).</summary>
    public bool TieWordEmbeddings { get; init; }
}

/// <summary>Which router, if any, decides between the 256- and the 64-token path.</summary>
public enum RouterKind
{
    /// <summary>No router and no 64-token connector: every tile takes 256 tokens (non-Flash InternVL checkpoints).</summary>
    None,

    /// <summary>The small model's router (<c>vir.*</c>), trained here.</summary>
    Vireo,

    /// <summary>InternVL3.5-Flash's ViR (<c>pooling_before_gating.*</c>, <c>gating.*</c>).</summary>
    Flash,
}

/// <summary>Visual resolution router (ViR) shape and default decision threshold.</summary>
public sealed record RouterConfig
{
    public RouterKind Kind { get; init; } = RouterKind.Vireo;

    /// <summary>Residual gating blocks after the attention pooling.</summary>
    public int NumGatingBlocks { get; init; } = 2;

    /// <summary>A tile takes the 64-token path when its own compress probability is at least this.</summary>
    public double Threshold { get; init; } = 0.5;
}

