using System.Diagnostics;
using System.Text;
using TorchSharp;
using Vireo.Model.Configuration;
using Vireo.Model.Modules;
using Vireo.Model.Text;
using static TorchSharp.torch;

namespace Vireo.Model.Inference;

/// <summary>
/// The language side at inference: places a frame's visual tokens between the image tokens of the prompt, prefills,
/// and decodes greedily with a KV cache.
/// </summary>
public sealed class VireoLanguage(LanguageTower tower, Device device, bool ownsTower = true) : ModelSide<LanguageTower>(tower, device, ownsTower)
{
    /// <summary>
    /// Loads only the language side of a model directory (<c>language_model</c> from model.safetensors, and
    /// config.json with the tokenizer) onto a device ("auto", "cpu", "cuda").
    /// </summary>
    /// <exception cref="Modules.CheckpointMismatchException">The language side's tensors differ from its config.</exception>
    public static VireoLanguage Load(string directory, string device = "auto")
    {
        var language = new VireoLanguage(VireoCheckpoint.LoadLanguage(directory, dtype: TorchRuntime.DefaultDType(directory, device)), TorchRuntime.ResolveDevice(device));
        // Once on the device: moving the model afterwards would part the fused weights.
        language.Tower.LanguageModel.FuseForInference();
        return language;
    }

    /// <summary>
    /// Decodes one frame's answer from its visual tokens ([tokens × width] values, row-major, in tile order) and the
    /// tiles' routes. Returns the generated text (see <see cref="ModelAnswer"/>) and the milliseconds it took.
    /// </summary>
    /// <param name="compressedTiles">Per tile, whether it took the 64-token path.</param>
    /// <param name="visualTokens">The frame's visual tokens.</param>
    /// <param name="maxNewTokens">Generation stops after this many tokens if the end of the turn has not come.</param>
    /// <param name="question">The frame's question (InternVL's template); null asks the default.</param>
    public LanguageAnswer Describe(IReadOnlyList<bool> compressedTiles, float[] visualTokens, int maxNewTokens = 96, string? question = null) =>
        DescribeBatch([new LanguageInput(compressedTiles, visualTokens, question)], maxNewTokens)[0];

    /// <summary>
    /// Decodes the answers of several frames together: one prefill and one decode step a token for the whole batch.
    /// Each frame gets the answer it gets alone. The milliseconds of each are its share of the batch's time.
    /// </summary>
    /// <param name="frames">The frames' routes, visual tokens and questions.</param>
    /// <param name="maxNewTokens">Generation stops after this many tokens a frame if the end of the turn has not come.</param>
    public IReadOnlyList<LanguageAnswer> DescribeBatch(IReadOnlyList<LanguageInput> frames, int maxNewTokens = 96)
    {
        if (frames.Count == 0) return [];
        var config = Tower.Config;
        var width = config.LlmConfig.HiddenSize;
        var total = 0;
        foreach (var frame in frames)
        {
            var expected = frame.CompressedTiles.Sum(config.TokensFor);
            if (frame.VisualTokens.Length != expected * width)
                throw new ArgumentException($"expected {expected} visual tokens of width {width} for these tiles, got {frame.VisualTokens.Length} values");
            total += expected;
        }
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var values = new float[total * width];
        var offset = 0;
        foreach (var frame in frames)
        {
            frame.VisualTokens.CopyTo(values, offset);
            offset += frame.VisualTokens.Length;
        }
        var visual = TorchRuntime.Upload(tensor(values, [total, width]), Device).to(Tower.LanguageModel.parameters().First().dtype);
        var prompts = frames.Select(f => new PromptRow(Tower.PromptIds(f.CompressedTiles, f.Question).Select(i => (long)i).ToArray())).ToArray();
        var tokenizer = Tower.Tokenizer;
        var outputs = BatchedGreedy.Generate(Tower, Device, prompts, visual, tokenizer.ImageContext, maxNewTokens, tokenizer.EndOfTurn);
        var share = clock.Elapsed.TotalMilliseconds / frames.Count;
        return outputs.Select((o, i) => Answer(tokenizer, o, share,
            (Threshold(frames[i].TextThreshold ?? TextThreshold), Threshold(frames[i].ShapeThreshold ?? ShapeThreshold)))).ToArray();
    }

    /// <summary>
    /// The least text confidence at which an answer's text is reported (see <see cref="ModelConfig.TextThreshold"/>);
    /// starts at the checkpoint's, and 0 reports whatever is read.
    /// </summary>
    public double TextThreshold
    {
        get => _textThreshold ?? Tower.Config.TextThreshold;
        set => _textThreshold = Threshold(value);
    }

