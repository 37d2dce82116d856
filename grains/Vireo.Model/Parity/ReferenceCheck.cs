using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchSharp;
using Vireo.Model.Configuration;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Parity;

/// <summary>How closely the model reproduced one set of reference outputs.</summary>
/// <param name="DType">The dtype the model ran in.</param>
/// <param name="VisionMaxDiff">Largest |difference| of the vision features.</param>
/// <param name="Mlp1MaxDiff">Largest |difference| of the 256-token connector's output.</param>
/// <param name="Mlp2MaxDiff">Largest |difference| of the 64-token connector's output (0 without one).</param>
/// <param name="RouterProbabilityMaxDiff">Largest |difference| of the router's compress probabilities.</param>
/// <param name="HiddenMaxDiff">Largest |difference| of the final hidden states over the prompt.</param>
/// <param name="MaxLogitDiff">Largest |difference| of the recorded logits.</param>
/// <param name="LogitRange">max − min of the reference's recorded logits.</param>
/// <param name="GreedyMatch">Greedy tokens equal at the same step.</param>
/// <param name="GreedyCount">Greedy tokens recorded.</param>
/// <param name="RouterMatch">Tiles whose decision agrees.</param>
/// <param name="RouterCount">Tiles recorded.</param>
/// <param name="PromptMatch">Whether Vireo's prompt for the reference's routes equals the reference's ids; null without a tokenizer.</param>
public sealed record ParityResult(
    string DType,
    double VisionMaxDiff,
    double Mlp1MaxDiff,
    double Mlp2MaxDiff,
    double RouterProbabilityMaxDiff,
    double HiddenMaxDiff,
    double MaxLogitDiff,
    double LogitRange,
    int GreedyMatch,
    int GreedyCount,
    int RouterMatch,
    int RouterCount,
    bool? PromptMatch = null)
{
    /// <summary>
    /// The pass rule: in float32, max |logit difference| at most 1e-3 of the logits' range and every greedy token equal;
    /// in lower precision, at least 30 of 32 greedy tokens; in both, every router decision.
    /// </summary>
    public bool Passed => RouterMatch == RouterCount && PromptMatch != false && (DType == "float32"
        ? MaxLogitDiff <= 1e-3 * LogitRange && GreedyMatch == GreedyCount
        : GreedyMatch >= GreedyCount - 2 * GreedyCount / 32);

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{DType}: vision_max_diff={VisionMaxDiff:G3} mlp1_max_diff={Mlp1MaxDiff:G3} mlp2_max_diff={Mlp2MaxDiff:G3} " +
        $"router_prob_max_diff={RouterProbabilityMaxDiff:G3} hidden_max_diff={HiddenMaxDiff:G3} logit_range={LogitRange:G4} " +
        $"max_logit_diff={MaxLogitDiff:G3} (limit {1e-3 * LogitRange:G3}) greedy_match={GreedyMatch}/{GreedyCount} " +
        $"router_match={RouterMatch}/{RouterCount} prompt_match={(PromptMatch is { } p ? p ? "yes" : "no" : "n/a")} {(Passed ? "pass" : "FAIL")}");
}

/// <summary>
/// Runs a checkpoint directory against the reference outputs recorded beside it (<c>reference.safetensors</c>,
/// <c>reference.json</c>, written by <c>tests/parity/make_reference.py</c>): the same pixels and prompt ids through the
/// vision encoder, both connectors, the router and the language model, and 32 greedy tokens.
/// </summary>
public static class ReferenceCheck
{
    public const string ReferenceFile = "reference.safetensors";
    public const string ReferenceJson = "reference.json";

