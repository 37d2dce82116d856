using System.Text.Json.Serialization;
using Vireo.Model.Configuration;

namespace Vireo.Model.Training;

/// <summary>The knobs of the three ViCO training stages.</summary>
public sealed record TrainingOptions
{
    public required string OutputDirectory { get; init; }
    public string Device { get; init; } = "auto";
    public int Seed { get; init; } = 1;
    public int Stage1Steps { get; init; } = 3000;
    public int Stage2Steps { get; init; } = 800;
    public int Stage3Steps { get; init; } = 400;
    public int BatchSize { get; init; } = 16;
    public double LearningRate { get; init; } = 1e-3;
    public double RouterLearningRate { get; init; } = 1e-3;

    /// <summary>Stage 3: a tile is labelled "keep 256" when its loss ratio is above this percentile of recent ratios.</summary>
    public double RouterPercentile { get; init; } = 0.75;

    /// <summary>Stage 3: how many recent loss ratios the percentile is taken over.</summary>
    public int RouterWindow { get; init; } = 1024;

    /// <summary>Stage 2: weight of the task loss next to KL(reference ‖ student).</summary>
    public double ConsistencyTaskWeight { get; init; } = 1.0;

    /// <summary>Stop (after saving) once this much wall-clock time has passed; resume later with the same command.</summary>
    public TimeSpan? TimeLimit { get; init; }

    /// <summary>Stop (after saving) once this many steps, of any stage, have run in this invocation; resume later with the same command.</summary>
    public int? StopAfterSteps { get; init; }

    /// <summary>
    /// A fresh run takes its vision encoder (<c>vision_model.*</c>) from the checkpoint in this directory, e.g. one
    /// whose encoder already reads; everything else starts from scratch.
    /// </summary>
    public string? InitVisionFrom { get; init; }

    /// <summary>
    /// A fresh run takes every weight from the model in this directory (model.safetensors + config.json, whose config
    /// wins over <see cref="Model"/>) and trains on from there with a fresh optimizer, e.g. to fine-tune the shipped model.
    /// </summary>
    public string? InitFrom { get; init; }

    /// <summary>
    /// With <see cref="InitFrom"/>: layers appended to the vision encoder before training, each starting as the
    /// identity (<see cref="ModelGrowth"/>), so the fine-tune starts from the source model's answers with more depth.
    /// </summary>
    public int AddVisionLayers { get; init; }

    /// <summary>With <see cref="InitFrom"/>: layers appended to the language model, as <see cref="AddVisionLayers"/>.</summary>
    public int AddLanguageLayers { get; init; }

    /// <summary>
    /// With <see cref="InitFrom"/>: a convolutional stem of this many channels joins the vision encoder's patch
    /// embeddings, its last convolution at zero (<see cref="ModelGrowth"/>); 0 adds none.
    /// </summary>
    public int AddConvStem { get; init; }

    /// <summary>
    /// Real frames of stages 1-3 are also drawn at the sizes of real video (<see cref="Data.RealFrames.EvaluationSizes"/>:
    /// 1080p landscape and portrait besides the training sizes). Off keeps every batch as before.
    /// </summary>
    public bool VideoSizes { get; init; }

    /// <summary>
    /// Real frames of stages 1-3 larger than their tile grid are drawn at the grid's scale
    /// (<see cref="Data.RealFrames.AtTileScale"/>): a 1080p frame as 896x504, which the tiler cuts into the same tiles as
    /// it would the full frame, for a fifth of the pixels to draw, blur and compress. Off keeps every batch as before.
    /// </summary>
    public bool DrawAtTileScale { get; init; }

    /// <summary>
    /// Real frames of stages 1-3 draw each label's glyphs narrower or wider, slanted and at times bolder than the font
    /// does (<see cref="Data.RealFrames.GlyphVariation"/>). Off keeps every batch as before.
    /// </summary>
    public bool VaryGlyphs { get; init; }

    /// <summary>
    /// Share of the real frames of stages 1-3 coded as an H.264 intra picture (<see cref="Data.H264Intra"/>) instead of
    /// re-compressed as JPEG. 0 keeps every batch as before.
    /// </summary>
    public double H264Fraction { get; init; }

    /// <summary>
    /// Share of the frames of stages 1–3 drawn by <see cref="Data.RealFrames"/> (training fonts and photographs)
    /// instead of <see cref="Data.SyntheticFrames"/>. 0 keeps every batch exactly as before.
    /// </summary>
    public double RealFraction { get; init; }

    /// <summary>
    /// Send frames to the device as 8-bit RGB and tile them there (<see cref="Vireo.Model.Imaging.TileBatch.OnDevice"/>)
    /// rather than on the host: a third of the host's work per real frame. Tiles agree with the host's to float
    /// rounding, not bit for bit, so a run keeps one setting from start to end.
    /// </summary>
    public bool TilesOnDevice { get; init; }

    /// <summary>
    /// Data echoing: outside the curriculum, each frame of stages 1-3 is drawn once and trained on in this many
    /// consecutive batches (<see cref="TrainingBatches.Samples"/>), so the host draws 1/E of the frames a step when
    /// drawing, not the device, sets the pace. 1 draws every frame afresh. Must divide the batch size.
    /// </summary>
    public int DataEcho { get; init; } = 1;

