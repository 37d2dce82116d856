using Vireo.Model.Configuration;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model;

/// <summary>
/// A model whose compute is next to nothing, for measuring the pipeline around the model: the smallest shape the
/// code accepts (4-pixel tiles of 1-pixel patches, so 4 tokens a tile through mlp1 and 1 through mlp2; widths of 1
/// or 2; one layer, head and gating block of each kind) with random weights. It answers nonsense, quickly.
/// </summary>
public static class TinyModel
{
    /// <summary>The tiny model's config.</summary>
    public static ModelConfig Config() => new()
    {
        ImageSize = 4,
        PatchSize = 1,
        VisionConfig = new VisionConfig { HiddenSize = 1, NumHiddenLayers = 1, NumAttentionHeads = 1, IntermediateSize = 1 },
        LlmConfig = new LanguageConfig
        {
            VocabSize = Text.CharTokenizer.SpecialCount + Text.CharTokenizer.DefaultCharacters.Length,
            // Rotary embeddings rotate pairs of channels, so a head needs two.
            HiddenSize = 1, IntermediateSize = 1, NumHiddenLayers = 1, NumAttentionHeads = 1, NumKeyValueHeads = 1, HeadDim = 2,
        },
        RouterConfig = new RouterConfig { NumGatingBlocks = 1 },
    };

    /// <summary>
    /// Writes a checkpoint directory (config.json + model.safetensors) with weights drawn from <paramref name="seed"/>:
    /// the same seed writes the same weights.
    /// </summary>
    public static void Write(string directory, int seed = 0)
    {
        using var model = new VireoModel(Config());
        // Drawn from a generator of its own: torch's global one is shared with whatever else runs in the process.
        using var generator = new Generator((ulong)seed);
        using (no_grad())
        using (NewDisposeScope())
            foreach (var (_, parameter) in model.named_parameters())
                parameter.copy_(randn(parameter.shape, generator: generator) * 0.5);
        VireoCheckpoint.Save(model, directory);
    }
}
