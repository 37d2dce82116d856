using System.Collections.Concurrent;
using TorchSharp;
using Vireo.Model.Imaging;
using Vireo.Model.Training.Data;

namespace Vireo.Model.Training;

/// <summary>One step's frames, their tiles and, where the step trains the encoder's reading, its dense labels.</summary>
public sealed record PreparedBatch(List<SyntheticSample> Samples, TileBatch Tiles, ReadingLabels? Labels);

/// <summary>
/// The frames of every training step, drawn on the CPU: batch k of stage s is the same frames on every run. Real
/// frames (real fonts over photographs) make up <see cref="TrainingOptions.RealFraction"/> of stages 1-3; the rest
/// are synthetic. Used by the trainer and timed on its own by <c>vireo bench data</c>.
/// </summary>
/// <param name="options">Seed, batch size, curriculum and mix.</param>
/// <param name="tiler">The model's tiler.</param>
/// <param name="patchSize">The vision encoder's patch size, for the dense reading labels.</param>
public sealed class TrainingBatches(TrainingOptions options, DynamicTiler tiler, int patchSize)
{
    private readonly SyntheticFrames _synthetic = new(tiler);

    private readonly Lazy<RealFrames?> _real = new(() =>
        options.RealFraction > 0 ? new RealFrames(tiler, FontCatalog.Default(), PhotoCatalog.Default(), atTileScale: options.DrawAtTileScale, varyGlyphs: options.VaryGlyphs,
            h264Fraction: options.H264Fraction) : null);

    /// <summary>Threads drawing one batch's frames at most (-1: as many as the thread pool gives).</summary>
    public int MaxThreads { get; init; } = -1;

    /// <summary>Whether frames are left to the device to tile (<see cref="TrainingOptions.TilesOnDevice"/>).</summary>
    public bool TilesOnDevice => options.TilesOnDevice;

    /// <summary>The real-frame generator over the training fonts and photographs; null when the run uses none.</summary>
    public RealFrames? Real => _real.Value;

    /// <summary>Whether stage-1 step <paramref name="step"/> is in the curriculum (single tiles, mostly large text).</summary>
    public bool InCurriculum(int stage, int step) => stage == 1 && step < options.CurriculumUntilStep;

    /// <summary>
    /// Curriculum steps whose frames carry only text: their captions are all "no shapes", so the caption is left out
    /// of the loss there; teaching it would only teach the language model to stop looking for shapes.
    /// </summary>
    public bool InTextOnlyCurriculum(int stage, int step) => InCurriculum(stage, step) && options.CurriculumTextOnly;

    /// <summary>
    /// The frames of batch (stage, step) of stages 1-3. With <see cref="TrainingOptions.DataEcho"/> E above 1, outside
    /// the curriculum, the batch is the fresh frames of this step and of the E-1 steps before it, a batch size / E
    /// each: every frame is drawn once and trained on in E consecutive batches. Either way the batch is a function
    /// of (stage, step) alone, so a resumed run sees the same frames.
    /// </summary>
    public List<SyntheticSample> Samples(int stage, int step)
    {
        var echo = options.DataEcho;
        if (echo <= 1 || InCurriculum(stage, step)) return Draw(stage, step, Seeds(stage, step));
        foreach (var old in _fresh.Keys.Where(k => k.Stage != stage || k.Step < step - echo - EchoKeepBehind)) _fresh.TryRemove(old, out _);
        return Enumerable.Range(0, echo)
            .SelectMany(back => _fresh.GetOrAdd((stage, step - back), key => new Lazy<List<SyntheticSample>>(
                () => Draw(key.Stage, key.Step, Seeds(key.Stage, key.Step).Take(options.BatchSize / echo).ToArray(), ignoreCurriculum: true))).Value)
            .ToList();
    }

    /// <summary>Steps behind the earliest one still needed for which fresh frames are kept: batches are prepared a few steps ahead, out of order.</summary>
    private const int EchoKeepBehind = 4;

    private readonly ConcurrentDictionary<(int Stage, int Step), Lazy<List<SyntheticSample>>> _fresh = new();

