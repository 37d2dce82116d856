using System.Globalization;
using System.Text.RegularExpressions;
using Vireo.Model.Configuration;
using Vireo.Model.Imaging;
using Vireo.Model.Inference;
using Vireo.Model.Modules;
using Vireo.Model.Training.Data;
using static TorchSharp.torch;

namespace Vireo.Model.Training.Tests;

public sealed class TrainingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vireo-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
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
            Assert.Single(engine.Analyze([new SyntheticFrames(engine.Model.Tiler).Generate(new Random(1), [(448, 448)]).Frame], RoutingPolicy.Router(), maxNewTokens: 3));

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
        Assert.Matches(@"^stage 1 step 1/2 loss \S+ caption \S+ text \S+ \(small \S+\) reading \S+ glyphs .+ \(small .+\) shapes ", lines.First(l => l.StartsWith("stage 1 step", StringComparison.Ordinal)));
        Assert.True(lines.FindIndex(l => l == "reading pretraining done") < lines.FindIndex(l => l.StartsWith("stage 1 step", StringComparison.Ordinal)));

        // The reading head is kept in the checkpoint for resuming, never inside the model.
        Assert.True(File.Exists(Path.Combine(_dir, "resume", ReadingHead.File)));
        using (var model = VireoCheckpoint.Load(_dir))
            Assert.DoesNotContain(model.state_dict().Keys, k => k.StartsWith("reading", StringComparison.Ordinal));

        lines.Clear();
        new VireoTrainer(options, lines.Add).Run();
        Assert.DoesNotContain(lines, l => l.StartsWith("reading step", StringComparison.Ordinal));
    }

    [Fact]
    public void TheSmallGlyphWeightReachesTheStageOneReadingLoss()
    {
        string FirstReadingLoss(double weight)
        {
            var lines = new List<string>();
            var options = TinyRun(seed: 6) with
            {
                OutputDirectory = Path.Combine(_dir, $"w{weight}"), ReadingWeight = 1, Stage1Steps = 1, BatchSize = 4,
                TextProbability = 1, SmallTextFraction = 1, SmallGlyphWeight = weight, Sizes = [(896, 896)],
            };
            new VireoTrainer(options with { StopAfterSteps = 1 }, lines.Add).Run();
            var line = lines.First(l => l.StartsWith("stage 1 step 1/1", StringComparison.Ordinal));
            Assert.Matches(@"\(small \d", line);
            Assert.Matches(@" text \S+ \(small \d", line);
            return System.Text.RegularExpressions.Regex.Match(line, @" reading (\S+) ").Groups[1].Value;
        }
        Assert.NotEqual(FirstReadingLoss(1), FirstReadingLoss(8));
    }

    [Fact]
    public void TheTokenProbeReadsEachPatchFromTheTokenThatMergedItAndTeachesTheConnectorOnlyWhenAllowed()
    {
        // The 256-token path merges each 2x2 block of patches into one token, a place for each patch.
        var places = TokenPlaces.Of(side: 8, ratio: 0.5);
        Assert.Equal(4, places.PerToken);
        for (var r = 0; r < 8; r += 2)
            for (var c = 0; c < 8; c += 2)
            {
                int[] block = [r * 8 + c, r * 8 + c + 1, (r + 1) * 8 + c, (r + 1) * 8 + c + 1];
                Assert.Single(block.Select(p => places.Token[p]).Distinct());
                Assert.Equal(4, block.Select(p => places.Place[p]).Distinct().Count());
            }
        Assert.Equal(64, places.PatchRows().Distinct().Count());

        random.manual_seed(19);
        using var model = new VireoModel(ModelConfig.Tiny());
        var samples = Enumerable.Range(0, 2).Select(i => new SyntheticFrames(model.Tiler).Generate(new Random(i), [(448, 448)], textProbability: 1)).ToList();
        var labels = ReadingLabels.For(samples, s => ReadingTargets.For(s, model.Tiler, model.Config.PatchSize));
        using var features = model.Vision.forward(TileBatch.From(model.Tiler, samples.Select(s => s.Frame).ToList()).ToTensor(CPU)).detach();
        using var head = new ReadingHead(model.Config.VisionConfig.HiddenSize, VireoTrainer.TokenPath(model));
        var connector = model.named_parameters().Where(p => p.name.StartsWith("mlp1.", StringComparison.Ordinal)).Select(p => p.parameter).ToList();
        bool ConnectorLearns(bool reachesModel)
        {
            model.zero_grad(set_to_none: true);
            using var tokens = model.ConnectStandard(features);
            var result = head.Loss(features, labels, reachesModel ? tokens : tokens.detach());
            Assert.NotNull(result.Tokens);
            result.Loss.backward();
            return connector.All(p => p.grad is { } g && g.abs().sum().item<float>() > 0);
        }
        Assert.True(ConnectorLearns(reachesModel: true));
        Assert.False(ConnectorLearns(reachesModel: false));
    }

    [Fact]
    public void AFineTuneAddsATokenProbeToAnEncoderOnlyReadingHeadAndLogsWhatItReads()
    {
        var source = Path.Combine(_dir, "source");
        new VireoTrainer(TinyRun(seed: 20) with { OutputDirectory = source, Stage1Steps = 1, ReadingWeight = 1 }, _ => { }).Run();
        File.Copy(Path.Combine(source, "resume", ReadingHead.File), Path.Combine(source, ReadingHead.File));
        Assert.DoesNotContain(SafetensorsArchive.TensorNames(Path.Combine(source, ReadingHead.File)), n => n.StartsWith("tokens.", StringComparison.Ordinal));

        var tuned = Path.Combine(_dir, "tuned");
        var lines = new List<string>();
        new VireoTrainer(TinyRun(seed: 21) with
        {
            OutputDirectory = tuned, InitFrom = source, Stage1Steps = 2, ReadingWeight = 1, TokenReadingWeight = 1, TokenReadingWarmup = 1,
            TextProbability = 1, StopAfterSteps = 2,
        }, lines.Add).Run();
        Assert.Contains($"reading head initialised from {Path.Combine(source, ReadingHead.File)}", lines);
        Assert.Matches(@" shapes .+ tokens \d+\.\d ?% \(small \d+\.\d ?%\) tiles/s", lines.First(l => l.StartsWith("stage 1 step 2/2", StringComparison.Ordinal)));
        var saved = Path.Combine(tuned, "resume", ReadingHead.File);
        Assert.Contains("tokens.weight", SafetensorsArchive.TensorNames(saved));

        // The head with its token probe resumes as it was, and still loads as the encoder probes alone.
        using var model = VireoCheckpoint.Load(tuned);
        using (var resumed = ReadingHead.Load(saved, model.Config.VisionConfig.HiddenSize, VireoTrainer.TokenPath(model)))
            Assert.True(resumed.ReadsTokens);
        using var encoderOnly = ReadingHead.Load(saved, model.Config.VisionConfig.HiddenSize);
        Assert.False(encoderOnly.ReadsTokens);
    }

    /// <summary>A run through every stage: 2 reading steps, 3 of stage 1 (with the reading loss), 2 each of stages 2 and 3.</summary>
    private TrainingOptions EveryStage(string directory, int seed) => TinyRun(seed) with
    {
        OutputDirectory = directory, ReadingSteps = 2, ReadingWeight = 1, Stage1Steps = 3, Stage2Steps = 2, Stage3Steps = 2,
    };

    private static byte[] Weights(string directory) => File.ReadAllBytes(Path.Combine(directory, VireoCheckpoint.WeightsFile));

    [Fact]
    public void TwoRunsWithOneSeedEndWithTheSameWeights()
    {
        var a = Path.Combine(_dir, "a");
        var b = Path.Combine(_dir, "b");
        var c = Path.Combine(_dir, "c");
        new VireoTrainer(EveryStage(a, seed: 6), _ => { }).Run();
        new VireoTrainer(EveryStage(b, seed: 6), _ => { }).Run();
        new VireoTrainer(EveryStage(c, seed: 7), _ => { }).Run();
        Assert.Equal(Weights(a), Weights(b));
        Assert.NotEqual(Weights(a), Weights(c));
    }

    [Fact]
    public void ABatchIsTheSameFramesTilesAndLabelsOnOneThreadOrManyAndWhereverItIsTiled()
    {
        var options = TinyRun(3) with { BatchSize = 6, RealFraction = 0.5, ReadingWeight = 1 };
        var tiler = new VireoModel(ModelConfig.Tiny()).Tiler;
        var one = new TrainingBatches(options, tiler, ModelConfig.Tiny().PatchSize) { MaxThreads = 1 };
        var many = new TrainingBatches(options, tiler, ModelConfig.Tiny().PatchSize);
        var a = one.Prepare(1, 7, CPU);
        var b = many.Prepare(1, 7, CPU);

        Assert.Contains(a.Samples, s => s.Line is not null);
        Assert.Equal(a.Samples.Select(s => s.Answer), b.Samples.Select(s => s.Answer));
        Assert.Equal(a.Tiles.TileCounts, b.Tiles.TileCounts);
        using var tilesA = a.Tiles.ToTensor(CPU);
        using var tilesB = b.Tiles.ToTensor(CPU);
        Assert.True(tilesA.equal(tilesB).all().item<bool>());
        Assert.NotNull(a.Labels);
        Assert.Equal(a.Labels!.Own, b.Labels!.Own);
        Assert.NotEqual(a.Samples.Select(s => s.Answer), one.Prepare(1, 8, CPU).Samples.Select(s => s.Answer));

        // Tiled on the device from the 8-bit frames: the same frames, the same tiles to float rounding.
        var onDevice = new TrainingBatches(options with { TilesOnDevice = true }, tiler, ModelConfig.Tiny().PatchSize).Prepare(1, 7, CPU);
        Assert.Equal(a.Samples.Select(s => s.Answer), onDevice.Samples.Select(s => s.Answer));
        using var tilesOnDevice = onDevice.Tiles.ToTensor(CPU);
        Assert.True((tilesOnDevice - tilesA).abs().max().item<float>() < 5e-4);
    }

    [Fact]
    public void RealTrainingFramesTakeTheSizesOfVideoAndTheirTileScaleOnlyWhenAsked()
    {
        var options = TinyRun(3) with { BatchSize = 16, RealFraction = 1 };
        var tiler = new VireoModel(ModelConfig.Tiny()).Tiler;
        (int, int)[] Sizes(TrainingOptions run) =>
            Enumerable.Range(0, 4).SelectMany(step => new TrainingBatches(run, tiler, ModelConfig.Tiny().PatchSize).Samples(1, step))
                .Select(s => (s.Frame.Width, s.Frame.Height)).ToArray();

        var training = Sizes(options);
        Assert.All(training, size => Assert.Contains(size, RealFrames.TrainingSizes));
        var video = Sizes(options with { VideoSizes = true });
        Assert.Contains(video, size => !RealFrames.TrainingSizes.Contains(size));
        Assert.All(video, size => Assert.Contains(size, RealFrames.TrainingAndVideoSizes));

        // At tile scale the same draws come out at their tile grid's scale.
        var scaled = Sizes(options with { VideoSizes = true, DrawAtTileScale = true });
        Assert.Equal(video.Select(size => RealFrames.AtTileScale(size, tiler)), scaled);
        Assert.True(scaled.Sum(s => s.Item1 * s.Item2) < video.Sum(s => s.Item1 * s.Item2));
    }

    [Fact]
    public void WithDataEchoEachFrameIsDrawnOnceAndTrainedInConsecutiveBatches()
    {
        var options = TinyRun(3) with { BatchSize = 4, RealFraction = 0.5, DataEcho = 2 };
        var tiler = new VireoModel(ModelConfig.Tiny()).Tiler;
        var patch = ModelConfig.Tiny().PatchSize;
        static string Key(SyntheticSample s) => s.Answer + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(s.Frame.Pixels));
        var batches = new TrainingBatches(options, tiler, patch);
        var five = batches.Samples(1, 5).Select(Key).ToList();
        var six = batches.Samples(1, 6).Select(Key).ToList();

        Assert.Equal(4, six.Count);
        Assert.Equal(4, six.Distinct().Count());
        // Half of step 6 is fresh; the other half is step 5's fresh half, which step 7 will not see again.
        Assert.Equal(five.Take(2), six.Skip(2));
        Assert.Empty(six.Take(2).Intersect(five));
        Assert.Empty(batches.Samples(1, 7).Select(Key).Intersect(five.Take(2)));
        // A resumed run, with nothing cached, trains on the same frames.
        Assert.Equal(six, new TrainingBatches(options, tiler, patch).Samples(1, 6).Select(Key));

        var plain = new TrainingBatches(options with { DataEcho = 1 }, tiler, patch);
        Assert.Empty(plain.Samples(1, 5).Select(Key).Intersect(plain.Samples(1, 6).Select(Key)));
    }

    [Fact]
    public void TheTrainingBenchTimesTheTrainersOwnStepAndTheStepTrains()
    {
        using var model = new VireoModel(ModelConfig.Tiny());
        var before = model.Vision.parameters().Select(p => p.detach().clone()).ToList();
        var result = TrainingBench.Run(model, TinyRun(5) with { BatchSize = 3, RealFraction = 0, ReadingWeight = 1 }, CPU, steps: 2);

        Assert.Equal(2, result.Steps);
        // Tiny frames are one tile each, and the step uploads, runs and updates all of them.
        Assert.Equal(3, result.TilesPerStep);
        Assert.True(result.StepMs > 0 && result.VisionForwardBackwardMs > 0 && result.VisionForwardMs > 0 && result.HostBatchMs > 0 && result.HostDrawMs > 0, result.ToString());
        Assert.Contains(model.Vision.parameters().Zip(before), pair => !pair.First.detach().allclose(pair.Second, rtol: 0, atol: 0));
    }

    [Fact]
    public void BatchSeedsAreAFixedFunctionOfTheRunSeed()
    {
        // Pinned values: a per-process hash (HashCode.Combine) would give other numbers in every test run, and a
        // resumed or repeated run in another process would train on other frames.
        Assert.Equal(733_647_653, TrainingSeeds.Derive(1, 1, 0));
        Assert.Equal(944_430_965, TrainingSeeds.Derive(1, 1, 1));
        Assert.Equal(34_576_941, TrainingSeeds.Derive(1, 11, 0));
        Assert.Equal(1_214_035_366, TrainingSeeds.Derive(2, 1, 0));
        Assert.All(Enumerable.Range(0, 1000), step => Assert.InRange(TrainingSeeds.Derive(-5, 22, step), 0, int.MaxValue));
    }

    [Fact]
    public void ARunStoppedAndResumedEndsExactlyAsAnUninterruptedOne()
    {
        var whole = Path.Combine(_dir, "whole");
        var pieces = Path.Combine(_dir, "pieces");
        var expected = new VireoTrainer(EveryStage(whole, seed: 8), _ => { }).Run();

        // Stops inside reading pretraining and inside stages 1, 2 and 3.
        var lines = new List<string>();
        TrainingState? state = null;
        foreach (var steps in new int?[] { 1, 3, 2, 2, null })
            state = new VireoTrainer(EveryStage(pieces, seed: 8) with { StopAfterSteps = steps }, lines.Add).Run();

        Assert.Equal((expected.Stage, expected.Step, expected.ReadingStep), (state!.Stage, state.Step, state.ReadingStep));
        Assert.Equal(expected.RecentRatios, state.RecentRatios);
        Assert.Equal(Weights(whole), Weights(pieces));
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(whole, "resume", ReadingHead.File)),
            File.ReadAllBytes(Path.Combine(pieces, "resume", ReadingHead.File)));
        Assert.Equal(4, lines.Count(l => l.StartsWith("step limit reached", StringComparison.Ordinal)));
        Assert.Equal(4, lines.Count(l => l == "optimizer state restored"));
    }

    [Fact]
    public void AFineTuneOnRealFramesStartsFromTheGivenModelAndResumesExactly()
    {
        var source = Path.Combine(_dir, "source");
        new VireoTrainer(TinyRun(seed: 9) with { OutputDirectory = source, Stage1Steps = 1 }, _ => { }).Run();
        TrainingOptions FineTune(string directory) => TinyRun(seed: 10) with
        {
            OutputDirectory = directory, InitFrom = source, RealFraction = 1, Stage1Steps = 2, LearningRate = 0, RouterLearningRate = 0,
        };

        // At a learning rate of 0 the fine-tuned model is its source, which is the point of starting from it.
        var frozen = Path.Combine(_dir, "frozen");
        var lines = new List<string>();
        new VireoTrainer(FineTune(frozen), lines.Add).Run();
        Assert.Contains(lines, l => l == $"all weights initialised from {source}");
        Assert.Contains(lines, l => l.StartsWith("real frames 100 %", StringComparison.Ordinal));
        using (var a = VireoCheckpoint.Load(source))
        using (var b = VireoCheckpoint.Load(frozen))
            Assert.All(a.state_dict(), p => Assert.True(p.Value.allclose(b.state_dict()[p.Key], 0, 0), p.Key));

        var whole = Path.Combine(_dir, "whole");
        var pieces = Path.Combine(_dir, "pieces");
        new VireoTrainer(FineTune(whole) with { LearningRate = 1e-3, RouterLearningRate = 1e-3 }, _ => { }).Run();
        foreach (var steps in new int?[] { 1, 2, null })
            new VireoTrainer(FineTune(pieces) with { LearningRate = 1e-3, RouterLearningRate = 1e-3, StopAfterSteps = steps }, _ => { }).Run();
        Assert.Equal(Weights(whole), Weights(pieces));
        Assert.NotEqual(Weights(source), Weights(whole));
    }

    [Fact]
    public void AGrownModelAnswersAsItsSourceDidAndItsNewLayersAndStemTrain()
    {
        var source = Path.Combine(_dir, "source");
        new VireoTrainer(TinyRun(seed: 12) with { OutputDirectory = source, Stage1Steps = 2 }, _ => { }).Run();
        TrainingOptions Grow(string directory, double learningRate) => TinyRun(seed: 13) with
        {
            OutputDirectory = directory, InitFrom = source, AddVisionLayers = 2, AddLanguageLayers = 1, AddConvStem = 8, Stage1Steps = 2,
            LearningRate = learningRate, RouterLearningRate = learningRate,
        };

        var frozen = Path.Combine(_dir, "frozen");
        var lines = new List<string>();
        new VireoTrainer(Grow(frozen, 0), lines.Add).Run();
        Assert.Contains(lines, l => l.StartsWith("grown: vision encoder 1 → 3 layers, language model 1 → 2, convolutional stem 0 → 8 channels;", StringComparison.Ordinal));
        using (var before = VireoCheckpoint.Load(source))
        using (var after = VireoCheckpoint.Load(frozen))
        {
            Assert.Equal((3, 2, 8), (after.Config.VisionConfig.NumHiddenLayers, after.Config.LlmConfig.NumHiddenLayers, after.Config.VisionConfig.ConvStemChannels));
            Assert.True(after.ParameterCount() > before.ParameterCount());
            // The same frame and answer give the same logits: the new layers and the stem start as the identity.
            var sample = new SyntheticFrames(before.Tiler).Generate(new Random(5), [(896, 448)], textProbability: 1);
            var tiles = TileBatch.From(before.Tiler, [sample.Frame]);
            using var pixels = tiles.ToTensor(CPU);
            var compress = Enumerable.Range(0, tiles.TotalTiles).Select(t => t % 2 == 0).ToList();
            Tensor Logits(VireoModel model)
            {
                using var seq = SequenceBatch.Build(model, [sample.Answer], tiles.TileCounts, compress, CPU);
                return TeacherForcing.ResponseLogits(model, model.Vision.forward(pixels), compress, seq);
            }
            using (no_grad())
            using (var expected = Logits(before))
            using (var actual = Logits(after))
                Assert.True(expected.allclose(actual, rtol: 0, atol: 1e-6));
        }

        var trained = Path.Combine(_dir, "trained");
        new VireoTrainer(Grow(trained, 1e-3), _ => { }).Run();
        using var model = VireoCheckpoint.Load(trained);
        var weights = model.state_dict();
        foreach (var name in new[] { "vision_model.encoder.layers.2.mlp.fc2.weight", "language_model.model.layers.1.self_attn.o_proj.weight", "vision_model.embeddings.stem.conv3.weight" })
            Assert.True(weights[name].abs().max().item<float>() > 0, name);
    }

    [Fact]
    public void AFineTuneStartsFromTheReadingHeadKeptBesideItsSource()
    {
        var source = Path.Combine(_dir, "source");
        new VireoTrainer(TinyRun(seed: 14) with { OutputDirectory = source, Stage1Steps = 2, ReadingWeight = 1 }, _ => { }).Run();
        var probe = Path.Combine(source, "resume", ReadingHead.File);
        File.Copy(probe, Path.Combine(source, ReadingHead.File));

        // With the learning rate at 0 the fine-tune's probe stays what it started as.
        var tuned = Path.Combine(_dir, "tuned");
        var lines = new List<string>();
        new VireoTrainer(TinyRun(seed: 15) with
        {
            OutputDirectory = tuned, InitFrom = source, Stage1Steps = 2, ReadingWeight = 1, ReadingHeadWarmup = 1,
            LearningRate = 0, RouterLearningRate = 0, StopAfterSteps = 1,
        }, lines.Add).Run();
        Assert.Contains($"reading head initialised from {Path.Combine(source, ReadingHead.File)}", lines);
        Assert.Equal(File.ReadAllBytes(probe), File.ReadAllBytes(Path.Combine(tuned, "resume", ReadingHead.File)));
    }

    [Fact]
    public void ARunStoppedMidStageLeavesASmallSnapshotThatAFineTuneGoesOnFrom()
    {
        var run = Path.Combine(_dir, "run");
        var stopped = new VireoTrainer(TinyRun(seed: 16) with { OutputDirectory = run, Stage1Steps = 4, ReadingWeight = 1, StopAfterSteps = 2 }, _ => { }).Run();
        Assert.Equal((1, 2), (stopped.Stage, stopped.Step));
        var snapshot = Path.Combine(_dir, "snapshot");
        VireoTrainer.WriteSnapshot(run, snapshot);

        // The weights the run stopped at, in half the bytes, and its probe as the checkpoint keeps it.
        using (var saved = VireoCheckpoint.Load(Path.Combine(run, "resume")))
        using (var small = VireoCheckpoint.Load(snapshot))
        {
            var expected = saved.state_dict();
            foreach (var (name, tensor) in small.state_dict())
                Assert.True(tensor.allclose(expected[name].to(ScalarType.Float16).to(ScalarType.Float32), rtol: 0, atol: 0), name);
        }
        Assert.True(new FileInfo(Path.Combine(snapshot, VireoCheckpoint.WeightsFile)).Length < new FileInfo(Path.Combine(run, VireoCheckpoint.WeightsFile)).Length * 0.6);
        Assert.Equal(File.ReadAllBytes(Path.Combine(run, "resume", ReadingHead.File)), File.ReadAllBytes(Path.Combine(snapshot, ReadingHead.File)));

        var lines = new List<string>();
        new VireoTrainer(TinyRun(seed: 17) with { OutputDirectory = Path.Combine(_dir, "next"), InitFrom = snapshot, Stage1Steps = 2, ReadingWeight = 1, StopAfterSteps = 1 }, lines.Add).Run();
        Assert.Contains($"reading head initialised from {Path.Combine(snapshot, ReadingHead.File)}", lines);
        Assert.Throws<InvalidOperationException>(() => VireoTrainer.WriteSnapshot(Path.Combine(_dir, "nothing"), Path.Combine(_dir, "none")));

        // Written again over it from a run without a probe, the snapshot keeps none.
        var plain = Path.Combine(_dir, "plain");
        new VireoTrainer(TinyRun(seed: 18) with { OutputDirectory = plain, Stage1Steps = 2, StopAfterSteps = 1 }, _ => { }).Run();
        VireoTrainer.WriteSnapshot(plain, snapshot);
        Assert.False(File.Exists(Path.Combine(snapshot, ReadingHead.File)));
    }

    [Fact]
    public void AnswerLossWithoutCaptionIgnoresCaptionTokens()
    {
        random.manual_seed(3);
        using var model = new VireoModel(ModelConfig.Tiny());
        var answers = new[] { "red circle top-left. text: none", "no shapes. text: GO12" };
        using var seq = SequenceBatch.Build(model, answers, [1, 1], [false, true], CPU);
        var n = seq.CaptionTargets.Length;
        using var low = ones(n);
        using var high = ones(n);
        for (var i = 0; i < n; i++)
            if (seq.CaptionTargets[i]) high[i] = 50f;

        using var withoutLow = TeacherForcing.AnswerLoss(low, seq, includeCaption: false);
        using var withoutHigh = TeacherForcing.AnswerLoss(high, seq, includeCaption: false);
        using var withHigh = TeacherForcing.AnswerLoss(high, seq, includeCaption: true);

        Assert.Contains(true, seq.CaptionTargets);
        Assert.Equal(1f, withoutLow.item<float>(), 5);
        Assert.Equal(1f, withoutHigh.item<float>(), 5);
        Assert.True(withHigh.item<float>() > 10f);
    }

    [Fact]
    public void SmallTextCountsAsOftenAsItsWeightInTheAnswerLossAndNothingElseMoves()
    {
        random.manual_seed(4);
        using var model = new VireoModel(ModelConfig.Tiny());
        var answers = new[] { "no shapes. text: AB3", "red circle top-left. text: GO12", "blue square right. text: none" };
        using var seq = SequenceBatch.Build(model, answers, [1, 1, 1], [false, false, true], CPU, smallText: [true, false, false]);
        // Only the three characters of the first answer's text are small text: not its eos, not the large text.
        Assert.Equal(3, seq.SmallTextTargets.Count(x => x));
        var starts = seq.ResponseLengths.Select((_, f) => seq.ResponseLengths.Take(f).Sum()).ToArray();
        for (var i = 0; i < seq.SmallTextTargets.Length; i++)
            Assert.Equal(i < starts[1] && seq.TextTargets[i], seq.SmallTextTargets[i]);

        var n = seq.Targets.shape[0];
        var outsideCaption = seq.CaptionTargets.Count(c => !c);
        using var loss = ones(n);
        foreach (var includeCaption in new[] { true, false })
        {
            using var plain = TeacherForcing.AnswerLoss(loss, seq, includeCaption);
            using var same = TeacherForcing.AnswerLoss(loss, seq, includeCaption, smallTextWeight: 1);
            using var weighted = TeacherForcing.AnswerLoss(loss, seq, includeCaption, smallTextWeight: 5);
            var count = includeCaption ? n : outsideCaption;
            Assert.Equal(1f, plain.item<float>(), 5);
            Assert.Equal(plain.item<float>(), same.item<float>());
            Assert.Equal((count + 4 * 3) / (float)count, weighted.item<float>(), 5);
        }

        // Told nothing, a batch has no small text, and the weight changes nothing.
        using var untold = SequenceBatch.Build(model, answers, [1, 1, 1], [false, false, true], CPU);
        Assert.DoesNotContain(true, untold.SmallTextTargets);
        using var untoldLoss = TeacherForcing.AnswerLoss(loss, untold, includeCaption: true, smallTextWeight: 5);
        Assert.Equal(1f, untoldLoss.item<float>(), 5);
    }
}
