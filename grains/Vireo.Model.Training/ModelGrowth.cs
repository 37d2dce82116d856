using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Training;

/// <summary>
/// Makes a trained model larger without changing what it computes: layers are appended to the vision encoder and to
/// the language model, a convolutional stem can join the patch embeddings, every existing weight is kept, and each
/// new part's output projection (the encoder's <c>attn.proj</c> and <c>mlp.fc2</c>, the language model's
/// <c>o_proj</c> and <c>down_proj</c>, the stem's last convolution) starts at zero, so a new part adds nothing to its
/// residual stream until training moves that projection. Its inputs are not zero, so it takes a gradient from the
/// first step.
/// </summary>
public static class ModelGrowth
{
    /// <summary>
    /// A new model with <paramref name="visionLayers"/> and <paramref name="languageLayers"/> more layers than
    /// <paramref name="source"/> and, where <paramref name="convStemChannels"/> is positive and the source has none,
    /// a convolutional stem of that width, computing what the source computes.
    /// </summary>
    public static VireoModel Grow(VireoModel source, int visionLayers, int languageLayers, int convStemChannels = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(visionLayers);
        ArgumentOutOfRangeException.ThrowIfNegative(languageLayers);
        ArgumentOutOfRangeException.ThrowIfNegative(convStemChannels);
        var vision = source.Config.VisionConfig;
        if (convStemChannels > 0 && vision.ConvStemChannels > 0)
            throw new ArgumentException($"The model already has a convolutional stem ({vision.ConvStemChannels} channels).", nameof(convStemChannels));
        var config = source.Config with
        {
            VisionConfig = vision with
            {
                NumHiddenLayers = vision.NumHiddenLayers + visionLayers,
                ConvStemChannels = convStemChannels > 0 ? convStemChannels : vision.ConvStemChannels,
            },
            LlmConfig = source.Config.LlmConfig with { NumHiddenLayers = source.Config.LlmConfig.NumHiddenLayers + languageLayers },
        };
        var grown = new VireoModel(config);
        var kept = source.state_dict();
        using var _ = no_grad();
        // The configs differ only in depth and the stem, so a tensor the source lacks belongs to a new part.
        foreach (var (name, target) in grown.state_dict())
        {
            if (kept.TryGetValue(name, out var value)) target.copy_(value);
            else if (IsOutputProjection(name)) target.zero_();
        }
        return grown;
    }

    private static bool IsOutputProjection(string name) =>
        name.Contains(".attn.proj.", StringComparison.Ordinal) || name.Contains(".mlp.fc2.", StringComparison.Ordinal)
        || name.Contains(".self_attn.o_proj.", StringComparison.Ordinal) || name.Contains(".mlp.down_proj.", StringComparison.Ordinal)
        || name.Contains(".stem.conv3.", StringComparison.Ordinal);
}
