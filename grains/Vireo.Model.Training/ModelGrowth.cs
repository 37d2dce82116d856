using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Training;

/// <summary>
/// Makes a trained model deeper without changing what it computes: layers are appended to the vision encoder and to
/// the language model, every existing weight is kept, and each new layer's output projections (the encoder's
/// <c>attn.proj</c> and <c>mlp.fc2</c>, the language model's <c>o_proj</c> and <c>down_proj</c>) start at zero, so a
/// new layer adds nothing to its residual stream until training moves those projections. Their inputs are not zero,
/// so they take a gradient from the first step.
/// </summary>
public static class ModelGrowth
{
    /// <summary>A new model with <paramref name="visionLayers"/> and <paramref name="languageLayers"/> more layers than <paramref name="source"/>, computing what it computes.</summary>
    public static VireoModel Deepen(VireoModel source, int visionLayers, int languageLayers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(visionLayers);
        ArgumentOutOfRangeException.ThrowIfNegative(languageLayers);
        var config = source.Config with
        {
            VisionConfig = source.Config.VisionConfig with { NumHiddenLayers = source.Config.VisionConfig.NumHiddenLayers + visionLayers },
            LlmConfig = source.Config.LlmConfig with { NumHiddenLayers = source.Config.LlmConfig.NumHiddenLayers + languageLayers },
        };
        var grown = new VireoModel(config);
        var kept = source.state_dict();
        using var _ = no_grad();
        // The configs differ only in depth, so a tensor the source lacks belongs to a new layer.
        foreach (var (name, target) in grown.state_dict())
        {
            if (kept.TryGetValue(name, out var value)) target.copy_(value);
            else if (IsOutputProjection(name)) target.zero_();
        }
        return grown;
    }

    private static bool IsOutputProjection(string name) =>
        name.Contains(".attn.proj.", StringComparison.Ordinal) || name.Contains(".mlp.fc2.", StringComparison.Ordinal)
        || name.Contains(".self_attn.o_proj.", StringComparison.Ordinal) || name.Contains(".mlp.down_proj.", StringComparison.Ordinal);
}
