using System.Diagnostics;
using TorchSharp;
using Vireo.Model.Training.Data;
using Vireo.Model.Imaging;
using Vireo.Model.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Training;

/// <summary>
/// ViCO's three stages on synthetic frames: (1) both connectors on the tasks, (2) consistency with a frozen
/// 256-token reference, (3) the router from loss ratios. Seeded: batch k of stage s is the same frames on
/// every run, and a checkpoint keeps the optimizer's state beside the weights, so a run stopped and resumed ends
/// with the same weights, bit for bit, as one that never stopped.
/// </summary>
public sealed class VireoTrainer(TrainingOptions options, Action<string> log)
{
    public const string ReferenceFile = "reference.safetensors";

    private readonly Stopwatch _clock = new();
    private double _elapsedBefore;
    private int _stepsThisRun;

    /// <summary>Where the optimizer state of the stage being resumed is, until that stage has taken it.</summary>
    private string? _optimizerToRestore;

    /// <summary>Runs (or resumes) training; returns the final state. Stops early, saved, at the time limit.</summary>
    public TrainingState Run()
    {
        var device = TorchRuntime.ResolveDevice(options.Device);
        Directory.CreateDirectory(options.OutputDirectory);
        var legacyStatePath = Path.Combine(options.OutputDirectory, TrainingCheckpoint.StateFile);
        VireoModel model;
        TrainingState state;
        if (TrainingCheckpoint.Find(options.OutputDirectory) is { } checkpoint)
        {
            state = TrainingCheckpoint.ReadState(checkpoint);
            model = VireoCheckpoint.Load(checkpoint);
            _optimizerToRestore = checkpoint;
            log($"resuming from {options.OutputDirectory}: stage {state.Stage}, step {state.Step}");
        }
        else if (File.Exists(legacyStatePath))
        {
            // Written before checkpoints kept the optimizer: the weights and the position carry on, the moments restart.
            state = TrainingCheckpoint.ReadState(options.OutputDirectory);
            model = VireoCheckpoint.Load(options.OutputDirectory);
            var legacyHeadPath = Path.Combine(options.OutputDirectory, ReadingHead.File);
            using (var legacyHead = File.Exists(legacyHeadPath) ? ReadingHead.Load(legacyHeadPath, model.Config.VisionConfig.HiddenSize) : null)
                TrainingCheckpoint.Write(options.OutputDirectory, state, legacyHead, null);
            log($"resuming from {options.OutputDirectory}: stage {state.Stage}, step {state.Step} (an older checkpoint without optimizer state: the optimizer starts afresh)");
        }
        else
        {
            random.manual_seed(options.Seed);
            model = options.InitFrom is { } init ? VireoCheckpoint.Load(init) : new VireoModel(options.Model);
            state = new TrainingState { Seed = options.Seed };
            log($"new model: {model.ParameterCount():N0} parameters");
            if (options.SineCosinePositions) model.Vision.UseSineCosinePositions();
            if (options.InitFrom is { } whole) log($"all weights initialised from {whole}");
            if (options.AddVisionLayers > 0 || options.AddLanguageLayers > 0 || options.AddConvStem > 0)
            {
                if (options.InitFrom is null) throw new ArgumentException("Adding layers or a stem needs a model to start from (--init-from).");
                using var smaller = model;
                model = ModelGrowth.Grow(smaller, options.AddVisionLayers, options.AddLanguageLayers, options.AddConvStem);
                log($"grown: vision encoder {smaller.Config.VisionConfig.NumHiddenLayers} → {model.Config.VisionConfig.NumHiddenLayers} layers, language model {smaller.Config.LlmConfig.NumHiddenLayers} → {model.Config.LlmConfig.NumHiddenLayers}, convolutional stem {smaller.Config.VisionConfig.ConvStemChannels} → {model.Config.VisionConfig.ConvStemChannels} channels; {model.ParameterCount():N0} parameters");
            }
            if (options.InitVisionFrom is { } source)
            {
                VireoCheckpoint.LoadWeights(model.Vision, Path.Combine(source, VireoCheckpoint.WeightsFile), "vision_model.");
                log($"vision encoder initialised from {source}");
            }
        }
        if (options.ContinueStage1 && state.Stage > 1 && options.Stage1Steps > state.Stage1Completed)
        {
            VireoCheckpoint.LoadWeights(model, Path.Combine(options.OutputDirectory, ReferenceFile));
            state = state with { Stage = 1, Step = state.Stage1Completed, RecentRatios = [] };
            // The saved optimizer state belongs to the stage being rolled back.
            _optimizerToRestore = null;
            log($"continuing stage 1 from its frozen weights at step {state.Step} to {options.Stage1Steps}");
        }
        _elapsedBefore = state.ElapsedSeconds;
        if (Batches(model).Real is not null)
        {
            var fonts = FontCatalog.Default();
            log($"real frames {options.RealFraction:P0}: {fonts.TrainingFamilies.Count()} font families ({fonts.Training.Count} faces), {PhotoCatalog.Default().Training.Count} photographs; held out: {string.Join(", ", fonts.HeldOutFamilyNames)}");
        }
        PlaceOnDevice(model, options, device);
        log($"device {device}, batch {options.BatchSize}, seed {options.Seed}{(options.Bf16Attention ? ", vision attention in bfloat16" : "")}{(options.DataEcho > 1 ? $", each frame in {options.DataEcho} consecutive batches" : "")}");
        _clock.Start();

        if (state.Stage == 1 && state.Step == 0 && state.ReadingStep < options.ReadingSteps) state = Stage0(model, state, device);
        if (state.Stage == 1 && state.ReadingStep >= options.ReadingSteps) state = Stage1(model, state, device);
        if (state.Stage == 2) state = Stage2(model, state, device);
        if (state.Stage == 3) state = Stage3(model, state, device);
        model.Dispose();
        return state;
    }