    /// <summary>Frames drawn from <paramref name="seeds"/> for (stage, step), with that step's curriculum unless ignored.</summary>
    private List<SyntheticSample> Draw(int stage, int step, int[] seeds, bool ignoreCurriculum = false)
    {
        var sizes = options.Sizes ?? SyntheticFrames.TrainingSizes;
        var samples = new SyntheticSample[seeds.Length];
        var curriculum = !ignoreCurriculum && InCurriculum(stage, step);
        if (curriculum) sizes = SyntheticFrames.SingleTileSizes;
        var textOnly = curriculum && options.CurriculumTextOnly;
        var textProbability = textOnly ? 1.0 : curriculum ? 0.9 : options.TextProbability;
        var largeFraction = textOnly ? 0.85 : curriculum ? 0.75 : 1 - options.SmallTextFraction;
        var real = Real;
        var realSizes = curriculum ? RealFrames.SingleTileSizes : options.VideoSizes ? RealFrames.TrainingAndVideoSizes : RealFrames.TrainingSizes;
        Parallel.For(0, samples.Length, Parallelism, i =>
        {
            var rng = new Random(seeds[i]);
            // Without real frames the stream is not drawn from, so such runs see the same batches as before.
            samples[i] = real is not null && rng.NextDouble() < options.RealFraction
                ? real.Generate(rng, realSizes, textProbability, largeFraction, textOnly ? 0 : 0.35)
                : _synthetic.Generate(rng, sizes, textProbability, largeFraction, curriculum ? options.CurriculumScaleBoost : 0, !textOnly);
        });
        return samples.ToList();
    }

    /// <summary>The pages of reading-pretraining step <paramref name="step"/>.</summary>
    public ReadingPage[] ReadingPages(int step)
    {
        var seeds = Seeds(0, step);
        var pages = new ReadingPage[seeds.Length];
        Parallel.For(0, pages.Length, Parallelism, i => pages[i] = _synthetic.GenerateReadingPage(new Random(seeds[i]), SyntheticFrames.SingleTileSizes));
        return pages;
    }

    /// <summary>
    /// Batch (stage, step) drawn, tiled and staged for <paramref name="device"/> (stage 0 is reading pretraining),
    /// with dense reading labels where the step trains the encoder's reading.
    /// </summary>
    public PreparedBatch Prepare(int stage, int step, torch.Device device)
    {
        if (stage == 0)
        {
            var pages = ReadingPages(step);
            return new PreparedBatch([], Tile(pages.Select(x => x.Frame).ToList()).Stage(device),
                ReadingLabels.For(pages, page => ReadingTargets.For(page, tiler, patchSize)));
        }
        var samples = Samples(stage, step);
        var tiles = Tile(samples.Select(x => x.Frame).ToList()).Stage(device);
        if (stage != 1 || options.ReadingWeight <= 0) return new PreparedBatch(samples, tiles, null);
        return new PreparedBatch(samples, tiles, Labels(samples));
    }

    /// <summary>
    /// The tiles of <paramref name="frames"/>: cut on the host with the same parallelism as the frames are drawn, or
    /// left to the device (<see cref="TilesOnDevice"/>).
    /// </summary>
    public TileBatch Tile(IReadOnlyList<RgbFrame> frames) =>
        TilesOnDevice ? TileBatch.OnDevice(tiler, frames) : TileBatch.From(tiler, frames, maxThreads: MaxThreads);

    /// <summary>The dense reading labels of <paramref name="samples"/>.</summary>
    public ReadingLabels Labels(IReadOnlyList<SyntheticSample> samples) =>
        ReadingLabels.For(samples, sample => ReadingTargets.For(sample, tiler, patchSize));

    private ParallelOptions Parallelism => new() { MaxDegreeOfParallelism = MaxThreads };

    /// <summary>One seed per frame of batch (stage, step): the same frames on every run, resumed or not.</summary>
    private int[] Seeds(int stage, int step)
    {
        var rng = new Random(TrainingSeeds.Derive(options.Seed, stage, step));
        return Enumerable.Range(0, options.BatchSize).Select(_ => rng.Next()).ToArray();
    }
}
