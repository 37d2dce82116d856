using Vireo.Model.Configuration;
using Vireo.Model.Inference;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Tests;

public sealed class ModelPartsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vireo-parts-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static string ShippedCheckpoint() => Path.Combine(AppContext.BaseDirectory, "checkpoints", "vireo-small");

    [Fact]
    public void VisionAndLanguageLoadedApartAnswerExactlyAsTheWholeModel()
    {
        var frames = ModelTests.Frames(3, seed: 21);
        using var whole = VireoEngine.Load(ShippedCheckpoint(), "cpu");
        using var vision = VireoVision.Load(ShippedCheckpoint(), "cpu");
        using var language = VireoLanguage.Load(ShippedCheckpoint(), "cpu");

        foreach (var routing in new[] { RoutingPolicy.Router(), RoutingPolicy.Router(0.9), RoutingPolicy.Fixed(compressed: true) })
        {
            var expected = whole.Analyze(frames, routing, maxNewTokens: 24);
            var encoded = vision.Encode(frames.Select(f => new FrameInput(f, routing)).ToArray());
            for (var i = 0; i < frames.Count; i++)
            {
                Assert.Equal(expected[i].Tiles, encoded[i].Tiles);
                Assert.Equal(expected[i].VisualTokensAfter, encoded[i].VisualTokensAfter);
                var text = language.Describe(encoded[i].Tiles.Select(t => t.Compressed).ToArray(), encoded[i].VisualTokens, maxNewTokens: 24).Text;
                Assert.Equal(expected[i].Text, text);
            }
        }
    }

    [Fact]
    public void AFrameDecodedInABatchGetsTheAnswerItGetsAlone()
    {
        // Different sizes, tile limits and routes give prompts of different lengths, so the batch is padded, and
        // answers of different lengths, so rows leave it at different steps.
        var frames = ModelTests.Frames(6, seed: 33);
        using var vision = VireoVision.Load(ShippedCheckpoint(), "cpu");
        using var language = VireoLanguage.Load(ShippedCheckpoint(), "cpu");
        var inputs = frames.Select((f, i) => new FrameInput(f, i % 2 == 0 ? RoutingPolicy.Router() : RoutingPolicy.Fixed(compressed: i % 3 == 0), MaxTiles: 1 + i % 4)).ToArray();
        var encoded = vision.Encode(inputs);
        Assert.True(encoded.Select(e => e.VisualTokensAfter).Distinct().Count() > 2, "prompts of several lengths");
        var rows = encoded.Select(e => new LanguageInput(e.Tiles.Select(t => t.Compressed).ToArray(), e.VisualTokens)).ToArray();

        var batched = language.DescribeBatch(rows);
        var aloneAnswers = rows.Select(r => language.DescribeBatch([r])[0]).ToArray();
        var alone = aloneAnswers.Select(a => a.Text).ToArray();
        Assert.Equal(alone, batched.Select(b => b.Text));
        // Each answer's confidences are probabilities, one per shape reported, and the same alone as beside other rows.
        Assert.All(aloneAnswers.Zip(batched), p =>
        {
            Assert.InRange(p.First.TextConfidence!.Value, 1e-6, 1.0);
            Assert.Equal(p.First.TextConfidence!.Value, p.Second.TextConfidence!.Value, 1e-4);
            Assert.Equal(ModelAnswer.Parse(p.First.Text).Shapes.Count, p.First.ShapeConfidences.Count);
            Assert.All(p.First.ShapeConfidences, c => Assert.InRange(c, language.ShapeThreshold, 1.0));
            Assert.Equal(p.First.ShapeConfidences, p.Second.ShapeConfidences, (a, b) => Math.Abs(a - b) < 1e-4);
        });
        Assert.All(alone, text => Assert.False(string.IsNullOrWhiteSpace(text)));
        Assert.True(alone.Select(t => t.Length).Distinct().Count() > 1, "answers of several lengths");
        // Reordered, the same answers follow their frames.
        var reversed = language.DescribeBatch(rows.Reverse().ToArray()).Select(b => b.Text).Reverse();
        Assert.Equal(alone, reversed);
    }

    [Fact]
    public void EachPartReadsAndChecksOnlyItsOwnTensors()
    {
        var tiny = ModelConfig.Tiny();
        // The file holds a second decoder layer that the config does not describe.
        random.manual_seed(1);
        using (var deeper = new VireoModel(tiny with { LlmConfig = tiny.LlmConfig with { NumHiddenLayers = 2 } }))
            VireoCheckpoint.Save(deeper, _dir);
        tiny.Save(Path.Combine(_dir, VireoCheckpoint.ConfigFile));

        Assert.Throws<CheckpointMismatchException>(() => VireoCheckpoint.Load(_dir).Dispose());
        using (var vision = VireoCheckpoint.LoadVision(_dir))
            Assert.All(vision.state_dict().Keys, k => Assert.Contains(VisionTower.CheckpointPrefixes, p => k.StartsWith(p, StringComparison.Ordinal)));
        var error = Assert.Throws<CheckpointMismatchException>(() => VireoCheckpoint.LoadLanguage(_dir).Dispose());
        Assert.Contains("language_model.model.layers.1.self_attn.q_proj.weight", error.Unexpected);
        Assert.All(error.Unexpected, k => Assert.StartsWith("language_model.", k));
        Assert.Empty(error.Missing);

        // A wider encoder in the file: only the vision side fails, naming its tensors.
        random.manual_seed(1);
        using (var wider = new VireoModel(tiny with { VisionConfig = tiny.VisionConfig with { HiddenSize = 64, IntermediateSize = 128 } }))
            VireoCheckpoint.Save(wider, _dir);
        tiny.Save(Path.Combine(_dir, VireoCheckpoint.ConfigFile));
        using (VireoCheckpoint.LoadLanguage(_dir)) { }
        var visionError = Assert.Throws<CheckpointMismatchException>(() => VireoCheckpoint.LoadVision(_dir).Dispose());
        Assert.Contains(visionError.Misshaped, m => m.StartsWith("vision_model.embeddings.position_embedding ", StringComparison.Ordinal));
        Assert.All(visionError.Misshaped, m => Assert.DoesNotContain("language_model.", m));
    }

    [Fact]
    public void TinyModelLoadsThroughTheNormalLoaderAndRunsAFrame()
    {
        TinyModel.Write(_dir, seed: 5);
        var first = File.ReadAllBytes(Path.Combine(_dir, VireoCheckpoint.WeightsFile));
        TinyModel.Write(_dir, seed: 5);
        Assert.Equal(first, File.ReadAllBytes(Path.Combine(_dir, VireoCheckpoint.WeightsFile)));

        using var engine = VireoEngine.Load(_dir, "cpu");
        Assert.True(engine.Model.ParameterCount() < 2_000, $"{engine.Model.ParameterCount()} parameters");
        var frame = Imaging.RgbFrame.Create(1280, 720);
        var result = Assert.Single(engine.Analyze([frame], RoutingPolicy.Router()));
        // 1280×720 is a 2×1 grid plus the thumbnail; 4 tokens a tile through mlp1, 1 through mlp2.
        Assert.Equal(3, result.Tiles.Count);
        Assert.Equal(3 * 4, result.VisualTokensBefore);
        Assert.Equal(result.Tiles.Sum(t => t.Compressed ? 1 : 4), result.VisualTokensAfter);

        using var vision = VireoVision.Load(_dir, "cpu");
        using var language = VireoLanguage.Load(_dir, "cpu");
        var encoded = vision.Encode([new FrameInput(frame, RoutingPolicy.Router())])[0];
        Assert.Equal(result.Text, language.Describe(encoded.Tiles.Select(t => t.Compressed).ToArray(), encoded.VisualTokens).Text);
    }

    [Fact]
    public void RoutingPoliciesDecideEachFrameOnItsOwn()
    {
        float[] probabilities = [0.1f, 0.5f, 0.7f, 0.95f];
        bool[] Decide(RoutingPolicy policy, double configThreshold = 0.5)
        {
            var compress = new bool[probabilities.Length];
            policy.Decide(probabilities, configThreshold, compress);
            return compress;
        }
        Assert.Equal([false, true, true, true], Decide(RoutingPolicy.Router()));
        Assert.Equal([false, false, false, true], Decide(RoutingPolicy.Router(), configThreshold: 0.9));
        Assert.Equal([false, false, true, true], Decide(RoutingPolicy.Router(0.6)));
        Assert.Equal([true, true, true, true], Decide(RoutingPolicy.Fixed(compressed: true)));
        Assert.Equal([false, false, false, false], Decide(RoutingPolicy.Fixed(compressed: false)));
        // Seeded: the same seed gives the same draws for every frame, whatever came before it.
        var random = RoutingPolicy.Random(0.5, seed: 3);
        Assert.Equal(Decide(random), Decide(random));
        Assert.Equal([true, true, true, true], Decide(RoutingPolicy.Random(1, seed: 3)));
        Assert.Equal([false, false, false, false], Decide(RoutingPolicy.Random(0, seed: 3)));
    }

    [Theory]
    [InlineData("red circle top-left; blue square right. text: AB12", "red circle top-left; blue square right", "AB12")]
    [InlineData("no shapes. text: none", "no shapes", null)]
    [InlineData("garbled output", "garbled output", null)]
    [InlineData("a. text: b. text: C3", "a. text: b", "C3")]
    public void AnswersSplitIntoCaptionAndText(string output, string caption, string? text)
    {
        var answer = ModelAnswer.Parse(output);
        Assert.Equal(new ModelAnswer(caption, text), answer);
        if (output.Contains(". text: ", StringComparison.Ordinal)) Assert.Equal(output, answer.Format());
    }

    [Fact]
    public void AShapeNamedLessSurelyThanTheThresholdIsLeftOutAndTheTextStays()
    {
        const string answer = "red circle top-left; blue square right. text: AB12";
        Assert.Equal(["red circle top-left", "blue square right"], ModelAnswer.Parse(answer).Shapes);
        Assert.Equal(["red circle top-left", "blue square right"], ModelAnswer.ShapeSpans(answer).Select(s => answer[s.Start..s.End]));
        Assert.Empty(ModelAnswer.ShapeSpans("no shapes. text: GO"));
        Assert.Empty(ModelAnswer.Parse("no shapes. text: GO").Shapes);

        Assert.Equal("blue square right. text: AB12", ModelAnswer.AtShapeThreshold(answer, [0.4, 0.9], 0.5));
        Assert.Equal("no shapes. text: AB12", ModelAnswer.AtShapeThreshold(answer, [0.4, 0.3], 0.5));
        Assert.Equal(answer, ModelAnswer.AtShapeThreshold(answer, [0.5, 0.9], 0.5));
        // Confidences that do not match the shapes leave the answer as it was.
        Assert.Equal(answer, ModelAnswer.AtShapeThreshold(answer, [0.1], 0.5));
        Assert.Equal("no shapes. text: none", ModelAnswer.AtShapeThreshold("no shapes. text: none", [], 0.9));
    }
}
