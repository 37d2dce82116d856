namespace Vireo.Model.Configuration;

/// <summary>
/// The published shapes of InternVL3.5-Flash: InternViT-300M (448-px tiles, 14-px patches, 256 or 64 tokens a tile)
/// before Qwen3-1.7B (2B) or Qwen3-8B (8B), with the Flash router. Used to build random-weight models of real size.
/// </summary>
public static class InternVlShapes
{
    /// <summary>The shapes by name: "2b" and "8b".</summary>
    public static IReadOnlyList<string> Names { get; } = ["2b", "8b"];

    /// <exception cref="ArgumentException">Not one of <see cref="Names"/>.</exception>
    public static ModelConfig Flash(string name) => new()
    {
        VisionConfig = new VisionConfig { HiddenSize = 1024, NumHiddenLayers = 24, NumAttentionHeads = 16, IntermediateSize = 4096 },
        LlmConfig = name.ToLowerInvariant() switch
        {
            "2b" => new LanguageConfig
            {
                VocabSize = 151936, HiddenSize = 2048, IntermediateSize = 6144, NumHiddenLayers = 28, NumAttentionHeads = 16,
                NumKeyValueHeads = 8, HeadDim = 128, RopeTheta = 1_000_000, MaxPositionEmbeddings = 40960, TieWordEmbeddings = true,
            },
            "8b" => new LanguageConfig
            {
                VocabSize = 151936, HiddenSize = 4096, IntermediateSize = 12288, NumHiddenLayers = 36, NumAttentionHeads = 32,
                NumKeyValueHeads = 8, HeadDim = 128, RopeTheta = 1_000_000, MaxPositionEmbeddings = 40960, TieWordEmbeddings = false,
            },
            _ => throw new ArgumentException($"Unknown shape '{name}': {string.Join(", ", Names)}.", nameof(name)),
        },
        MaxDynamicPatch = 12,
        RouterConfig = new RouterConfig { Kind = RouterKind.Flash },
        TorchDType = "bfloat16",
    };
}
