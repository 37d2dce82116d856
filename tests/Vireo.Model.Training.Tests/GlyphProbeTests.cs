using Vireo.Model.Inference;
using Vireo.Model.Training.Data;
using Vireo.Model.Training.Evaluation;
using Vireo.Testing;

namespace Vireo.Model.Training.Tests;

public sealed class GlyphProbeTests
{
    [Fact]
    public void ProbesNameHeldOutGlyphsFromTheShippedEncoderAndScoreEachPathOnTheSamePatches()
    {
        using var engine = VireoEngine.Load(Repository.ShippedCheckpoint, "cpu");
        var config = engine.Model.Config;
        var before = engine.Model.parameters().Select(p => p.sum().item<float>()).ToArray();

        var scores = GlyphProbe.Run(engine.Model, trainFrames: 40, testFrames: 20, seed: 5);

        Assert.Equal(GlyphProbe.Representations, scores.Select(s => s.Representation));
        var hidden = config.LlmConfig.HiddenSize;
        Assert.Equal([config.VisionConfig.HiddenSize, 4 * hidden, 16 * hidden], scores.Select(s => s.Width));
        // Every representation is scored on the same held-out patches, small and large text apart.
        Assert.Single(scores.Select(s => (s.SmallPatches, s.LargePatches)).Distinct());
        Assert.True(scores[0].SmallPatches > 0 && scores[0].LargePatches > 5 * scores[0].SmallPatches);
        // The encoder's features name large glyphs of fonts it never trained on far above chance.
        var chance = 1.0 / BitmapFont.Alphabet.Length;
        Assert.True(scores[0].Large > 5 * chance, $"{scores[0].Large:P1} of large glyphs");
        Assert.All(scores, s => Assert.InRange(s.Small, 0, 1));
        // Probing leaves the model as it was.
        Assert.Equal(before, engine.Model.parameters().Select(p => p.sum().item<float>()));
        var report = GlyphProbe.Report(scores);
        Assert.Matches(@"probe_small_patch=\d\.\d{3} probe_large_patch=\d\.\d{3} probe_small_256=\d\.\d{3} probe_large_256=\d\.\d{3} probe_small_64=\d\.\d{3} probe_large_64=\d\.\d{3}$", report);
    }
}