    /// <summary>
    /// Writes the weights that the run in <paramref name="output"/> last saved, finished or not, as an fp16 model
    /// directory in <paramref name="to"/> (model.safetensors + config.json) with the checkpoint's reading probe beside
    /// it: small enough to carry to another machine, where a fine-tune goes on from it with <c>--init-from</c>.
    /// </summary>
    /// <returns>Whether the checkpoint had a reading probe to write beside the weights.</returns>
    public static bool WriteSnapshot(string output, string to)
    {
        var checkpoint = TrainingCheckpoint.Find(output) ?? throw new InvalidOperationException($"{output} holds no training checkpoint.");
        using (var model = VireoCheckpoint.Load(checkpoint)) VireoCheckpoint.Save(model, to, ScalarType.Float16);
        var probe = Path.Combine(checkpoint, ReadingHead.File);
        // A probe left by an earlier snapshot here would be taken for this run's.
        if (!File.Exists(probe))
        {
            File.Delete(Path.Combine(to, ReadingHead.File));
            return false;
        }
        File.Copy(probe, Path.Combine(to, ReadingHead.File), overwrite: true);
        return true;
    }

    /// <summary>
    /// Moves the model to <paramref name="device"/> as training runs it there: vision attention in bfloat16 where the
    /// options ask, and on CUDA float32 matrix products and convolutions on the tensor cores in TF32.
    /// </summary>
    internal static void PlaceOnDevice(VireoModel model, TrainingOptions options, Device device)
    {
        model.to(device);
        if (options.Bf16Attention) model.Vision.ComputeAttentionIn(ScalarType.BFloat16);
        if (device.type != DeviceType.CUDA) return;
        backends.cuda.matmul.allow_tf32 = true;
        backends.cudnn.allow_tf32 = true;
    }

    /// <summary>The optimizer of every stage: AdamW with weight decay 0.01.</summary>
    internal static TorchSharp.Modules.OptimizerHelper AdamW(IEnumerable<TorchSharp.Modules.Parameter> parameters, double learningRate) =>
        new ScalarSafe.AdamW(parameters, learningRate, weightDecay: 0.01);

    private bool ShouldStop =>
        (options.TimeLimit is { } limit && _clock.Elapsed >= limit) || (options.StopAfterSteps is { } steps && _stepsThisRun >= steps);

    /// <summary>Called at the top of every step: whether to stop (and save) before it, counting it when not.</summary>
    private bool StopBeforeStep()
    {
        if (ShouldStop) return true;
        _stepsThisRun++;
        return false;
    }

    /// <summary>
    /// A stage's AdamW, carrying on from the moments and step counts the checkpoint saved when the run resumes inside
    /// that stage. Only the first stage a run enters can be mid-way; later ones start with a fresh optimizer.
    /// </summary>
    private TorchSharp.Modules.OptimizerHelper NewOptimizer(IEnumerable<TorchSharp.Modules.Parameter> parameters, double learningRate)
    {
        var optimizer = AdamW(parameters, learningRate);
        if (_optimizerToRestore is { } checkpoint && TrainingCheckpoint.RestoreOptimizer(checkpoint, optimizer))
            log("optimizer state restored");
        _optimizerToRestore = null;
        return optimizer;
    }

