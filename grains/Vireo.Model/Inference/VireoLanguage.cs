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
        var threshold = TextThreshold;
        return outputs.Select(o => Answer(tokenizer, o, share, threshold)).ToArray();
    }

    /// <summary>
    /// The least text confidence at which an answer's text is reported (see <see cref="ModelConfig.TextThreshold"/>);
    /// starts at the checkpoint's, and 0 reports whatever is read.
    /// </summary>
    public double TextThreshold
    {
        get => _textThreshold ?? Tower.Config.TextThreshold;
        set => _textThreshold = ModelConfig.IsTextThreshold(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A text threshold is at least 0 and below 1.");
    }

    private double? _textThreshold;

    /// <summary>
    /// A row's answer with its text confidence: the geometric mean of the probabilities of the text field's tokens
    /// (those after the text marker of <see cref="ModelAnswer"/>). A text read below <paramref name="threshold"/> is
    /// reported as none.
    /// </summary>
    private static LanguageAnswer Answer(ITextTokenizer tokenizer, GeneratedRow row, double milliseconds, double threshold)
    {
        var text = new StringBuilder();
        var ends = new int[row.Tokens.Count];
        for (var i = 0; i < row.Tokens.Count; i++)
        {
            text.Append(tokenizer.Decode([row.Tokens[i]]));
            ends[i] = text.Length;
        }
        // The field's tokens are those that end after its start: a token can carry the end of the marker and the start of the field.
        var start = ModelAnswer.TextFieldStart(text.ToString());
        var logProbability = 0.0;
        var fieldTokens = 0;
        for (var i = 0; i < row.Tokens.Count; i++)
            if (start >= 0 && ends[i] > start)
            {
                logProbability += row.LogProbabilities[i];
                fieldTokens++;
            }
        double? confidence = fieldTokens == 0 ? null : Math.Exp(logProbability / fieldTokens);
        return new LanguageAnswer(ModelAnswer.AtTextThreshold(tokenizer.Decode(row.Tokens), confidence, threshold), milliseconds, confidence);
    }
}

/// <summary>One frame's decoded answer.</summary>
/// <param name="Text">The generated text (see <see cref="ModelAnswer"/>), its text field "none" when the text read fell below the threshold.</param>
/// <param name="Milliseconds">This frame's share of the batch's decoding time.</param>
/// <param name="TextConfidence">
/// How sure the model is of its text field, as it generated it: the geometric mean of the probabilities of the field's
/// tokens, from 0 to 1; null when the answer has no text field.
/// </param>
public sealed record LanguageAnswer(string Text, double Milliseconds, double? TextConfidence);

/// <summary>One frame for the language side.</summary>
/// <param name="CompressedTiles">Per tile, whether it took the 64-token path.</param>
/// <param name="VisualTokens">The frame's visual tokens, [tokens × width] values, row-major, in tile order.</param>
/// <param name="Question">The frame's question (InternVL's template); null asks the default.</param>
public sealed record LanguageInput(IReadOnlyList<bool> CompressedTiles, float[] VisualTokens, string? Question = null);