    /// <summary>
    /// Compute the vision encoder's attention in bfloat16 (weights, projections and residuals stay float32), as
    /// autocast would: on CUDA the fused flash kernel then runs on tensor cores.
    /// </summary>
    public bool Bf16Attention { get; init; }

    /// <summary>
    /// Stage-1 steps at the start during which the reading loss trains only the reading head, not the encoder: a
    /// fine-tune's fresh head is random, and its first gradients would disturb an encoder that already reads.
    /// </summary>
    public int ReadingHeadWarmup { get; init; }

    /// <summary>Steps of reading pretraining (vision encoder and reading head on sign-covered pages) before stage 1.</summary>
    public int ReadingSteps { get; init; }

    /// <summary>
    /// Stage 1: weight of the auxiliary dense reading loss on the vision encoder (<see cref="ReadingHead"/>);
    /// 0 trains on the answers alone.
    /// </summary>
    public double ReadingWeight { get; init; }

    /// <summary>
    /// Weight of a small text's glyph patch in the reading loss next to any other patch's
    /// (<see cref="ReadingHead.SmallGlyphWeight"/>); 1 keeps the loss as before.
    /// </summary>
    public double SmallGlyphWeight { get; init; } = 1;

    /// <summary>
    /// Stage 1: how many times each character of a small text field counts in the answer loss, where every other
    /// response token counts once; 1 keeps the loss as before.
    /// </summary>
    public double SmallTextAnswerWeight { get; init; } = 1;

    /// <summary>
    /// Stage 1: weight of the reading head's token probe, which names each patch's character from the 256-token path's
    /// tokens (<see cref="ReadingHead"/>), next to the encoder probes'; 0 (the default) leaves the head without one.
    /// Needs <see cref="ReadingWeight"/> above 0, and it is scaled by it too.
    /// </summary>
    public double TokenReadingWeight { get; init; }

    /// <summary>
    /// Stage-1 steps at the start during which the token probe learns on the tokens alone, its loss kept from the
    /// connector and the encoder: a fresh probe is random.
    /// </summary>
    public int TokenReadingWarmup { get; init; } = 150;

    /// <summary>A fresh run starts the vision position embeddings as 2D sine-cosine codes instead of small noise.</summary>
    public bool SineCosinePositions { get; init; }

    /// <summary>Chance a training frame carries text (evaluation keeps 0.6).</summary>
    public double TextProbability { get; init; } = 0.6;

    /// <summary>Outside the curriculum: share of text-carrying training frames whose text is small (evaluation keeps 0.5).</summary>
    public double SmallTextFraction { get; init; } = 0.5;

    /// <summary>
    /// Stage-1 steps before this index use single-tile frames, mostly with (mostly large) text: the model
    /// learns to find and read text where it is a larger share of the visual tokens, then generalises.
    /// </summary>
    public int CurriculumUntilStep { get; init; }

    /// <summary>Extra font scale (0..N, uniform) for large text during the curriculum.</summary>
    public int CurriculumScaleBoost { get; init; }

    /// <summary>During the curriculum: no shapes, text on every frame, mostly large: only reading is left to learn.</summary>
    public bool CurriculumTextOnly { get; init; }

    /// <summary>
    /// When the checkpoint has finished stage 1 and <see cref="Stage1Steps"/> asks for more, roll back to the
    /// frozen stage-1 weights and continue stage 1 (then redo stages 2 and 3).
    /// </summary>
    public bool ContinueStage1 { get; init; }

    public int LogEvery { get; init; } = 25;
    public int CheckpointEvery { get; init; } = 250;

    /// <summary>Frame sizes to train on; null uses <see cref="Data.SyntheticFrames.TrainingSizes"/>.</summary>
    public IReadOnlyList<(int W, int H)>? Sizes { get; init; }

    /// <summary>Model to build when starting fresh (ignored when resuming: the checkpoint's config wins).</summary>
    public ModelConfig Model { get; init; } = ModelConfig.Small();
}

/// <summary>
/// Where a training run stands; saved with each checkpoint so a rerun resumes. Batch k of a stage is a fixed function
/// of the seed, the stage and k, so the stage and step are also the position in the data.
/// </summary>
public sealed record TrainingState
{
    /// <summary>The stage in progress (1–3), or 4 when finished.</summary>
    public int Stage { get; init; } = 1;

    /// <summary>Steps of <see cref="Stage"/> already done.</summary>
    public int Step { get; init; }

    /// <summary>Reading-pretraining steps done (they come before stage 1).</summary>
    public int ReadingStep { get; init; }

    public int Seed { get; init; }

    /// <summary>Stage-1 steps behind the frozen reference (set when stage 1 finishes).</summary>
    public int Stage1Completed { get; init; }

    public double ElapsedSeconds { get; init; }
    public double[] RecentRatios { get; init; } = [];
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(TrainingState))]
internal sealed partial class TrainingStateJsonContext : JsonSerializerContext;
