using TorchSharp;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Inference;

/// <summary>One frame's prompt for the language model: its ids, with an image-context id where each visual token goes.</summary>
/// <param name="Ids">The prompt's token ids.</param>
public sealed record PromptRow(long[] Ids);

/// <summary>One row's answer: the generated tokens and, for each, the natural log of the probability the model gave it.</summary>
/// <param name="Tokens">The new tokens, the stop token left out.</param>
/// <param name="LogProbabilities">log P(token | everything before it), one per token of <paramref name="Tokens"/>.</param>
public sealed record GeneratedRow(List<int> Tokens, List<float> LogProbabilities);

/// <summary>
/// Greedy decoding of many prompts at once: one prefill for each prompt length in the batch, then one decode step a
/// token for every row of the left-padded batch, each row at its own rotary positions and blind to the padding before
/// it. A row's answer does not depend on the rows beside it. Rows that have ended leave the batch at the next read of the
/// tokens once they are half of it.
/// </summary>
public static class BatchedGreedy
{
    /// <summary>
    /// Decodes every row of <paramref name="prompts"/>.
    /// </summary>
    /// <param name="tower">The language side.</param>
    /// <param name="device">Where it runs.</param>
    /// <param name="prompts">The rows.</param>
    /// <param name="visual">All rows' visual tokens [sum, H], on <paramref name="device"/>, row after row in prompt order.</param>
    /// <param name="imageContextId">The id whose positions take the visual tokens.</param>
    /// <param name="maxNewTokens">Most tokens generated a row.</param>
    /// <param name="stopToken">The token that ends a row's answer (not included); null generates <paramref name="maxNewTokens"/> a row.</param>
    /// <returns>Each row's new tokens with their log-probabilities.</returns>
    public static GeneratedRow[] Generate(LanguageTower tower, Device device, IReadOnlyList<PromptRow> prompts, Tensor visual,
        long imageContextId, int maxNewTokens, int? stopToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNewTokens, 1);
        var outputs = prompts.Select(_ => new GeneratedRow([], [])).ToArray();
        if (prompts.Count == 0) return outputs;
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var lm = tower.LanguageModel;
        var rows = prompts.Count;
        var length = prompts.Max(p => p.Ids.Length);
        var capacity = length + maxNewTokens;

        // Left padding: every row's last prompt token sits in the last column, so each decode step writes one shared
        // column. Rows are ordered longest first, so that rows of one length are neighbours: each length is prefilled
        // on its own, plainly causal, straight into its rows and columns of the shared cache, and no prefill attends
        // through a padding mask. The order changes nothing in any row's answer.
        var order = Enumerable.Range(0, rows).OrderByDescending(r => prompts[r].Ids.Length).ToArray();
        var visualStart = new long[rows + 1];
        for (var r = 0; r < rows; r++) visualStart[r + 1] = visualStart[r] + prompts[r].Ids.LongCount(id => id == imageContextId);
        if (visualStart[rows] != visual.shape[0])
            throw new ArgumentException($"{visualStart[rows]} image-context positions but {visual.shape[0]} visual tokens.", nameof(visual));

        using var cache = new KvCache(lm.Config, rows, capacity, device, visual.dtype);
        var lastHidden = new List<Tensor>();
        for (var first = 0; first < rows;)
        {
            var groupLength = prompts[order[first]].Ids.Length;
            var count = 1;
            while (first + count < rows && prompts[order[first + count]].Ids.Length == groupLength) count++;
            var ids = new long[count * groupLength];
            var imagePositions = new List<long>();
            var visualParts = new List<Tensor>();
            for (var i = 0; i < count; i++)
            {
                var r = order[first + i];
                for (var j = 0; j < groupLength; j++)
                {
                    ids[i * groupLength + j] = prompts[r].Ids[j];
                    if (prompts[r].Ids[j] == imageContextId) imagePositions.Add(i * groupLength + j);
                }
                visualParts.Add(visual.narrow(0, visualStart[r], visualStart[r + 1] - visualStart[r]));
            }
            var embeds = tower.EmbedWithVision(
                TorchRuntime.Upload(tensor(ids, [count, groupLength]), device),
                visualParts.Count == 1 ? visualParts[0] : cat(visualParts, 0),
                TorchRuntime.Upload(tensor(imagePositions.ToArray()), device));
            using var rowsOfCache = cache.Window(first, count, length - groupLength);
            lastHidden.Add(lm.Hidden(embeds, rowsOfCache).select(1, -1));
            first += count;
        }
        cache.Length = length;
        var (next, nextLogProbability) = Choose(lm.Logits(lastHidden.Count == 1 ? lastHidden[0] : cat(lastHidden, 0)));

