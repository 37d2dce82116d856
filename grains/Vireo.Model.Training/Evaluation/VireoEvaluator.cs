using System.Diagnostics;
using System.Globalization;
using System.Text;
using Vireo.Model.Training.Data;
using Vireo.Model.Inference;

namespace Vireo.Model.Training.Evaluation;

/// <summary>One routing mode's numbers over the held-out set.</summary>
public sealed record EvalRow(
    string Mode,
    double VisualTokensPerFrame,
    double CompressedTileFraction,
    double SmallTextAccuracy,
    double LargeTextAccuracy,
    double CaptionAccuracy,
    double Score,
    double FramesPerSecond,
    IReadOnlyList<FrameOutcome> Frames)
{
    /// <summary>Share of the frames without text where the model reported some.</summary>
    public double FalseTextRate => ReportedWhereNone(s => s.Text is null, o => o.ReportedText);

    /// <summary>Share of the frames without a known shape where the model named some.</summary>
    public double FalseShapeRate => ReportedWhereNone(s => s.ShapeCount == 0, o => ModelAnswer.Parse(o.Output).Shapes.Count > 0);

    /// <summary>Of the frames without something (<paramref name="none"/>), the share where the model reported it anyway; NaN when there are none.</summary>
    private double ReportedWhereNone(Func<SyntheticSample, bool> none, Func<FrameOutcome, bool> reported)
    {
        var blank = Frames.Where(o => none(o.Sample)).ToList();
        return blank.Count == 0 ? double.NaN : blank.Average(o => reported(o) ? 1.0 : 0.0);
    }

    /// <summary>Share of the characters of small text read, one minus the character error rate (<see cref="FrameOutcome.CharactersRead"/>).</summary>
    public double SmallTextCharacters => CharactersRead(TextSize.Small);

    /// <summary>Share of the characters of large text read, one minus the character error rate (<see cref="FrameOutcome.CharactersRead"/>).</summary>
    public double LargeTextCharacters => CharactersRead(TextSize.Large);

    private double CharactersRead(TextSize size) => MeanOver(Frames, size, o => o.CharactersRead);

    /// <summary>This row as the model reports it at a text threshold (<see cref="FrameOutcome.AtTextThreshold"/>); tokens and speed unchanged.</summary>
    public EvalRow AtTextThreshold(double threshold)
    {
        var frames = Frames.Select(o => o.AtTextThreshold(threshold)).ToList();
        return this with
        {
            Frames = frames,
            SmallTextAccuracy = ExactWords(frames, TextSize.Small),
            LargeTextAccuracy = ExactWords(frames, TextSize.Large),
            Score = frames.Average(o => o.Score),
        };
    }

    /// <summary>This row as the model reports it at a shape threshold (<see cref="FrameOutcome.AtShapeThreshold"/>); tokens and speed unchanged.</summary>
    public EvalRow AtShapeThreshold(double threshold)
    {
        var frames = Frames.Select(o => o.AtShapeThreshold(threshold)).ToList();
        return this with
        {
            Frames = frames,
            CaptionAccuracy = frames.Average(o => o.CaptionCorrect ? 1.0 : 0.0),
            Score = frames.Average(o => o.Score),
        };
    }

    /// <summary>The share of the frames with text of <paramref name="size"/> whose text was read exactly.</summary>
    public static double ExactWords(IEnumerable<FrameOutcome> frames, TextSize size) => MeanOver(frames, size, o => o.TextCorrect ? 1.0 : 0.0);

    /// <summary>The mean of <paramref name="value"/> over the frames whose text is of <paramref name="size"/>; NaN when there are none.</summary>
    internal static double MeanOver(IEnumerable<FrameOutcome> frames, TextSize size, Func<FrameOutcome, double> value)
    {
        var subset = frames.Where(o => o.Sample.TextSize == size).ToList();
        return subset.Count == 0 ? double.NaN : subset.Average(value);
    }
}