    private double Elapsed => _elapsedBefore + _clock.Elapsed.TotalSeconds;

    private TrainingBatches? _batches;

    /// <summary>The run's batches, drawn for this model's tiler and patch size.</summary>
    private TrainingBatches Batches(VireoModel model) => _batches ??= new TrainingBatches(options, model.Tiler, model.Config.PatchSize);

    private readonly Dictionary<(int Stage, int Step), Task<PreparedBatch>> _pending = [];
    private TimeSpan _dataWait;
    private readonly Stopwatch _sinceLog = Stopwatch.StartNew();

    /// <summary>Share of the time since the last call spent waiting for batches: near 1 means the CPU side limits training.</summary>
    private double TakeDataWaitShare()
    {
        var share = _dataWait.TotalSeconds / Math.Max(1e-9, _sinceLog.Elapsed.TotalSeconds);
        _dataWait = TimeSpan.Zero;
        _sinceLog.Restart();
        return share;
    }

    /// <summary>
    /// The batch for (stage, step), rendered and tiled on the CPU while earlier steps ran on the device; starts
    /// preparing the following ones before returning.
    /// </summary>
    private PreparedBatch Next(VireoModel model, Device device, int stage, int step, int total)
    {
        var batches = Batches(model);
        var waiting = Stopwatch.StartNew();
        var result = _pending.Remove((stage, step), out var work) ? work.GetAwaiter().GetResult() : batches.Prepare(stage, step, device);
        _dataWait += waiting.Elapsed;
        for (var k = step + 1; k <= Math.Min(total - 1, step + PrefetchDepth(device)); k++)
        {
            var next = k;
            _pending.TryAdd((stage, next), Task.Run(() => batches.Prepare(stage, next, device)));
        }
        return result;
    }

    /// <summary>
    /// Batches prepared ahead: on CUDA the device outruns one preparing thread (rendering, tiling, labels and the
    /// page-locked copy), so several are prepared side by side; on the CPU they would only compete with the model.
    /// </summary>
    internal static int PrefetchDepth(Device device) => device.type == DeviceType.CUDA ? 3 : 1;