    /// <summary>
    /// The least confidence at which a shape the model names is reported (see <see cref="ModelConfig.ShapeThreshold"/>);
    /// starts at the checkpoint's, and 0 reports every shape.
    /// </summary>
    public double ShapeThreshold
    {
        get => _shapeThreshold ?? Tower.Config.ShapeThreshold;
        set => _shapeThreshold = Threshold(value);
    }

    private double? _textThreshold;
    private double? _shapeThreshold;

    private static double Threshold(double value) =>
        ModelConfig.IsThreshold(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A threshold is at least 0 and below 1.");

    /// <summary>
    /// A row's answer with its confidences. The text confidence is the geometric mean of the probabilities of the text
    /// field's tokens (those after the text marker of <see cref="ModelAnswer"/>); a shape's is the probability of the
    /// least sure token of its phrase, the one where the model chose it. Shapes named, and a text read, below their
    /// thresholds are left out of what is reported.
    /// </summary>
    private static LanguageAnswer Answer(ITextTokenizer tokenizer, GeneratedRow row, double milliseconds, (double Text, double Shapes) thresholds)
    {
        var text = new StringBuilder();
        var ends = new int[row.Tokens.Count];
        for (var i = 0; i < row.Tokens.Count; i++)
        {
            text.Append(tokenizer.Decode([row.Tokens[i]]));
            ends[i] = text.Length;
        }
        var generated = text.ToString();
        // A field's tokens are those that overlap it: a token can carry the end of one field and the start of the next.
        IEnumerable<float> Overlapping(int start, int end) =>
            Enumerable.Range(0, row.Tokens.Count).Where(i => ends[i] > start && (i == 0 ? 0 : ends[i - 1]) < Math.Max(end, start + 1)).Select(i => row.LogProbabilities[i]);
        var fieldStart = ModelAnswer.TextFieldStart(generated);
        var field = fieldStart < 0 ? [] : Overlapping(fieldStart, int.MaxValue).ToList();
        double? textConfidence = field.Count == 0 ? null : Math.Exp(field.Sum(p => (double)p) / field.Count);
        var raw = tokenizer.Decode(row.Tokens);
        var shapeConfidences = ModelAnswer.ShapeSpans(generated)
            .Select(span => Overlapping(span.Start, span.End).DefaultIfEmpty(float.NegativeInfinity).Min(p => Math.Exp(p)))
            .ToArray();
        // Token by token, a multi-byte character may decode apart from whole: then the shapes cannot be matched to their tokens.
        if (shapeConfidences.Length != ModelAnswer.Parse(raw).Shapes.Count) shapeConfidences = [];
        var answer = ModelAnswer.AtShapeThreshold(raw, shapeConfidences, thresholds.Shapes);
        var kept = shapeConfidences.Where(c => c >= thresholds.Shapes).ToArray();
        return new LanguageAnswer(ModelAnswer.AtTextThreshold(answer, textConfidence, thresholds.Text), milliseconds, textConfidence, kept);
    }
}

/// <summary>One frame's decoded answer.</summary>
/// <param name="Text">
/// The generated text (see <see cref="ModelAnswer"/>) as reported: without the shapes named below the shape threshold,
/// and its text field "none" when the text read fell below the text threshold.
/// </param>
/// <param name="Milliseconds">This frame's share of the batch's decoding time.</param>
/// <param name="TextConfidence">
/// How sure the model is of its text field, as it generated it: the geometric mean of the probabilities of the field's
/// tokens, from 0 to 1; null when the answer has no text field.
/// </param>
/// <param name="ShapeConfidences">
/// How sure the model is of each shape it reports, in the caption's order: the probability of the least sure token of
/// the shape's phrase; empty when the shapes could not be matched to their tokens, and then none is left out.
/// </param>
public sealed record LanguageAnswer(string Text, double Milliseconds, double? TextConfidence, IReadOnlyList<double> ShapeConfidences);

/// <summary>One frame for the language side.</summary>
/// <param name="CompressedTiles">Per tile, whether it took the 64-token path.</param>
/// <param name="VisualTokens">The frame's visual tokens, [tokens × width] values, row-major, in tile order.</param>
/// <param name="Question">The frame's question (InternVL's template); null asks the default.</param>
/// <param name="TextThreshold">This frame's text threshold; null keeps <see cref="VireoLanguage.TextThreshold"/>.</param>
/// <param name="ShapeThreshold">This frame's shape threshold; null keeps <see cref="VireoLanguage.ShapeThreshold"/>.</param>
public sealed record LanguageInput(IReadOnlyList<bool> CompressedTiles, float[] VisualTokens, string? Question = null, double? TextThreshold = null, double? ShapeThreshold = null);