/// <summary>
/// One frame's result under one mode, with how sure the model was of its text field and of each shape it named
/// (<see cref="LanguageAnswer.TextConfidence"/>, <see cref="LanguageAnswer.ShapeConfidences"/>).
/// </summary>
public sealed record FrameOutcome(
    SyntheticSample Sample, string Output, bool CaptionCorrect, bool TextCorrect, int VisualTokens, double? TextConfidence = null, IReadOnlyList<double>? ShapeConfidences = null)
{
    /// <summary>Whether the model's text field names some text (anything but "none").</summary>
    public bool ReportedText => ModelAnswer.Parse(Output).Text is not null;

    /// <summary>Half for the caption, half for the text field ("none" included).</summary>
    public double Score => (CaptionCorrect ? 0.5 : 0) + (TextCorrect ? 0.5 : 0);

    /// <summary>
    /// For a frame with text, one minus the character error rate of what was read (edit distance over the
    /// expected length, at least 0): a wrong character in a word of four reads three quarters, "none" reads nothing.
    /// </summary>
    public double CharactersRead => Sample.Text is { } expected ? ReadingScore.CharactersRead(expected, ModelAnswer.Parse(Output).Text) : double.NaN;

    /// <summary>This outcome as the model reports it at a text threshold: a text read less surely than it becomes "none".</summary>
    public FrameOutcome AtTextThreshold(double threshold) =>
        ModelAnswer.AtTextThreshold(Output, TextConfidence, threshold) is var reported && reported != Output
            ? this with { Output = reported, TextCorrect = Sample.Text is null }
            : this;

    /// <summary>This outcome as the model reports it at a shape threshold: the shapes named less surely than it are left out.</summary>
    public FrameOutcome AtShapeThreshold(double threshold) =>
        ModelAnswer.AtShapeThreshold(Output, ShapeConfidences, threshold) is var reported && reported != Output
            ? this with
            {
                Output = reported,
                CaptionCorrect = ModelAnswer.Parse(reported).Caption == Sample.Caption,
                ShapeConfidences = ShapeConfidences!.Where(c => c >= threshold).ToArray(),
            }
            : this;
}

/// <summary>How much of a word was read, for words that are not read exactly.</summary>
public static class ReadingScore
{
    /// <summary>One minus the character error rate: 1 - edit distance / expected length, at least 0; null reads nothing.</summary>
    public static double CharactersRead(string expected, string? read) =>
        expected.Length == 0 ? double.NaN : Math.Max(0, 1 - (double)EditDistance(expected, read ?? "") / expected.Length);

    /// <summary>Levenshtein distance: the fewest insertions, deletions and substitutions that turn one into the other.</summary>
    public static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}

/// <summary>
/// The held-out evaluation: the same generated frames through all-256, ViR, all-64 and random routing at
/// ViR's compression ratio, on two sets: the synthetic one (bitmap font, drawn patterns) and the real-font one
/// (held-out font families over held-out photographs and procedural backgrounds, at real video sizes).
/// </summary>
public sealed class VireoEvaluator(VireoEngine engine, Action<string> log)
{
    /// <summary>
    /// The most tiles a frame is cut into for analysis; null keeps the checkpoint's own limit, the one both sets are
    /// drawn for. More tiles show the same frame larger: text drawn small for the checkpoint's tiling spans more pixels
    /// of each tile, at the cost of more visual tokens.
    /// </summary>
    public int? MaxTiles { get; init; }

    /// <summary>Seed offset that keeps evaluation frames apart from training batches.</summary>
    public const int HeldOutSeedBase = 900_000_001;

