using TorchSharp;
using TorchSharp.Modules;
using Vireo.Model.Data;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Training;

/// <summary>
/// Stage 1's auxiliary reading objective: two linear probes on the vision encoder's patch features that
/// name the character under each patch and the one before it. Dense labels give every glyph patch a
/// gradient from the first step, where the answer's few text tokens alone leave the encoder blind to
/// glyphs. Training-only: the head is not part of the model checkpoint.
/// </summary>
public sealed class ReadingHead : Module<Tensor, (Tensor Own, Tensor Previous)>
{
    public const string File = "reading_head.safetensors";

    /// <summary>Weight of "no character" next to each character class, so rare glyph patches are not drowned out.</summary>
    public const float BackgroundWeight = 0.1f;

    private readonly Linear own;
    private readonly Linear previous;

    public ReadingHead(int visionWidth) : base("reading")
    {
        own = Linear(visionWidth, ReadingTargets.Classes);
        previous = Linear(visionWidth, ReadingTargets.Classes);
        RegisterComponents();
    }

    /// <param name="features">[tiles, patches, D] vision features.</param>
    public override (Tensor Own, Tensor Previous) forward(Tensor features) =>
        (own.forward(features).flatten(0, 1), previous.forward(features).flatten(0, 1));

    /// <summary>Loss of both probes, plus the share of glyph patches whose own character is right.</summary>
    public (Tensor Loss, double GlyphAccuracy) Loss(Tensor features, long[] ownLabels, long[] previousLabels)
    {
        using var scope = NewDisposeScope();
        var device = features.device;
        var (ownLogits, previousLogits) = forward(features);
        var ownTarget = tensor(ownLabels, device: device);
        var weights = ones(ReadingTargets.Classes, device: device);
        weights[0] = BackgroundWeight;
        var loss = functional.cross_entropy(ownLogits, ownTarget, weight: weights, ignore_index: ReadingTargets.Ignore);
        if (previousLabels.Any(l => l != ReadingTargets.Ignore))
            loss += functional.cross_entropy(previousLogits, tensor(previousLabels, device: device), ignore_index: ReadingTargets.Ignore);
        var glyphs = ownTarget > 0;
        var total = glyphs.sum().item<long>();
        var right = total == 0 ? 0 : (ownLogits.argmax(-1) == ownTarget).logical_and(glyphs).sum().item<long>();
        return (loss.MoveToOuterDisposeScope(), total == 0 ? double.NaN : (double)right / total);
    }
}