        var padded = prompts[order[0]].Ids.Length != prompts[order[^1]].Ids.Length;
        Tensor? keyValid = null, nextPositions = null;
        if (padded)
        {
            var valid = new bool[rows * capacity];
            for (var i = 0; i < rows; i++)
            {
                var pad = length - prompts[order[i]].Ids.Length;
                Array.Fill(valid, true, i * capacity + pad, capacity - pad);
            }
            keyValid = TorchRuntime.Upload(tensor(valid, [rows, capacity]), device);
            nextPositions = TorchRuntime.Upload(tensor(order.Select(r => (long)prompts[r].Ids.Length).ToArray(), [rows, 1]), device);
        }

        // Reading the tokens waits for the device: on a GPU it happens every few steps, not every step.
        var readEvery = stopToken is null ? int.MaxValue : device.type == DeviceType.CPU ? 1 : 8;
        var live = order;
        var ended = new bool[rows];
        var pending = new List<Tensor>();
        var pendingLogProbabilities = new List<Tensor>();
        for (var produced = 1; ; produced++)
        {
            pending.Add(next);
            pendingLogProbabilities.Add(nextLogProbability);
            var last = produced == maxNewTokens;
            if (last || pending.Count >= readEvery)
            {
                using var host = stack(pending, 1).cpu();
                using var hostLogProbabilities = stack(pendingLogProbabilities, 1).cpu();
                pending.Clear();
                pendingLogProbabilities.Clear();
                var tokens = host.data<long>().ToArray();
                var logProbabilities = hostLogProbabilities.data<float>().ToArray();
                var width = (int)host.shape[1];
                for (var i = 0; i < live.Length; i++)
                {
                    var r = live[i];
                    for (var k = 0; k < width && !ended[r]; k++)
                    {
                        var token = (int)tokens[i * width + k];
                        if (token == stopToken) ended[r] = true;
                        else
                        {
                            outputs[r].Tokens.Add(token);
                            outputs[r].LogProbabilities.Add(logProbabilities[i * width + k]);
                        }
                    }
                }
                if (last || live.All(r => ended[r])) break;
                var keep = Enumerable.Range(0, live.Length).Where(i => !ended[live[i]]).ToArray();
                if (keep.Length * 2 <= live.Length)
                {
                    using var index = TorchRuntime.Upload(tensor(keep.Select(i => (long)i).ToArray()), device);
                    cache.KeepRows(index);
                    next = next.index_select(0, index);
                    nextLogProbability = nextLogProbability.index_select(0, index);
                    if (padded)
                    {
                        keyValid = keyValid!.index_select(0, index);
                        nextPositions = nextPositions!.index_select(0, index);
                    }
                    live = keep.Select(i => live[i]).ToArray();
                }
            }
            using var step = NewDisposeScope();
            var columns = cache.Length + 1;
            // An explicit Scalar, alive until libtorch has read it (an implicit one can be finalised during the call).
            using var offset = ((long)(produced - 1)).ToScalar();
            var stepPositions = padded ? nextPositions! + offset : null;
            var stepMask = padded ? keyValid!.narrow(1, 0, columns).reshape(live.Length, 1, 1, columns) : null;
            var h = lm.Hidden(lm.Embed(next.reshape(live.Length, 1)), cache, stepPositions, stepMask);
            (next, nextLogProbability) = Choose(lm.Logits(h.select(1, -1)));
            next.MoveToOuterDisposeScope();
            nextLogProbability.MoveToOuterDisposeScope();
        }
        return outputs;
    }

    /// <summary>The greedy token of each row's logits [rows, vocabulary] and its log-probability, in float32.</summary>
    private static (Tensor Token, Tensor LogProbability) Choose(Tensor logits)
    {
        var token = logits.argmax(-1);
        var logProbability = logits.to(ScalarType.Float32).log_softmax(-1).gather(-1, token.unsqueeze(-1)).squeeze(-1);
        return (token, logProbability);
    }
}