    public static List<SyntheticSample> HeldOutSet(VireoEngine engine, int count, int seed)
    {
        var generator = new SyntheticFrames(engine.Model.Tiler);
        var rng = new Random(HeldOutSeedBase + seed);
        var seeds = Enumerable.Range(0, count).Select(_ => rng.Next()).ToArray();
        var samples = new SyntheticSample[count];
        Parallel.For(0, count, i => samples[i] = generator.Generate(new Random(seeds[i]), SyntheticFrames.EvaluationSizes));
        return samples.ToList();
    }

    /// <summary>Seed offset of the real-font set, apart from the synthetic set and from training.</summary>
    public const int RealFontSeedBase = 700_000_003;

    /// <summary>
    /// The held-out real-font set: only held-out font families and photographs, at the sizes of real video. Fails with
    /// the catalogue's message when the fonts or photographs are not installed. <paramref name="draw"/> can move
    /// either half to the training side, which tells a miss of generalisation from a miss of reading.
    /// </summary>
    public static List<SyntheticSample> RealFontSet(VireoEngine engine, int count, int seed, RealFontDraw? draw = null, FontCatalog? fonts = null, PhotoCatalog? photos = null)
    {
        draw ??= RealFontDraw.Published;
        var generator = new RealFrames(engine.Model.Tiler, fonts ?? FontCatalog.Default(), photos ?? PhotoCatalog.Default(), draw.HeldOut, draw.AtTileScale);
        var sizes = draw.VideoSizes ? RealFrames.EvaluationSizes : RealFrames.TrainingSizes;
        var rng = new Random(RealFontSeedBase + seed);
        var seeds = Enumerable.Range(0, count).Select(_ => rng.Next()).ToArray();
        var samples = new SyntheticSample[count];
        Parallel.For(0, count, i => samples[i] = generator.Generate(new Random(seeds[i]), sizes));
        return samples.ToList();
    }

    public EvalRow Run(string mode, RoutingPolicy routing, IReadOnlyList<SyntheticSample> samples, int batchSize)
    {
        var outcomes = new List<FrameOutcome>();
        long tiles = 0, compressed = 0;
        var clock = Stopwatch.StartNew();
        for (var start = 0; start < samples.Count; start += batchSize)
        {
            var batch = samples.Skip(start).Take(batchSize).ToList();
            // Random routing draws afresh for every batch; the other policies are the same everywhere.
            var batchRouting = routing is RoutingPolicy.AtRandom random ? random with { Seed = random.Seed + start } : routing;
            var results = engine.Analyze(batch.Select(s => s.Frame).ToList(), batchRouting, maxTiles: MaxTiles);
            for (var i = 0; i < batch.Count; i++)
            {
                var (caption, text) = ModelAnswer.Parse(results[i].Text);
                outcomes.Add(new FrameOutcome(batch[i], results[i].Text, caption == batch[i].Caption, text == batch[i].Text, results[i].VisualTokensAfter, results[i].TextConfidence, results[i].ShapeConfidences));
                tiles += results[i].Tiles.Count;
                compressed += results[i].Tiles.Count(t => t.Compressed);
            }
        }
        var seconds = clock.Elapsed.TotalSeconds;
        var row = new EvalRow(
            mode,
            outcomes.Average(o => o.VisualTokens),
            (double)compressed / tiles,
            EvalRow.ExactWords(outcomes, TextSize.Small),
            EvalRow.ExactWords(outcomes, TextSize.Large),
            outcomes.Average(o => o.CaptionCorrect ? 1.0 : 0.0),
            outcomes.Average(o => o.Score),
            samples.Count / seconds,
            outcomes);
        log($"  {mode}: {seconds:F1}s");
        return row;
    }

