using TorchSharp;
using Vireo.Model.Modules;
using Vireo.Model.Inference;
using Vireo.Model.Text;
using static TorchSharp.torch;

namespace Vireo.Model.Training;

/// <summary>
/// Teacher-forcing sequences for a batch: right-padded ids (prompt with visual placeholders, response, eos),
/// and the mask of positions whose next token is part of the response.
/// </summary>
public sealed class SequenceBatch : IDisposable
{
    private SequenceBatch(Tensor ids, Tensor predictIndex, Tensor imagePositions, Tensor targets, int[] responseLengths, bool[] textTargets, bool[] captionTargets, bool[] smallTextTargets)
    {
        CaptionTargets = captionTargets;
        SmallTextTargets = smallTextTargets;
        ResponseLengths = responseLengths;
        TextTargets = textTargets;
        Ids = ids;
        PredictIndex = predictIndex;
        ImagePositions = imagePositions;
        Targets = targets;
    }

    /// <summary>[B, T] token ids, right-padded with pad.</summary>
    public Tensor Ids { get; }

    /// <summary>Flat indices into [B × T] of the positions that predict a response token (or the final eos), in order.</summary>
    public Tensor PredictIndex { get; }

    /// <summary>Flat indices into [B × T] of the &lt;IMG_CONTEXT&gt; positions, in order.</summary>
    public Tensor ImagePositions { get; }

    /// <summary>The response tokens (and eos) in order: the targets for the logits at <see cref="PredictIndex"/>.</summary>
    public Tensor Targets { get; }

    /// <summary>Targets per sequence (response plus eos), in order.</summary>
    public int[] ResponseLengths { get; }

    /// <summary>Per target: whether it is a character of the answer's text field (not "none").</summary>
    public bool[] TextTargets { get; }

    /// <summary>Per target: whether it is a character of the answer's caption.</summary>
    public bool[] CaptionTargets { get; }

    /// <summary>Per target: whether it is a character of a text field that the frame shows small; all false when the build was not told.</summary>
    public bool[] SmallTextTargets { get; }

    /// <summary>
    /// The sequences of <paramref name="answers"/>, each prompt with the visual placeholders its tiles'
    /// <paramref name="compress"/> decisions ask for; <paramref name="smallText"/> says, per answer, whether its text is
    /// drawn small (see <see cref="SmallTextTargets"/>).
    /// </summary>
    public static SequenceBatch Build(VireoModel model, IReadOnlyList<string> answers, IReadOnlyList<int> tileCounts, IReadOnlyList<bool> compress, Device device,
        IReadOnlyList<bool>? smallText = null)
    {
        var rows = new List<int[]>();
        var promptLengths = new List<int>();
        var targets = new List<long>();
        var lengths = new List<int>();
        var textTargets = new List<bool>();
        var captionTargets = new List<bool>();
        var smallTextTargets = new List<bool>();
        var t = 0;
        for (var f = 0; f < answers.Count; f++)
        {
            var decisions = compress.Skip(t).Take(tileCounts[f]).ToList();
            t += tileCounts[f];
            var prompt = model.PromptIds(decisions);
            var response = model.Tokenizer.Encode(answers[f]).Append(CharTokenizer.Eos).ToList();
            var row = prompt.Concat(response).ToArray();
            rows.Add(row);
            promptLengths.Add(prompt.Count);
            targets.AddRange(response.Select(x => (long)x));
            lengths.Add(response.Count);
            var (caption, text) = ModelAnswer.Parse(answers[f]);
            var captionLength = model.Tokenizer.Encode(caption).Count;
            for (var i = 0; i < response.Count; i++) captionTargets.Add(i < captionLength);
            var textStart = text is null ? response.Count : response.Count - 1 - model.Tokenizer.Encode(text).Count;
            var small = smallText?[f] == true;
            for (var i = 0; i < response.Count; i++)
            {
                var isText = i >= textStart && i < response.Count - 1;
                textTargets.Add(isText);
                smallTextTargets.Add(small && isText);
            }
        }
        var length = rows.Max(r => r.Length);
        var ids = new long[rows.Count * length];
        var predict = new List<long>(targets.Count);
        var image = new List<long>();
        for (var r = 0; r < rows.Count; r++)
            for (var i = 0; i < rows[r].Length; i++)
            {
                var at = (long)r * length + i;
                ids[at] = rows[r][i];
                // The last prompt position predicts the first response token; the eos predicts nothing.
                if (i >= promptLengths[r] - 1 && i < rows[r].Length - 1) predict.Add(at);
                if (rows[r][i] == CharTokenizer.ImageContext) image.Add(at);
            }
        return new SequenceBatch(
            TorchRuntime.Upload(tensor(ids, [rows.Count, length]), device),
            TorchRuntime.Upload(tensor(predict.ToArray()), device),
            TorchRuntime.Upload(tensor(image.ToArray()), device),
            TorchRuntime.Upload(tensor(targets.ToArray()), device),
            lengths.ToArray(),
            textTargets.ToArray(),
            captionTargets.ToArray(),
            smallTextTargets.ToArray());
    }

    public void Dispose()
    {
        Ids.Dispose();
        PredictIndex.Dispose();
        ImagePositions.Dispose();
        Targets.Dispose();
    }
}

/// <summary>Forward passes shared by the training stages.</summary>
public static class TeacherForcing
{
    /// <summary>Logits [response tokens, V] for the masked positions, given the tiles' vision features.</summary>
    public static Tensor ResponseLogits(VireoModel model, Tensor features, IReadOnlyList<bool> compress, SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        var visual = model.ConnectTiles(features, compress);
        var embeds = model.EmbedWithVision(batch.Ids, visual, batch.ImagePositions);
        var hidden = model.LanguageModel.Hidden(embeds);
        var selected = hidden.reshape(-1, hidden.shape[2]).index_select(0, batch.PredictIndex);
        return model.LanguageModel.Logits(selected).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mean loss over the response tokens; without the caption, over the tokens after it (the text field and eos).
    /// Each character of small text counts <paramref name="smallTextWeight"/> times in the sum, and once in the count,
    /// so every other token keeps the gradient it has at weight 1.
    /// </summary>
    public static Tensor AnswerLoss(Tensor tokenLoss, SequenceBatch batch, bool includeCaption, double smallTextWeight = 1)
    {
        var selected = includeCaption ? null : batch.CaptionTargets.Select(c => !c).ToArray();
        if (smallTextWeight == 1) return selected is null ? tokenLoss.mean() : MeanOver(tokenLoss, selected)!;
        using var scope = NewDisposeScope();
        var weights = batch.SmallTextTargets.Select((small, i) => selected?[i] == false ? 0f : small ? (float)smallTextWeight : 1f).ToArray();
        var count = selected?.Count(x => x) ?? weights.Length;
        return ((tokenLoss * TorchRuntime.Upload(tensor(weights), tokenLoss.device)).sum() / count).MoveToOuterDisposeScope();
    }

    /// <summary>Mean of the token losses where <paramref name="selected"/> is true; null when none is.</summary>
    public static Tensor? MeanOver(Tensor tokenLoss, bool[] selected)
    {
        var count = selected.Count(x => x);
        if (count == 0) return null;
        using var scope = NewDisposeScope();
        var weights = TorchRuntime.Upload(tensor(selected.Select(x => x ? 1f : 0f).ToArray()), tokenLoss.device);
        return ((tokenLoss * weights).sum() / count).MoveToOuterDisposeScope();
    }
}
