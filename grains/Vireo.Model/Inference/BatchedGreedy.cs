using TorchSharp;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Inference;

/// <summary>One frame's prompt for the language model: its ids, with an image-context id where each visual token goes.</summary>
/// <param name="Ids">The prompt's token ids.</param>
public sealed record PromptRow(long[] Ids);

/// <summary>
/// Greedy decoding of many prompts at once: one prefill of the left-padded batch, then one decode step a token for
/// every row, each row at its own rotary positions and blind to the padding before it. A row's answer does not depend
/// on the rows beside it. Rows that have ended leave the batch at the next read of the tokens once they are half of it.
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
    /// <returns>Each row's new tokens.</returns>
    public static List<int>[] Generate(LanguageTower tower, Device device, IReadOnlyList<PromptRow> prompts, Tensor visual,
        long imageContextId, int maxNewTokens, int? stopToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNewTokens, 1);
        var outputs = prompts.Select(_ => new List<int>()).ToArray();
        if (prompts.Count == 0) return outputs;
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var lm = tower.LanguageModel;
        var rows = prompts.Count;
        var length = prompts.Max(p => p.Ids.Length);
        var capacity = length + maxNewTokens;
        var padded = prompts.Any(p => p.Ids.Length != length);

        // Left padding: every row's last prompt token sits in the last column, so each step writes one shared column.
        var ids = new long[rows * length];
        var positions = new long[rows * length];
        var valid = new bool[rows * capacity];
        var imagePositions = new List<long>();
        for (var r = 0; r < rows; r++)
        {
            var prompt = prompts[r].Ids;
            var pad = length - prompt.Length;
            for (var j = 0; j < prompt.Length; j++)
            {
                var at = r * length + pad + j;
                ids[at] = prompt[j];
                positions[at] = j;
                if (prompt[j] == imageContextId) imagePositions.Add(at);
            }
            Array.Fill(valid, true, r * capacity + pad, capacity - pad);
        }

        var embeds = tower.EmbedWithVision(
            TorchRuntime.Upload(tensor(ids, [rows, length]), device), visual, TorchRuntime.Upload(tensor(imagePositions.ToArray()), device));
        using var cache = new KvCache(lm.Config, rows, capacity, device, embeds.dtype);
        Tensor? keyValid = null, rowPositions = null, nextPositions = null, prefillMask = null;
        if (padded)
        {
            keyValid = TorchRuntime.Upload(tensor(valid, [rows, capacity]), device);
            rowPositions = TorchRuntime.Upload(tensor(positions, [rows, length]), device);
            nextPositions = TorchRuntime.Upload(tensor(prompts.Select(p => (long)p.Ids.Length).ToArray(), [rows, 1]), device);
            // Causal within a row's own tokens. A padding query sees itself, so no softmax row is empty (an empty one
            // is NaN, and would reach the cache); no real query ever sees a padding key.
            var causal = ones(length, length, dtype: ScalarType.Bool, device: device).tril();
            var self = eye(length, dtype: ScalarType.Bool, device: device);
            prefillMask = ((causal & keyValid.narrow(1, 0, length).unsqueeze(1)) | self).unsqueeze(1);
        }
        var hidden = lm.Hidden(embeds, cache, rowPositions, prefillMask);
        var next = lm.Logits(hidden.select(1, -1)).argmax(-1);

        // Reading the tokens waits for the device: on a GPU it happens every few steps, not every step.
        var readEvery = stopToken is null ? int.MaxValue : device.type == DeviceType.CPU ? 1 : 8;
        var live = Enumerable.Range(0, rows).ToArray();
        var ended = new bool[rows];
        var pending = new List<Tensor>();
        for (var produced = 1; ; produced++)
        {
            pending.Add(next);
            var last = produced == maxNewTokens;
            if (last || pending.Count >= readEvery)
            {
                using var host = stack(pending, 1).cpu();
                pending.Clear();
                var tokens = host.data<long>().ToArray();
                var width = (int)host.shape[1];
                for (var i = 0; i < live.Length; i++)
                {
                    var r = live[i];
                    for (var k = 0; k < width && !ended[r]; k++)
                    {
                        var token = (int)tokens[i * width + k];
                        if (token == stopToken) ended[r] = true;
                        else outputs[r].Add(token);
                    }
                }
                if (last || live.All(r => ended[r])) break;
                var keep = Enumerable.Range(0, live.Length).Where(i => !ended[live[i]]).ToArray();
                if (keep.Length * 2 <= live.Length)
                {
                    using var index = TorchRuntime.Upload(tensor(keep.Select(i => (long)i).ToArray()), device);
                    cache.KeepRows(index);
                    next = next.index_select(0, index);
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
            var stepPositions = padded ? nextPositions! + (produced - 1) : null;
            var stepMask = padded ? keyValid!.narrow(1, 0, columns).reshape(live.Length, 1, 1, columns) : null;
            var h = lm.Hidden(lm.Embed(next.reshape(live.Length, 1)), cache, stepPositions, stepMask);
            next = lm.Logits(h.select(1, -1)).argmax(-1).MoveToOuterDisposeScope();
        }
        return outputs;
    }
}