    /// <summary>The table of modes and the breakdown by category.</summary>
    public static string Table(IReadOnlyList<EvalRow> rows)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(ci, $"{"mode",-10} {"tokens/frame",12} {"compressed",10} {"small text",10} {"large text",10} {"caption",8} {"false shapes",12} {"false text",10} {"score",6} {"frames/s",9} {"small chars",11} {"large chars",11}"));
        foreach (var r in rows)
            sb.AppendLine(string.Create(ci, $"{r.Mode,-10} {r.VisualTokensPerFrame,12:F1} {r.CompressedTileFraction,10:P1} {r.SmallTextAccuracy,10:P1} {r.LargeTextAccuracy,10:P1} {r.CaptionAccuracy,8:P1} {r.FalseShapeRate,12:P1} {r.FalseTextRate,10:P1} {r.Score,6:F3} {r.FramesPerSecond,9:F2} {r.SmallTextCharacters,11:P1} {r.LargeTextCharacters,11:P1}"));
        sb.AppendLine("(small text and large text: words read exactly; false shapes, false text: frames without any where the model names some;");
        sb.AppendLine(" chars: characters read, one minus the character error rate)");
        sb.AppendLine();
        sb.AppendLine("score by category (caption half + text field half), and tokens/frame:");
        var categories = new (string Name, Func<SyntheticSample, bool> Match)[]
        {
            ("background flat", s => !s.BusyBackground), ("background busy", s => s.BusyBackground),
            ("photo", s => s.Background == BackgroundKind.Photo),
            ("no text", s => s.TextSize == TextSize.None), ("nothing at all", s => s.Text is null && s.ShapeCount == 0),
            ("small text", s => s.TextSize == TextSize.Small), ("large text", s => s.TextSize == TextSize.Large),
            ("1 tile", s => s.TileCount == 1), ("3 tiles", s => s.TileCount == 3), ("5 tiles", s => s.TileCount == 5),
        };
        sb.Append(string.Create(ci, $"{"category",-16} {"n",4}"));
        foreach (var r in rows) sb.Append(string.Create(ci, $" {r.Mode + " score",13} {"tok",6}"));
        sb.AppendLine();
        foreach (var (name, match) in categories)
        {
            var n = rows[0].Frames.Count(o => match(o.Sample));
            if (n == 0) continue;
            sb.Append(string.Create(ci, $"{name,-16} {n,4}"));
            foreach (var r in rows)
            {
                var subset = r.Frames.Where(o => match(o.Sample)).ToList();
                sb.Append(string.Create(ci, $" {subset.Average(o => o.Score),13:F3} {subset.Average(o => o.VisualTokens),6:F0}"));
            }
            sb.AppendLine();
        }
        AppendFontFamilies(sb, rows);
        return sb.ToString();
    }

    /// <summary>
    /// For a set drawn in real fonts, the words each font family's frames read exactly per mode, small and large apart,
    /// so that a miss can be traced to the letterforms it happens in; nothing for the bitmap font's set.
    /// </summary>
    private static void AppendFontFamilies(StringBuilder sb, IReadOnlyList<EvalRow> rows)
    {
        var families = rows[0].Frames.Select(o => o.Sample.FontFamily).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToList();
        if (families.Count == 0) return;
        var ci = CultureInfo.InvariantCulture;
        static string Share(double value) => double.IsNaN(value) ? "-" : value.ToString("P1", CultureInfo.InvariantCulture);
        sb.AppendLine();
        sb.AppendLine("words read exactly by font family, small / large (n: frames with small / large text):");
        sb.Append(string.Create(ci, $"{"font family",-22} {"n",9}"));
        foreach (var r in rows) sb.Append(string.Create(ci, $" {r.Mode,17}"));
        sb.AppendLine();
        foreach (var family in families)
        {
            int WithText(TextSize size) => rows[0].Frames.Count(o => o.Sample.FontFamily == family && o.Sample.TextSize == size);
            sb.Append(string.Create(ci, $"{family,-22} {$"{WithText(TextSize.Small)} / {WithText(TextSize.Large)}",9}"));
            foreach (var r in rows)
            {
                var subset = r.Frames.Where(o => o.Sample.FontFamily == family).ToList();
                var shares = $"{Share(EvalRow.ExactWords(subset, TextSize.Small))} / {Share(EvalRow.ExactWords(subset, TextSize.Large))}";
                sb.Append(string.Create(ci, $" {shares,17}"));
            }
            sb.AppendLine();
        }
    }

    /// <summary>
    /// Both tables and the summary line. The summary's ViR keys are computed on the real-font set; the real-font keys
    /// are that set's large-text accuracy and false-text rate under ViR (the mode the pipeline runs) and its small-text accuracy at 256 tokens.
    /// </summary>
    public static string Report(IReadOnlyList<EvalRow> synthetic, IReadOnlyList<EvalRow> realFont, bool onCpu, RealFontDraw? draw = null, double textThreshold = 0, double shapeThreshold = 0, Tiling? tiling = null)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(ci, $"text threshold {textThreshold:F2}: a text read with less confidence is reported as none"));
        sb.AppendLine(string.Create(ci, $"shape threshold {shapeThreshold:F2}: a shape named with less confidence is left out"));
        if (tiling is { Analysed: var analysed, Drawn: var drawn } && analysed != drawn)
            sb.AppendLine(string.Create(ci, $"tiles: frames analysed in at most {analysed} tiles, drawn (and their text sized) for the checkpoint's {drawn}"));
        sb.AppendLine();
        sb.AppendLine("synthetic set (bitmap font, drawn patterns):");
        sb.Append(Table(synthetic));
        sb.AppendLine();
        sb.AppendLine($"real-font set ({(draw ?? RealFontDraw.Published).Description}):");
        sb.Append(Table(realFont));
        var full = realFont.Single(r => r.Mode == "all-256");
        var vir = realFont.Single(r => r.Mode == "vir");
        var all64 = realFont.Single(r => r.Mode == "all-64");
        var rand = realFont.Single(r => r.Mode == "random");
        sb.AppendLine();
        if (!onCpu) sb.AppendLine(string.Create(ci, $"gpu_frames_per_s={vir.FramesPerSecond:F2} (ViR mode on the real-font set, on this GPU)"));
        sb.Append(string.Create(ci,
            $"vir_tokens_removed={1 - vir.VisualTokensPerFrame / full.VisualTokensPerFrame:F3} " +
            $"vir_accuracy_retained={vir.Score / full.Score:F3} " +
            $"all64_small_text_drop={(full.SmallTextAccuracy - all64.SmallTextAccuracy) * 100:F1} " +
            // ViR's score minus random routing's at the same ratio, in points: positive when the router beats chance.
            $"random_minus_vir={(vir.Score - rand.Score) * 100:F1} " +
            $"cpu_frames_per_s={(onCpu ? vir.FramesPerSecond.ToString("F2", ci) : "n/a")} " +
            $"real_font_large={vir.LargeTextAccuracy:F3} real_font_small={full.SmallTextAccuracy:F3} false_text_rate={vir.FalseTextRate:F3}"));
        return sb.ToString();
    }
}

/// <summary>The most tiles a frame is analysed in, and the most its set was drawn for (the checkpoint's own limit).</summary>
public sealed record Tiling(int Analysed, int Drawn);

/// <summary>
/// Where the real-font set draws from: the held-out font families and photographs at the sizes of real video (the
/// published set), or, to locate a miss, the training families and photographs and the training frame sizes. At tile
/// scale, frames larger than their tile grid are drawn at the grid's scale (<see cref="RealFrames.AtTileScale"/>), as
/// training with <see cref="TrainingOptions.DrawAtTileScale"/> draws them.
/// </summary>
public sealed record RealFontDraw(bool HeldOut = true, bool VideoSizes = true, bool AtTileScale = false)
{
    public static readonly RealFontDraw Published = new();

    public string Description =>
        $"{(HeldOut ? "held-out" : "training")} font families and photographs, {(VideoSizes ? "video" : "training")} sizes{(AtTileScale ? " at tile scale" : "")}";
}
