using System.Globalization;
using System.Text.RegularExpressions;
using TorchSharp;
using Vireo.Model.Configuration;
using Vireo.Model.Data;
using Vireo.Model.Evaluation;
using Vireo.Model.Inference;
using Vireo.Model.Modules;
using Vireo.Model.Training;
using static TorchSharp.torch;

namespace Vireo.Model.Tests;

public sealed class CheckpointAndTrainingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vireo-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    public void SafetensorsRoundTripKeepsEveryTensor(ScalarType storage)
    {
        random.manual_seed(1);
        using var model = new VireoModel(ModelConfig.Tiny());
        VireoCheckpoint.Save(model, _dir, storage);
        using var loaded = VireoCheckpoint.Load(_dir);
        Assert.Equal(model.Config.LlmConfig, loaded.Config.LlmConfig);
        var expected = model.state_dict();
        var actual = loaded.state_dict();
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        var tolerance = storage == ScalarType.Float16 ? 1e-2 : 0;
        foreach (var (name, tensor) in expected)
        {
            Assert.Equal(ScalarType.Float32, actual[name].dtype);
            Assert.True(allclose(tensor, actual[name], rtol: tolerance, atol: tolerance), name);
        }
    }

    [Fact]
    public void MismatchedCheckpointIsReportedByNameAndShape()
    {
        random.manual_seed(1);
        using (var model = new VireoModel(ModelConfig.Tiny())) VireoCheckpoint.Save(model, _dir);
        var tiny = ModelConfig.Tiny();
        // Two decoder layers and a wider router input: layer 1 is missing, and ViT-width tensors mis-shaped.
        var other = tiny with
        {
            LlmConfig = tiny.LlmConfig with { NumHiddenLayers = 2 },
            VisionConfig = tiny.VisionConfig with { HiddenSize = 64, IntermediateSize = 128 },
        };
        using var target = new VireoModel(other);
        var error = Assert.Throws<CheckpointMismatchException>(() =>
            VireoCheckpoint.LoadWeights(target, Path.Combine(_dir, VireoCheckpoint.WeightsFile)));
        Assert.Contains("language_model.model.layers.1.self_attn.q_proj.weight", error.Missing);
        Assert.Empty(error.Unexpected);
        Assert.Contains(error.Misshaped, m => m.StartsWith("vision_model.embeddings.position_embedding (model [1,1025,64], file [1,1025,32])", StringComparison.Ordinal));
        Assert.Contains("missing", error.Message);
        Assert.Contains("wrong shape", error.Message);

        // A file with a tensor the model does not have is reported as unexpected.
        using var smaller = new VireoModel(tiny with { RouterConfig = new RouterConfig { NumGatingBlocks = 1 } });
        var extra = Assert.Throws<CheckpointMismatchException>(() =>
            VireoCheckpoint.LoadWeights(smaller, Path.Combine(_dir, VireoCheckpoint.WeightsFile)));
        Assert.Contains("vir.blocks.1.fc1.weight", extra.Unexpected);
    }

    /// <summary>A CPU run of the tiny model on single-tile frames, batch 2, logging every step, one step of stages 2 and 3.</summary>
    private TrainingOptions TinyRun(int seed) => new()
    {
        OutputDirectory = _dir,
        Device = "cpu",
        Seed = seed,
        Stage2Steps = 1,
        Stage3Steps = 1,
        BatchSize = 2,
        LogEvery = 1,
        CheckpointEvery = 1000,
        Sizes = [(448, 448)],
        Model = ModelConfig.Tiny(),
    };

    [Fact]
    public void ShortTrainingRunLowersTheLossAndResumes()
    {
        var losses = new List<double>();
        var options = TinyRun(seed: 4) with { Stage1Steps = 14, LearningRate = 3e-3 };
        void Log(string line)
        {
            var m = Regex.Match(line, @"^stage 1 step \d+/\d+ loss ([0-9.]+)");
            if (m.Success) losses.Add(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        var state = new VireoTrainer(options, Log).Run();
        Assert.Equal(4, state.Stage);
        Assert.Equal(14, losses.Count);
        Assert.True(losses.TakeLast(3).Average() < losses.Take(3).Average() - 0.3, string.Join(", ", losses));
        Assert.True(File.Exists(Path.Combine(_dir, VireoCheckpoint.WeightsFile)));

        // A finished run resumes as a no-op and its checkpoint loads for inference.
        var again = new VireoTrainer(options, _ => { }).Run();
        Assert.Equal(4, again.Stage);
        using (var engine = VireoEngine.Load(_dir, "cpu"))
            Assert.Single(engine.Analyze(ModelTests.Frames(engine, 1, 1), RoutingOptions.Auto, maxNewTokens: 3));

        // Asking for a longer stage 1 rolls back to the frozen stage-1 weights and continues from step 14.
        var lines = new List<string>();
        var extended = new VireoTrainer(options with { Stage1Steps = 16, ContinueStage1 = true }, lines.Add).Run();
        Assert.Equal((4, 16), (extended.Stage, extended.Stage1Completed));
        Assert.Contains(lines, l => l.StartsWith("continuing stage 1 from its frozen weights at step 14", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("stage 1 step 15/16", StringComparison.Ordinal));
    }

    [Fact]
    public void ReadingPretrainingRunsBeforeStageOneAndIsNotRepeatedOnResume()
    {
        var lines = new List<string>();
        var options = TinyRun(seed: 5) with { ReadingSteps = 3, ReadingWeight = 1, SineCosinePositions = true, Stage1Steps = 2 };
        var state = new VireoTrainer(options with { TimeLimit = TimeSpan.Zero }, lines.Add).Run();
        Assert.Equal((1, 0, 0), (state.Stage, state.Step, state.ReadingStep));

        state = new VireoTrainer(options, lines.Add).Run();
        Assert.Equal((4, 3), (state.Stage, state.ReadingStep));
        Assert.Equal(3, lines.Count(l => l.StartsWith("reading step ", StringComparison.Ordinal)));
        Assert.Matches(@"^stage 1 step 1/2 loss \S+ caption \S+ text \S+ reading \S+ glyphs .+ shapes ", lines.First(l => l.StartsWith("stage 1 step", StringComparison.Ordinal)));
        Assert.True(lines.FindIndex(l => l == "reading pretraining done") < lines.FindIndex(l => l.StartsWith("stage 1 step", StringComparison.Ordinal)));

        // The reading head is kept beside the checkpoint for resuming, never inside the model.
        Assert.True(File.Exists(Path.Combine(_dir, ReadingHead.File)));
        using (var model = VireoCheckpoint.Load(_dir))
            Assert.DoesNotContain(model.state_dict().Keys, k => k.StartsWith("reading", StringComparison.Ordinal));

        lines.Clear();
        new VireoTrainer(options, lines.Add).Run();
        Assert.DoesNotContain(lines, l => l.StartsWith("reading step", StringComparison.Ordinal));
    }

    [Fact]
    public void SineCosinePositionsEncodeRowAndColumn()
    {
        using var model = new VireoModel(ModelConfig.Tiny());
        model.Vision.UseSineCosinePositions();
        var table = model.Vision.state_dict()["embeddings.position_embedding"];
        var side = model.Config.PatchesPerSide;
        var d = (int)table.shape[2];
        // Patch (row 2, column 5): sin(row), cos(row), sin(column), cos(column) at the lowest frequency (1 rad a patch).
        var patch = table[0, 1 + 2 * side + 5].data<float>().ToArray();
        Assert.Equal(Math.Sin(2), patch[0], 5);
        Assert.Equal(Math.Cos(2), patch[d / 4], 5);
        Assert.Equal(Math.Sin(5), patch[d / 2], 5);
        Assert.Equal(Math.Cos(5), patch[3 * d / 4], 5);
        Assert.All(table[0, 0].data<float>().ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ShippedCheckpointLoadsAndDescribesFrames()
    {
        var dir = ShippedCheckpoint();
        var bytes = Directory.GetFiles(dir).Sum(f => new FileInfo(f).Length);
        Assert.True(bytes <= 16 * 1024 * 1024, $"{bytes} bytes");
        using var engine = VireoEngine.Load(dir, "cpu");
        var generator = new SyntheticFrames(engine.Model.Tiler);
        var rng = new Random(VireoEvaluatorSeed);
        var samples = Enumerable.Range(0, 4).Select(_ => generator.Generate(rng, [(448, 448)], textProbability: 0)).ToList();
        var results = engine.Analyze(samples.Select(s => s.Frame).ToList(), RoutingOptions.Off);
        var correct = samples.Zip(results).Count(p => SyntheticFrames.ParseAnswer(p.Second.Text).Caption == p.First.Caption);
        Assert.True(correct >= 3, string.Join(" | ", samples.Zip(results).Select(p => $"{p.First.Answer} => {p.Second.Text}")));
    }

    [Fact]
    public void ShippedCheckpointReadsTheTextOfFrames()
    {
        using var engine = VireoEngine.Load(ShippedCheckpoint(), "cpu");
        var generator = new SyntheticFrames(engine.Model.Tiler);
        var rng = new Random(VireoEvaluatorSeed + 1);
        var samples = Enumerable.Range(0, 6).Select(_ => generator.Generate(rng, [(448, 448)], textProbability: 1, largeTextFraction: 1)).ToList();
        Assert.All(samples, s => Assert.NotNull(s.Text));
        // The mode the pipeline runs: the router picks each tile's connector.
        var results = engine.Analyze(samples.Select(s => s.Frame).ToList(), RoutingOptions.Auto);
        var read = samples.Zip(results).Count(p => SyntheticFrames.ParseAnswer(p.Second.Text).Text == p.First.Text);
        Assert.True(read >= 4, string.Join(" | ", samples.Zip(results).Select(p => $"{p.First.Answer} => {p.Second.Text}")));
    }

    [Fact]
    public void HeldOutSetKeepsItsMixAndStaysTheSame()
    {
        using var engine = new VireoEngine(new VireoModel(ModelConfig.Small()), CPU);
        var set = VireoEvaluator.HeldOutSet(engine, 120, 7);

        Assert.True(set.Count(s => s.Text is not null) >= 60);
        Assert.True(set.Count(s => s.TextSize == TextSize.Small) >= 30);
        Assert.Contains(set, s => s.BusyBackground);
        Assert.Contains(set, s => !s.BusyBackground);
        Assert.True(set.Select(s => (s.Frame.Width, s.Frame.Height)).Distinct().Count() >= 4);
        // The published eval numbers are comparable only while these are the same frames and answers.
        Assert.Equal(HeldOutSetHash, Hash(set));
        Assert.Equal(HeldOutSetHash, Hash(VireoEvaluator.HeldOutSet(engine, 120, 7)));
    }

    private const string HeldOutSetHash = "707632928E8D65BBB4C76139DD4969EDF1BF15A23045B40CE8C95AA6FD0A0D0A";

    private static string Hash(IEnumerable<SyntheticSample> samples)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var s in samples)
        {
            sha.AppendData(s.Frame.Pixels);
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(s.Answer));
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    private const int VireoEvaluatorSeed = 424242;

    private static string ShippedCheckpoint()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !Directory.Exists(Path.Combine(dir, "grains", "Vireo.Model", "checkpoints", "vireo-small")))
            dir = Path.GetDirectoryName(dir);
        return dir is null
            ? throw new DirectoryNotFoundException("grains/Vireo.Model/checkpoints/vireo-small not found above the test binaries.")
            : Path.Combine(dir, "grains", "Vireo.Model", "checkpoints", "vireo-small");
    }
}