    private static double Schedule(int step, int total, double peak)
    {
        var warmup = Math.Min(100, Math.Max(1, total / 10));
        if (step < warmup) return peak * (step + 1) / warmup;
        var progress = (double)(step - warmup) / Math.Max(1, total - warmup);
        return peak * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, progress))));
    }

    /// <summary>
    /// Writes the model for use (model.safetensors + config.json in the output directory) and the checkpoint a rerun
    /// resumes from. Mid-stage saves pass the stage's optimizer; a stage's last save does not, as the next stage
    /// starts a fresh one.
    /// </summary>
    private TrainingState Save(VireoModel model, TrainingState state, ReadingHead? head = null, TorchSharp.Modules.OptimizerHelper? optimizer = null)
    {
        state = state with { ElapsedSeconds = Elapsed };
        VireoCheckpoint.Save(model, options.OutputDirectory);
        TrainingCheckpoint.Write(options.OutputDirectory, state, head, optimizer);
        return state;
    }

    private ReadingHead LoadReadingHead(VireoModel model, TrainingState state, Device device)
    {
        var path = Path.Combine(options.OutputDirectory, TrainingCheckpoint.DirectoryName, ReadingHead.File);
        var from = (state.Step > 0 || state.ReadingStep > 0) && File.Exists(path) ? path : null;
        // A fine-tune whose source directory kept its probe beside the model starts from that probe, not a random one.
        if (from is null && options.InitFrom is { } init && File.Exists(Path.Combine(init, ReadingHead.File)))
        {
            from = Path.Combine(init, ReadingHead.File);
            log($"reading head initialised from {from}");
        }
        var head = NewReadingHead(model, options, from);
        head.to(device);
        return head;
    }

    /// <summary>
    /// A reading head as <paramref name="options"/> train it (its small-glyph weight, and a token probe with its weight
    /// where they ask for one), fresh or loaded from <paramref name="from"/>.
    /// </summary>
    internal static ReadingHead NewReadingHead(VireoModel model, TrainingOptions options, string? from = null)
    {
        var tokenPath = options.TokenReadingWeight > 0 ? TokenPath(model) : ((int, TokenPlaces)?)null;
        var width = model.Config.VisionConfig.HiddenSize;
        var head = from is not null ? ReadingHead.Load(from, width, tokenPath) : new ReadingHead(width, tokenPath);
        head.SmallGlyphWeight = options.SmallGlyphWeight;
        head.TokenWeight = options.TokenReadingWeight;
        return head;
    }

    /// <summary>The 256-token path as the reading head's token probe sees it: the tokens' width and the patches' places in them.</summary>
    public static (int Width, TokenPlaces Places) TokenPath(VireoModel model) =>
        (model.Config.LlmConfig.HiddenSize, TokenPlaces.Of(model.Tiler.ImageSize / model.Config.PatchSize, model.Config.DownsampleRatio));

    /// <summary>
    /// Reading pretraining: only the vision encoder and the reading head train, on pages covered in signs and
    /// shapes, so the encoder learns glyphs (and keeps colour and shape) from dense labels before the language
    /// model has to find them.
    /// </summary>
    private TrainingState Stage0(VireoModel model, TrainingState state, Device device)
    {
        model.train();
        using var head = LoadReadingHead(model, state, device);
        var trained = model.Vision.parameters().Concat(head.parameters()).ToList();
        using var optimizer = NewOptimizer(trained, options.LearningRate);
        var total = options.ReadingSteps;
        var meter = new ReadingMeter();
        for (var step = state.ReadingStep; step < total; step++)
        {
            if (StopBeforeStep()) return Stopped(model, state with { ReadingStep = step }, head, optimizer);
            SetLr(optimizer, Schedule(step, total, options.LearningRate));
            using var scope = NewDisposeScope();
            var batch = Next(model, device, 0, step, total);
            var features = model.Vision.forward(batch.Tiles.ToTensor(device));
            var result = head.Loss(features, batch.Labels!);
            ClearGradients(model, head);
            result.Loss.backward();
            ClipGradients(trained, 1.0);
            optimizer.step();
            meter.Add(result, batch.Tiles.TotalTiles);
            if ((step + 1) % options.LogEvery == 0 || step + 1 == total)
                log($"reading step {step + 1}/{total} loss {meter.Take()} tiles/s {meter.Rate():F1} data wait {TakeDataWaitShare():P0} elapsed {Elapsed:F0}s");
            if ((step + 1) % options.CheckpointEvery == 0) state = Save(model, state with { ReadingStep = step + 1 }, head, optimizer);
        }
        state = Save(model, state with { ReadingStep = total }, head);
        log("reading pretraining done");
        return state;
    }

    private TrainingState Stage1(VireoModel model, TrainingState state, Device device)
    {
        model.train();
        using var head = options.ReadingWeight > 0 ? LoadReadingHead(model, state, device) : null;
        var trained = model.parameters().Concat(head?.parameters() ?? []).ToList();
        using var optimizer = NewOptimizer(trained, options.LearningRate);
        var total = options.Stage1Steps;
        var meter = new Meter();
        var textMeter = new Meter();
        var smallTextMeter = new Meter();
        var captionMeter = new Meter();
        var readingMeter = new ReadingMeter();
        for (var step = state.Step; step < total; step++)
        {
            if (StopBeforeStep()) return Stopped(model, state with { Step = step }, head, optimizer);
            SetLr(optimizer, Schedule(step, total, options.LearningRate));
            using var scope = NewDisposeScope();
            var batch = Next(model, device, 1, step, total);
            using var result = Stage1Step(model, head, trained, optimizer, batch, device, options.Seed, step,
                includeCaption: !Batches(model).InTextOnlyCurriculum(1, step),
                readingReachesEncoder: step >= options.ReadingHeadWarmup, options.ReadingWeight,
                tokenReadingReachesModel: step >= options.TokenReadingWarmup, options.SmallTextAnswerWeight);
            var (answerLoss, tokenLoss, seq) = (result.AnswerLoss, result.TokenLoss, result.Sequence);
            if (result.Reading is { } reading) readingMeter.Add(reading, 0);
            meter.Add(answerLoss, batch.Tiles.TotalTiles);
            if (TeacherForcing.MeanOver(tokenLoss, seq.TextTargets) is { } textLoss) textMeter.Add(textLoss, 0);
            if (TeacherForcing.MeanOver(tokenLoss, seq.SmallTextTargets) is { } smallTextLoss) smallTextMeter.Add(smallTextLoss, 0);
            if (TeacherForcing.MeanOver(tokenLoss, seq.CaptionTargets) is { } captionLoss) captionMeter.Add(captionLoss, 0);
            if ((step + 1) % options.LogEvery == 0 || step + 1 == total)
            {
                var readingPart = head is null ? "" : $" reading {readingMeter.Take()}";
                log($"stage 1 step {step + 1}/{total} loss {meter.TakeMean():F4} caption {captionMeter.TakeMean():F4} text {textMeter.TakeMean():F4} (small {smallTextMeter.TakeMean():F4}){readingPart} tiles/s {meter.Rate():F1} data wait {TakeDataWaitShare():P0} elapsed {Elapsed:F0}s");
            }
            if ((step + 1) % options.CheckpointEvery == 0) state = Save(model, state with { Step = step + 1 }, head, optimizer);
        }
        // The consistency stage compares against this model, frozen.
        state = Save(model, state with { Stage = 2, Step = 0, Stage1Completed = total }, head);
        File.Copy(Path.Combine(options.OutputDirectory, VireoCheckpoint.WeightsFile), Path.Combine(options.OutputDirectory, ReferenceFile), overwrite: true);
        log("stage 1 done; saved the frozen reference for stage 2");
        return state;
    }

    /// <summary>What one stage-1 step computed: the answer loss, every response token's loss, the reading result.</summary>
    internal sealed record Stage1Result(Tensor AnswerLoss, Tensor TokenLoss, ReadingResult? Reading, SequenceBatch Sequence) : IDisposable
    {
        public void Dispose() => Sequence.Dispose();
    }

    /// <summary>
    /// One stage-1 step on a prepared batch: each tile 256 or 64 tokens at random (seeded by the step), teacher-forced
    /// answers, the reading loss where the batch has labels (with the token probe's, on every tile's 256-token path,
    /// where the head has one), backward, clipped AdamW. Timed on its own by
    /// <c>vireo bench train</c>.
    /// </summary>
    internal static Stage1Result Stage1Step(VireoModel model, ReadingHead? head, IReadOnlyList<TorchSharp.Modules.Parameter> trained,
        TorchSharp.Modules.OptimizerHelper optimizer, PreparedBatch batch, Device device, int seed, int step, bool includeCaption,
        bool readingReachesEncoder, double readingWeight, bool tokenReadingReachesModel = true, double smallTextAnswerWeight = 1)
    {
        var (samples, tiles) = (batch.Samples, batch.Tiles);
        var rng = new Random(TrainingSeeds.Derive(seed, 11, step));
        var compress = Enumerable.Range(0, tiles.TotalTiles).Select(_ => rng.Next(2) == 1).ToList();
        var seq = SequenceBatch.Build(model, samples.Select(s => s.Answer).ToList(), tiles.TileCounts, compress, device,
            samples.Select(s => s.TextSize == TextSize.Small).ToList());
        var features = model.Vision.forward(tiles.ToTensor(device));
        var logits = TeacherForcing.ResponseLogits(model, features, compress, seq);
        var tokenLoss = functional.cross_entropy(logits, seq.Targets, reduction: nn.Reduction.None);
        var answerLoss = TeacherForcing.AnswerLoss(tokenLoss, seq, includeCaption, smallTextAnswerWeight);
        var loss = answerLoss;
        ReadingResult? reading = null;
        if (head is not null && batch.Labels is { } labels)
        {
            // While the probe is new it would only push noise into the encoder: it learns on the features alone first.
            var tokens = head.ReadsTokens ? model.ConnectStandard(features) : null;
            reading = head.Loss(readingReachesEncoder ? features : features.detach(), labels,
                tokenReadingReachesModel ? tokens : tokens?.detach());
            loss = loss.Plus(reading.Loss * readingWeight);
        }
        ClearGradients(model, head);
        loss.backward();
        ClipGradients(trained, 1.0);
        optimizer.step();
        return new Stage1Result(answerLoss, tokenLoss, reading, seq);
    }

    private TrainingState Stage2(VireoModel model, TrainingState state, Device device)
    {
        using var reference = new VireoModel(model.Config);
        VireoCheckpoint.LoadWeights(reference, Path.Combine(options.OutputDirectory, ReferenceFile));
        reference.to(device);
        if (options.Bf16Attention) reference.Vision.ComputeAttentionIn(ScalarType.BFloat16);
        reference.eval();
        foreach (var p in reference.parameters()) p.requires_grad = false;
        model.train();
        var trained = model.parameters().ToList();
        using var optimizer = NewOptimizer(trained, options.LearningRate * 0.5);
        var total = options.Stage2Steps;
        var meter = new Meter();
        var klMeter = new Meter();
        for (var step = state.Step; step < total; step++)
        {
            if (StopBeforeStep()) return Stopped(model, state with { Step = step }, optimizer: optimizer);
            SetLr(optimizer, Schedule(step, total, options.LearningRate * 0.5));
            using var scope = NewDisposeScope();
            var (samples, tiles, _) = Next(model, device, 2, step, total);
            var answers = samples.Select(s => s.Answer).ToList();
            var pixels = tiles.ToTensor(device);
            var allFull = new bool[tiles.TotalTiles];
            Tensor refLogProbs;
            using (no_grad())
            {
                using var refSeq = SequenceBatch.Build(reference, answers, tiles.TileCounts, allFull, device);
                var refFeatures = reference.Vision.forward(pixels);
                refLogProbs = functional.log_softmax(TeacherForcing.ResponseLogits(reference, refFeatures, allFull, refSeq), -1);
            }
            var rng = new Random(TrainingSeeds.Derive(options.Seed, 22, step));
            var compress = Enumerable.Range(0, tiles.TotalTiles).Select(_ => rng.Next(2) == 1).ToList();
            using var seq = SequenceBatch.Build(model, answers, tiles.TileCounts, compress, device);
            var logits = TeacherForcing.ResponseLogits(model, model.Vision.forward(pixels), compress, seq);
            var logProbs = functional.log_softmax(logits, -1);
            var kl = (refLogProbs.exp() * (refLogProbs - logProbs)).sum(-1).mean();
            var ce = functional.cross_entropy(logits, seq.Targets);
            var loss = kl.Plus(ce * options.ConsistencyTaskWeight);
            ClearGradients(model);
            loss.backward();
            ClipGradients(trained, 1.0);
            optimizer.step();
            meter.Add(ce, tiles.TotalTiles);
            klMeter.Add(kl, 0);
            if ((step + 1) % options.LogEvery == 0 || step + 1 == total)
                log($"stage 2 step {step + 1}/{total} kl {klMeter.TakeMean():F4} task {meter.TakeMean():F4} tiles/s {meter.Rate():F1} elapsed {Elapsed:F0}s");
            if ((step + 1) % options.CheckpointEvery == 0) state = Save(model, state with { Step = step + 1 }, optimizer: optimizer);
        }
        state = Save(model, state with { Stage = 3, Step = 0 });
        log("stage 2 done");
        return state;
    }

    private TrainingState Stage3(VireoModel model, TrainingState state, Device device)
    {
        model.eval();
        foreach (var (name, p) in model.named_parameters()) p.requires_grad = name.StartsWith("vir.", StringComparison.Ordinal);
        var routerParams = model.Router.parameters().ToList();
        using var optimizer = NewOptimizer(routerParams, options.RouterLearningRate);
        var window = new Queue<double>(state.RecentRatios);
        var total = options.Stage3Steps;
        var meter = new Meter();
        double agree = 0, labelled = 0, keepLabels = 0;
        for (var step = state.Step; step < total; step++)
        {
            if (StopBeforeStep()) return Stopped(model, state with { Step = step, RecentRatios = window.ToArray() }, optimizer: optimizer);
            SetLr(optimizer, Schedule(step, total, options.RouterLearningRate));
            using var scope = NewDisposeScope();
            var (samples, tiles, _) = Next(model, device, 3, step, total);
            Tensor features;
            var ratios = new double[tiles.TotalTiles];
            using (no_grad())
            {
                features = model.Vision.forward(tiles.ToTensor(device));
                var baseLoss = FrameLosses(model, features, samples, tiles, new bool[tiles.TotalTiles], device);
                // One variant per tile: that tile at 64 tokens, the rest of its frame at 256.
                var variantAnswers = new List<string>();
                var variantCounts = new List<int>();
                var variantTiles = new List<long>();
                var variantCompress = new List<bool>();
                var owner = new List<int>();
                for (var f = 0; f < samples.Count; f++)
                {
                    var first = tiles.FirstTile(f);
                    for (var t = 0; t < tiles.TileCounts[f]; t++)
                    {
                        variantAnswers.Add(samples[f].Answer);
                        variantCounts.Add(tiles.TileCounts[f]);
                        owner.Add(f);
                        for (var u = 0; u < tiles.TileCounts[f]; u++)
                        {
                            variantTiles.Add(first + u);
                            variantCompress.Add(u == t);
                        }
                    }
                }
                var variantFeatures = features.index_select(0, tensor(variantTiles.ToArray(), device: device));
                using var seq = SequenceBatch.Build(model, variantAnswers, variantCounts, variantCompress, device);
                var losses = PerSequenceLoss(TeacherForcing.ResponseLogits(model, variantFeatures, variantCompress, seq), seq);
                for (var v = 0; v < losses.Length; v++) ratios[v] = losses[v] / Math.Max(1e-6, baseLoss[owner[v]]);
            }
            foreach (var r in ratios)
            {
                window.Enqueue(r);
                if (window.Count > options.RouterWindow) window.Dequeue();
            }
            var sorted = window.Order().ToArray();
            var threshold = sorted[(int)Math.Clamp(Math.Floor(options.RouterPercentile * (sorted.Length - 1)), 0, sorted.Length - 1)];
            // Keep 256 (class 0) when compressing hurts more than the recent percentile; else compress (class 1).
            var labels = ratios.Select(r => r > threshold ? 0L : VisualResolutionRouter.CompressClass).ToArray();
            var logits = model.Router.forward(features.detach());
            var loss = functional.cross_entropy(logits, tensor(labels, device: device));
            ClearGradients(model);
            loss.backward();
            optimizer.step();
            var predicted = logits.argmax(-1).cpu().data<long>().ToArray();
            agree += predicted.Zip(labels).Count(p => p.First == p.Second);
            labelled += labels.Length;
            keepLabels += labels.Count(l => l == 0);
            meter.Add(loss, tiles.TotalTiles);
            if ((step + 1) % options.LogEvery == 0 || step + 1 == total)
            {
                log($"stage 3 step {step + 1}/{total} router loss {meter.TakeMean():F4} label agreement {agree / labelled:P1} keep-256 labels {keepLabels / labelled:P1} ratio threshold {threshold:F3} elapsed {Elapsed:F0}s");
                agree = labelled = keepLabels = 0;
            }
            if ((step + 1) % options.CheckpointEvery == 0) state = Save(model, state with { Step = step + 1, RecentRatios = window.ToArray() }, optimizer: optimizer);
        }
        state = Save(model, state with { Stage = 4, Step = 0, RecentRatios = window.ToArray() });
        log($"stage 3 done; training finished in {Elapsed:F0}s");
        return state;
    }

    private static double[] FrameLosses(VireoModel model, Tensor features, List<SyntheticSample> samples, TileBatch tiles, bool[] compress, Device device)
    {
        using var seq = SequenceBatch.Build(model, samples.Select(s => s.Answer).ToList(), tiles.TileCounts, compress, device);
        return PerSequenceLoss(TeacherForcing.ResponseLogits(model, features, compress, seq), seq);
    }

    private static double[] PerSequenceLoss(Tensor logits, SequenceBatch seq)
    {
        var tokenLoss = functional.cross_entropy(logits, seq.Targets, reduction: nn.Reduction.None).cpu().data<float>().ToArray();
        var result = new double[seq.ResponseLengths.Length];
        var offset = 0;
        for (var i = 0; i < result.Length; i++)
        {
            double sum = 0;
            for (var k = 0; k < seq.ResponseLengths[i]; k++) sum += tokenLoss[offset + k];
            result[i] = sum / seq.ResponseLengths[i];
            offset += seq.ResponseLengths[i];
        }
        return result;
    }

    private TrainingState Stopped(VireoModel model, TrainingState state, ReadingHead? head = null, TorchSharp.Modules.OptimizerHelper? optimizer = null)
    {
        state = Save(model, state, head, optimizer);
        var where = state.Stage == 1 && state.Step == 0 && state.ReadingStep < options.ReadingSteps
            ? $"reading step {state.ReadingStep}"
            : $"stage {state.Stage} step {state.Step}";
        var why = options.TimeLimit is { } limit && _clock.Elapsed >= limit ? "time limit" : "step limit";
        log($"{why} reached at {where}; saved. Run the same command again to resume.");
        return state;
    }

    /// <summary>
    /// Drops the gradients before a step (PyTorch's zero_grad with set_to_none): a parameter the step's loss does not
    /// reach then has none, and AdamW leaves it alone. Zeroed gradients kept from earlier steps would make AdamW move
    /// it, so a run resumed in a new process, which has no gradients yet, would part from one that never stopped.
    /// </summary>
    private static void ClearGradients(params Module?[] modules)
    {
        foreach (var module in modules) module?.zero_grad(set_to_none: true);
    }

    private static void SetLr(optim.Optimizer optimizer, double lr)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
    }

    /// <summary>
    /// clip_grad_norm_ that never reads the norm back to the host, so the optimizer step is queued behind the
    /// backward pass instead of waiting for it.
    /// </summary>
    private static void ClipGradients(IReadOnlyList<TorchSharp.Modules.Parameter> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        var norms = parameters.Select(p => p.grad).OfType<Tensor>().Select(g => g.detach().norm()).ToArray();
        if (norms.Length == 0) return;
        // Every scalar lives in a local until the scope ends, so none can be finalized under a running kernel.
        using Scalar epsilon = 1e-6.ToScalar(), max = maxNorm.ToScalar(), one = 1.0.ToScalar();
        var scale = stack(norms).norm().Plus(epsilon).reciprocal().mul(max).clamp_max(one);
        foreach (var grad in parameters.Select(p => p.grad).OfType<Tensor>()) grad.mul_(scale);
    }

    /// <summary>The reading head's loss, and its accuracies pooled over the patches seen between log lines.</summary>
    private sealed class ReadingMeter : Meter
    {
        private readonly DeviceSum _glyphHits = new(), _glyphs = new(), _shapeHits = new(), _shapes = new(), _smallHits = new(), _small = new();
        private readonly DeviceSum _tokenHits = new(), _tokenGlyphs = new(), _tokenSmallHits = new(), _tokenSmall = new();
        private bool _tokens;

        public void Add(ReadingResult result, long items)
        {
            Add(result.Loss, items);
            _glyphHits.Add(result.GlyphHits);
            _glyphs.Add(result.GlyphPatches);
            _shapeHits.Add(result.ShapeHits);
            _shapes.Add(result.ShapePatches);
            _smallHits.Add(result.SmallGlyphHits);
            _small.Add(result.SmallGlyphPatches);
            if (result.Tokens is not { } tokens) return;
            _tokens = true;
            _tokenHits.Add(tokens.GlyphHits);
            _tokenGlyphs.Add(result.GlyphPatches);
            _tokenSmallHits.Add(tokens.SmallGlyphHits);
            _tokenSmall.Add(result.SmallGlyphPatches);
        }

        /// <summary>
        /// "loss glyphs accuracy (small accuracy) shapes accuracy" since the last call, and with a token probe the
        /// same glyph accuracies read from the 256-token path's tokens.
        /// </summary>
        public string Take()
        {
            var line = $"{TakeMean():F4} glyphs {Ratio(_glyphHits, _glyphs):P1} (small {Ratio(_smallHits, _small):P1}) shapes {Ratio(_shapeHits, _shapes):P1}";
            return _tokens ? $"{line} tokens {Ratio(_tokenHits, _tokenGlyphs):P1} (small {Ratio(_tokenSmallHits, _tokenSmall):P1})" : line;
        }

        private static double Ratio(DeviceSum hits, DeviceSum total)
        {
            var (h, n) = (hits.Take(), total.Take());
            return n == 0 ? double.NaN : h / n;
        }
    }

    /// <summary>Mean of per-step values between log lines, and items per second.</summary>
    private class Meter
    {
        private readonly Stopwatch _since = Stopwatch.StartNew();
        private readonly DeviceSum _sum = new();
        private int _count;
        private long _items;

        public void Add(Tensor value, long items)
        {
            _sum.Add(value);
            _count++;
            _items += items;
        }

        public double TakeMean()
        {
            var sum = _sum.Take();
            var mean = _count == 0 ? double.NaN : sum / _count;
            _count = 0;
            return mean;
        }

        public double Rate()
        {
            var rate = _items / Math.Max(1e-9, _since.Elapsed.TotalSeconds);
            _items = 0;
            _since.Restart();
            return rate;
        }
    }

    /// <summary>A running sum kept on the device, read back only when taken, so that training steps never wait for it.</summary>
    private sealed class DeviceSum
    {
        private Tensor? _sum;

        public void Add(Tensor value)
        {
            using var scope = NewDisposeScope();
            var v = value.detach().to(ScalarType.Float64);
            if (_sum is null) _sum = v.clone().DetachFromDisposeScope();
            else _sum.PlusInPlace(v);
        }

        public double Take()
        {
            if (_sum is null) return 0;
            var sum = _sum.item<double>();
            _sum.Dispose();
            _sum = null;
            return sum;
        }
    }
}
