using TorchSharp;
using Vireo.Model.Data;
using Vireo.Model.Modules;
using Vireo.Model.Text;
using static TorchSharp.torch;

namespace Vireo.Model.Training;

/// <summary>Tiles of a batch of frames, normalised, with each frame's tile range.</summary>
public sealed class TileBatch(float[] pixels, int[] tileCounts, int imageSize)
{
    public float[] Pixels { get; } = pixels;
    public int[] TileCounts { get; } = tileCounts;
    public int TotalTiles => TileCounts.Sum();
    public int FirstTile(int frame) => TileCounts.Take(frame).Sum();

    /// <summary>Whether tile t of a frame is its thumbnail (the last tile, when the frame has more than one).</summary>
    public bool IsThumbnail(int frame, int tile) => TileCounts[frame] > 1 && tile == TileCounts[frame] - 1;

    public Tensor ToTensor(Device device) =>
        tensor(Pixels, [TotalTiles, 3, imageSize, imageSize]).to(device);

    public static TileBatch From(VireoModel model, IReadOnlyList<Imaging.RgbFrame> frames, IReadOnlyList<Imaging.DynamicTiler>? tilers = null)
    {
        var parts = new float[frames.Count][];
        var counts = new int[frames.Count];
        Parallel.For(0, frames.Count, i =>
        {
            parts[i] = (tilers?[i] ?? model.Tiler).Tile(frames[i], out var grid);
            counts[i] = grid.TotalTiles;
        });
        var all = new float[parts.Sum(p => (long)p.Length)];
        long offset = 0;
        foreach (var p in parts)
        {
            Array.Copy(p, 0, all, offset, p.Length);
            offset += p.Length;
        }
        return new TileBatch(all, counts, model.Config.ImageSize);
    }
}

/// <summary>
/// Teacher-forcing sequences for a batch: right-padded ids (prompt with visual placeholders, response, eos),
/// and the mask of positions whose next token is part of the response.
/// </summary>
public sealed class SequenceBatch : IDisposable
{
    private SequenceBatch(Tensor ids, Tensor predictMask, Tensor targets, int[] responseLengths, bool[] textTargets, bool[] captionTargets)
    {
        CaptionTargets = captionTargets;
        ResponseLengths = responseLengths;
        TextTargets = textTargets;
        Ids = ids;
        PredictMask = predictMask;
        Targets = targets;
    }

    /// <summary>[B, T] token ids, right-padded with pad.</summary>
    public Tensor Ids { get; }

    /// <summary>[B, T] true where the position predicts a response token (or the final eos).</summary>
    public Tensor PredictMask { get; }

    /// <summary>The response tokens (and eos) in mask order: the targets for the logits at <see cref="PredictMask"/>.</summary>
    public Tensor Targets { get; }

    /// <summary>Targets per sequence (response plus eos), in order.</summary>
    public int[] ResponseLengths { get; }

    /// <summary>Per target: whether it is a character of the answer's text field (not "none").</summary>
    public bool[] TextTargets { get; }

    /// <summary>Per target: whether it is a character of the answer's caption.</summary>
    public bool[] CaptionTargets { get; }

    public static SequenceBatch Build(VireoModel model, IReadOnlyList<string> answers, IReadOnlyList<int> tileCounts, IReadOnlyList<bool> compress, Device device)
    {
        var rows = new List<int[]>();
        var masks = new List<bool[]>();
        var targets = new List<long>();
        var lengths = new List<int>();
        var textTargets = new List<bool>();
        var captionTargets = new List<bool>();
        var t = 0;
        for (var f = 0; f < answers.Count; f++)
        {
            var decisions = compress.Skip(t).Take(tileCounts[f]).ToList();
            t += tileCounts[f];
            var prompt = model.PromptIds(decisions);
            var response = model.Tokenizer.Encode(answers[f]).Append(CharTokenizer.Eos).ToList();
            var row = prompt.Concat(response).ToArray();
            var mask = new bool[row.Length];
            for (var i = prompt.Count - 1; i < row.Length - 1; i++) mask[i] = true;
            rows.Add(row);
            masks.Add(mask);
            targets.AddRange(response.Select(x => (long)x));
            lengths.Add(response.Count);
            var (caption, text) = SyntheticFrames.ParseAnswer(answers[f]);
            var captionLength = model.Tokenizer.Encode(caption).Count;
            for (var i = 0; i < response.Count; i++) captionTargets.Add(i < captionLength);
            var textStart = text is null ? response.Count : response.Count - 1 - model.Tokenizer.Encode(text).Count;
            for (var i = 0; i < response.Count; i++) textTargets.Add(i >= textStart && i < response.Count - 1);
        }
        var length = rows.Max(r => r.Length);
        var ids = new long[rows.Count * length];
        var m = new bool[rows.Count * length];
        for (var r = 0; r < rows.Count; r++)
            for (var i = 0; i < rows[r].Length; i++)
            {
                ids[r * length + i] = rows[r][i];
                m[r * length + i] = masks[r][i];
            }
        return new SequenceBatch(
            tensor(ids, [rows.Count, length]).to(device),
            tensor(m, [rows.Count, length]).to(device),
            tensor(targets.ToArray()).to(device),
            lengths.ToArray(),
            textTargets.ToArray(),
            captionTargets.ToArray());
    }

    public void Dispose()
    {
        Ids.Dispose();
        PredictMask.Dispose();
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
        var embeds = model.EmbedWithVision(batch.Ids, visual);
        var hidden = model.LanguageModel.Hidden(embeds);
        var selected = hidden[batch.PredictMask];
        return model.LanguageModel.Logits(selected).MoveToOuterDisposeScope();
    }
}