    /// <summary>The dtypes the reference holds outputs for.</summary>
    public static IReadOnlyList<string> RecordedDTypes(string directory)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, ReferenceJson)));
        return json.RootElement.GetProperty("dtypes").EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    /// <summary>Loads the checkpoint in <paramref name="dtype"/> on <paramref name="device"/> and compares it with the reference of that dtype.</summary>
    /// <param name="directory">The checkpoint directory, with the reference beside the weights.</param>
    /// <param name="dtype">float32, bfloat16 or float16.</param>
    /// <param name="device">Where to run.</param>
    /// <param name="tokenizerDirectory">Qwen3's tokenizer when the checkpoint has none; with one, the prompt Vireo builds is compared too.</param>
    public static ParityResult Run(string directory, string dtype, Device device, string? tokenizerDirectory = null)
    {
        var type = dtype switch
        {
            "float32" => ScalarType.Float32,
            "bfloat16" => ScalarType.BFloat16,
            "float16" => ScalarType.Float16,
            _ => throw new ArgumentException($"Unknown dtype {dtype}.", nameof(dtype)),
        };
        using var model = VireoCheckpoint.Load(directory, device, type, tokenizerDirectory);
        // Checked as the silos run it.
        model.LanguageModel.FuseForInference();
        using var reference = SafetensorsArchive.OpenFile(Path.Combine(directory, ReferenceFile));
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        Tensor Ref(string name) => reference.Read($"{dtype}.{name}").to(device);
        var config = model.Config;

        var pixels = ((reference.Read("pixel_bytes").to(ScalarType.Float32) - 128) / 64).to(type).to(device);
        var features = model.Vision.forward(pixels);
        var visionDiff = MaxDiff(features, Ref("vision_features"));
        var mlp1Diff = MaxDiff(model.ConnectStandard(features), Ref("mlp1_tokens"));
        var mlp2Diff = config.HasRouter ? MaxDiff(model.ConnectCompressed(features), Ref("mlp2_tokens")) : 0;

        var probability = model.VisionSide.CompressProbability(features).cpu();
        var refProbability = reference.Read($"{dtype}.router_probability");
        var probabilityDiff = MaxDiff(probability, refProbability);
        var refDecisions = reference.Read($"{dtype}.router_decision").to(ScalarType.Bool).data<bool>().ToArray();
        var threshold = config.RouterConfig.Threshold;
        var decisions = probability.data<float>().ToArray().Select(p => config.HasRouter && p >= threshold).ToArray();
        var routerMatch = decisions.Zip(refDecisions).Count(p => p.First == p.Second);

        // The language model reads the visual tokens of the reference's decisions, so its check stands apart from the router's.
        var prompt = reference.Read($"{dtype}.prompt_ids").data<long>().ToArray();
        long imageContext;
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, ReferenceJson))))
            imageContext = json.RootElement.GetProperty("image_context_id").GetInt64();
        var positions = prompt.Select((id, i) => (id, i)).Where(p => p.id == imageContext).Select(p => (long)p.i).ToArray();
        var visual = model.ConnectTiles(features, refDecisions);
        var ids = tensor(prompt, [1, prompt.Length]).to(device);
        var embeds = model.EmbedWithVision(ids, visual, tensor(positions).to(device));
        const int greedyCount = 32;
        using var cache = new KvCache(config.LlmConfig, 1, prompt.Length + greedyCount + 1, device, type);
        var hidden = model.LanguageModel.Hidden(embeds, cache);
        var hiddenDiff = MaxDiff(hidden[0], Ref("final_hidden"));
        var logits = model.LanguageModel.Logits(hidden[0]).to(ScalarType.Float32);
        var columns = reference.Read("logit_columns").to(device);
        var refColumns = Ref("logits_columns");
        var refLast = Ref("logits_last");
        var logitDiff = Math.Max(MaxDiff(logits.index_select(1, columns), refColumns), MaxDiff(logits[-1], refLast));
        var range = Math.Max(refColumns.max().item<float>(), refLast.max().item<float>()) -
                    Math.Min(refColumns.min().item<float>(), refLast.min().item<float>());

        var refGreedy = reference.Read($"{dtype}.greedy_ids").data<long>().ToArray();
        var next = logits[-1].argmax();
        var greedy = new List<long>();
        for (var step = 0; step < refGreedy.Length; step++)
        {
            greedy.Add(next.cpu().item<long>());
            using var stepScope = NewDisposeScope();
            var h = model.LanguageModel.Hidden(model.LanguageModel.Embed(next.reshape(1, 1)), cache);
            next = model.LanguageModel.Logits(h[0, -1]).to(ScalarType.Float32).argmax().MoveToOuterDisposeScope();
        }
        var greedyMatch = greedy.Zip(refGreedy).Count(p => p.First == p.Second);
        bool? promptMatch = null;
        if (config.Template == ModelConfig.SmallTemplate || Text.Qwen3Tokenizer.Exists(tokenizerDirectory ?? directory))
            promptMatch = model.PromptIds(refDecisions).Select(i => (long)i).SequenceEqual(prompt);
        return new ParityResult(dtype, visionDiff, mlp1Diff, mlp2Diff, probabilityDiff, hiddenDiff, logitDiff, range,
            greedyMatch, refGreedy.Length, routerMatch, refDecisions.Length, promptMatch);
    }

    /// <summary>Ids from Hugging Face tokenizers for a fixed set of strings (<c>tokenizer_reference.json</c>).</summary>
    public sealed record TokenizerReference(IReadOnlyList<string> Strings, IReadOnlyList<int[]> Ids);

    public static TokenizerReference ReadTokenizerReference(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(path, Encoding.UTF8));
        var strings = json.RootElement.GetProperty("strings").EnumerateArray().Select(e => e.GetString()!).ToList();
        var ids = json.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToList();
        return new TokenizerReference(strings, ids);
    }

    private static double MaxDiff(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        return (actual.to(ScalarType.Float32).to(expected.device) - expected.to(ScalarType.Float32)).abs().max().item<float>();
    }
}
