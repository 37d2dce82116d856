using System.Diagnostics;
using TorchSharp;
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
    public static VireoLanguage Load(string directory, string device = "auto") =>
        new(VireoCheckpoint.LoadLanguage(directory, dtype: TorchRuntime.DefaultDType(directory, device)), TorchRuntime.ResolveDevice(device));

    /// <summary>
    /// Decodes one frame's answer from its visual tokens ([tokens × width] values, row-major, in tile order) and the
    /// tiles' routes. Returns the generated text (see <see cref="ModelAnswer"/>) and the milliseconds it took.
    /// </summary>
    /// <param name="compressedTiles">Per tile, whether it took the 64-token path.</param>
    /// <param name="visualTokens">The frame's visual tokens.</param>
    /// <param name="maxNewTokens">Generation stops after this many tokens if the end of the turn has not come.</param>
    /// <param name="question">The frame's question (InternVL's template); null asks the default.</param>
    public (string Text, double Milliseconds) Describe(IReadOnlyList<bool> compressedTiles, float[] visualTokens, int maxNewTokens = 96, string? question = null)
    {
        var config = Tower.Config;
        var expected = compressedTiles.Sum(config.TokensFor);
        var width = config.LlmConfig.HiddenSize;
        if (visualTokens.Length != expected * width)
            throw new ArgumentException($"expected {expected} visual tokens of width {width} for these tiles, got {visualTokens.Length} values");
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        using var visual = tensor(visualTokens, [expected, width]).to(Tower.LanguageModel.parameters().First().dtype).to(Device);
        var text = Generate(compressedTiles, visual, maxNewTokens, question);
        return (text, clock.Elapsed.TotalMilliseconds);
    }

    private string Generate(IReadOnlyList<bool> compress, Tensor frameVisual, int maxNewTokens, string? question)
    {
        using var scope = NewDisposeScope();
        var lm = Tower.LanguageModel;
        var prompt = Tower.PromptIds(compress, question).Select(i => (long)i).ToArray();
        var endOfTurn = Tower.Tokenizer.EndOfTurn;
        using var ids = tensor(prompt, [1, prompt.Length]).to(Device);
        var embeds = Tower.EmbedWithVision(ids, frameVisual);
        using var cache = new KvCache(Tower.Config.LlmConfig, 1, prompt.Length + maxNewTokens + 1, Device, lm.parameters().First().dtype);
        var hidden = lm.Hidden(embeds, cache);
        var next = lm.Logits(hidden[.., -1]).argmax(-1);
        var output = new List<int>();
        for (var step = 0; step < maxNewTokens; step++)
        {
            var token = (int)next.cpu().item<long>();
            if (token == endOfTurn) break;
            output.Add(token);
            using var stepScope = NewDisposeScope();
            var h = lm.Hidden(lm.Embed(next.reshape(1, 1)), cache);
            next = lm.Logits(h[.., -1]).argmax(-1).MoveToOuterDisposeScope();
        }
        return Tower.Tokenizer.Decode(output);
    }
}
