using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using Vireo.Model;
using Vireo.Model.Configuration;
using Vireo.Model.Inference;
using Vireo.Model.Modules;
using Vireo.Model.Text;
using static TorchSharp.torch;
using static Vireo.Cli.Commands.BenchModelCommand;

namespace Vireo.Cli.Commands;

/// <summary>What `vireo bench model` runs: tiles a frame, frames a batch, tokens generated, timed runs.</summary>
internal sealed record ModelBenchSettings(int Tiles, int Batch, int NewTokens, int Runs);

/// <summary>Vireo's figures for one shape.</summary>
internal sealed record ModelFigures
{
    public double VisionTilesPerSecondFrame { get; init; }
    public double VisionTilesPerSecondBatch { get; init; }
    public double PrefillTokensPerSecondOff { get; init; }
    public double TtftMsOff { get; init; }
    public double FirstTokenFramesPerSecondOff { get; init; }
    public double FirstTokenFramesPerSecondHalf { get; init; }
    public double FramesPerSecondOff1 { get; init; }
    public double FramesPerSecondHalf1 { get; init; }
    public double FramesPerSecondOff { get; init; }
    public double FramesPerSecondHalf { get; init; }
    public double DecodeStepMs { get; init; }
    public double BoundMs { get; init; }
}

/// <summary>
/// Random weights at a real shape in bfloat16 on the device, run through the same code as the silos: the ViT over all
/// tiles of a batch, the router on every tile, each tile's connector, then batched greedy decoding. Routing is either off
/// or compresses half the tiles (frame f compresses tiles i with i + f odd, so frames alternate 3 and 4 of 7 and the
/// batch is padded as real batches are).
/// </summary>
internal sealed class ModelBench : IDisposable
{
    private readonly Device _device;
    private readonly ModelBenchSettings _s;
    private readonly VireoVision _vision;
    private readonly LanguageTower _language;
    private readonly ModelConfig _config;
    private readonly ScalarType _dtype;

    public ModelBench(string shape, Device device, ModelBenchSettings settings, ScalarType? dtype = null)
    {
        _device = device;
        _s = settings;
        // The small template's ids stand for the text around the image; no tokenizer is needed at random weights.
        _config = Shape(shape) with { Template = ModelConfig.SmallTemplate };
        _dtype = dtype ?? (device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32);
        var clock = Stopwatch.StartNew();
        manual_seed(1);
        var visionTower = VireoCheckpoint.BuildIn(_dtype, () => new VisionTower(_config));
        _vision = new VireoVision(visionTower, device) { MaxTilesPerVisionPass = settings.Tiles * settings.Batch };
        _language = VireoCheckpoint.BuildIn(_dtype, () => new LanguageTower(_config));
        _language.to(device).eval();
        _language.LanguageModel.FuseForInference();
        Console.WriteLine(Inv($"{shape}: vision {Params(visionTower) / 1e6:F0} M and language {Params(_language) / 1e9:F2} B parameters in {_dtype}, built in {clock.Elapsed.TotalSeconds:F1} s"));
    }

    /// <summary>A published shape, or "tiny": the same tiles and token counts through a model of a few layers, to check the benchmark itself.</summary>
    internal static ModelConfig Shape(string name) => name == "tiny"
        ? InternVlShapes.Flash("2b") with
        {
            VisionConfig = new VisionConfig { HiddenSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 128 },
            LlmConfig = new LanguageConfig
            {
                VocabSize = 4096, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4,
                NumKeyValueHeads = 2, HeadDim = 16, MaxPositionEmbeddings = 8192,
            },
        }
        : InternVlShapes.Flash(name);

    private static long Params(nn.Module m) => m.parameters().Sum(p => p.numel());

    public void Dispose()
    {
        _vision.Dispose();
        _language.Dispose();
    }

    public ModelFigures Measure()
    {
        using var inference = inference_mode();
        var frames = _s.Batch;
        using var pixels = randn([frames * _s.Tiles, 3, _config.ImageSize, _config.ImageSize], device: _device);
        using var onePixels = pixels.narrow(0, 0, _s.Tiles);
        var off = Routes(frames, half: false);
        var half = Routes(frames, half: true);

        var copy = CopyBandwidth();
        var languageBytes = _language.parameters().Sum(p => p.numel() * p.element_size());
        // An untied model looks up a handful of embedding rows a step; a tied one reads the whole matrix as its output layer.
        if (!_config.LlmConfig.TieWordEmbeddings)
            languageBytes -= (long)_config.LlmConfig.HiddenSize * _config.LlmConfig.VocabSize * _language.parameters().First().element_size();

        var visionFrame = Time(() => _vision.Features(onePixels));
        var visionBatch = Time(() => _vision.Features(pixels));
        Console.WriteLine(Inv($"  vision: {_s.Tiles / visionFrame * 1000:F0} tiles/s at {_s.Tiles} tiles, {frames * _s.Tiles / visionBatch * 1000:F0} at {frames * _s.Tiles}"));

        var offVisual = Connect(pixels, off);
        var halfVisual = Connect(pixels, half);
        var offTokens = offVisual.shape[0];
        var halfTokens = halfVisual.shape[0];
        var prefillOff = Time(() => Decode(offVisual, off, 1));
        var prefillHalf = Time(() => Decode(halfVisual, half, 1));
        var offPromptTokens = off.Sum(PromptLength);
        var halfPromptTokens = half.Sum(PromptLength);
        Console.WriteLine(Inv($"  prefill of {frames} frames: routing off {offPromptTokens} tokens in {prefillOff:F1} ms = {offPromptTokens / prefillOff:F1} k tokens/s; half the tiles compressed {halfPromptTokens} tokens in {prefillHalf:F1} ms = {halfPromptTokens / prefillHalf:F1} k tokens/s ({prefillOff / prefillHalf:F2}x)"));

        // Moving visual tokens from a vision worker to a language worker: device to host and back, in bfloat16.
        var hop = Time(() =>
        {
            using var host = offVisual.cpu();
            return host.to(_device);
        });
        Console.WriteLine(Inv($"  visual tokens vision→language as bfloat16: {offTokens * _config.LlmConfig.HiddenSize * 2 / 1e6 / frames:F1} MB a frame routing off, {halfTokens * _config.LlmConfig.HiddenSize * 2 / 1e6 / frames:F1} MB half compressed; device→host→device {hop / frames:F2} ms a frame"));
        offVisual.Dispose();
        halfVisual.Dispose();

        double FirstToken(Tensor px, bool[][] routes) => Time(() => Decode(Connect(px, routes), routes, 1));
        double Whole(Tensor px, bool[][] routes) => Time(() => Decode(Connect(px, routes), routes, _s.NewTokens));
        var oneOff = off.Take(1).ToArray();
        var oneHalf = half.Take(1).ToArray();
        var ttftOff = FirstToken(onePixels, oneOff);
        var ttftHalf = FirstToken(onePixels, oneHalf);
        var firstOff = FirstToken(pixels, off);
        var firstHalf = FirstToken(pixels, half);
        Console.WriteLine(Inv($"  first token (vision + router + connectors + prefill): {ttftOff:F1} ms a frame alone routing off, {ttftHalf:F1} ms half compressed; batch {frames}: {frames / firstOff * 1000:F1} frames/s off, {frames / firstHalf * 1000:F1} half ({firstOff / firstHalf:F2}x)"));
        var wholeOff1 = Whole(onePixels, oneOff);
        var wholeHalf1 = Whole(onePixels, oneHalf);
        var wholeOff = Whole(pixels, off);
        var wholeHalf = Whole(pixels, half);
        var step = (wholeOff - firstOff) / (_s.NewTokens - 1);
        var bound = languageBytes / (copy * 1e9) * 1000;
        Console.WriteLine(Inv($"  whole frames ({_s.NewTokens} new tokens): batch 1 {1000 / wholeOff1:F2} frames/s off, {1000 / wholeHalf1:F2} half; batch {frames} {frames / wholeOff * 1000:F2} off, {frames / wholeHalf * 1000:F2} half ({wholeOff / wholeHalf:F2}x)"));
        Console.WriteLine(Inv($"  decode step at batch {frames}: {step:F2} ms; weights {languageBytes / 1e9:F2} GB at {copy:F0} GB/s = {bound:F2} ms ({step / bound:F2}x the bound)"));
        return new ModelFigures
        {
            VisionTilesPerSecondFrame = _s.Tiles / visionFrame * 1000,
            VisionTilesPerSecondBatch = frames * _s.Tiles / visionBatch * 1000,
            PrefillTokensPerSecondOff = offPromptTokens / prefillOff * 1000,
            TtftMsOff = ttftOff,
            FirstTokenFramesPerSecondOff = frames / firstOff * 1000,
            FirstTokenFramesPerSecondHalf = frames / firstHalf * 1000,
            FramesPerSecondOff1 = 1000 / wholeOff1,
            FramesPerSecondHalf1 = 1000 / wholeHalf1,
            FramesPerSecondOff = frames / wholeOff * 1000,
            FramesPerSecondHalf = frames / wholeHalf * 1000,
            DecodeStepMs = step,
            BoundMs = bound,
        };
    }

    /// <summary>
    /// Decodes a padded batch of frames (half the tiles compressed) together and each frame alone, and counts the frames
    /// whose greedy tokens are the same both ways, with the first step where any frame's differ.
    /// </summary>
    public (int Same, int Frames, int? FirstDifference) BatchAgreement()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var routes = Routes(_s.Batch, half: true);
        using var pixels = randn([_s.Batch * _s.Tiles, 3, _config.ImageSize, _config.ImageSize], device: _device);
        var visual = Connect(pixels, routes);
        var together = Decode(visual, routes, _s.NewTokens);
        var same = 0;
        int? first = null;
        for (int f = 0, offset = 0; f < routes.Length; f++)
        {
            var tokens = routes[f].Sum(_config.TokensFor);
            var alone = Decode(visual.narrow(0, offset, tokens), [routes[f]], _s.NewTokens)[0].Tokens;
            offset += tokens;
            var differ = Enumerable.Range(0, alone.Count).FirstOrDefault(k => alone[k] != together[f].Tokens[k], -1);
            if (differ < 0) same++;
            else first = Math.Min(first ?? int.MaxValue, differ);
        }
        return (same, routes.Length, first);
    }

    private bool[][] Routes(int frames, bool half) =>
        Enumerable.Range(0, frames).Select(f => Enumerable.Range(0, _s.Tiles).Select(i => half && (i + f) % 2 == 1).ToArray()).ToArray();

    private int PromptLength(bool[] compress) => PrefixTokens + 2 + compress.Sum(_config.TokensFor) + SuffixTokens;

    private PromptRow Prompt(bool[] compress)
    {
        var ids = new List<long>();
        for (var i = 0; i < PrefixTokens; i++) ids.Add(1000 + i);
        ids.Add(CharTokenizer.ImageStart);
        ids.AddRange(Enumerable.Repeat((long)CharTokenizer.ImageContext, compress.Sum(_config.TokensFor)));
        ids.Add(CharTokenizer.ImageEnd);
        for (var i = 0; i < SuffixTokens; i++) ids.Add(2000 + i);
        return new PromptRow(ids.ToArray());
    }

    /// <summary>ViT, router (read back to the host, as the silos do) and each tile's connector.</summary>
    private Tensor Connect(Tensor pixels, bool[][] routes)
    {
        using var scope = NewDisposeScope();
        var tower = _vision.Tower;
        var features = _vision.Features(pixels);
        using (var probabilities = tower.CompressProbability(features).cpu()) { }
        return tower.ConnectTiles(features, routes.SelectMany(r => r).ToArray()).MoveToOuterDisposeScope();
    }

    private GeneratedRow[] Decode(Tensor visual, bool[][] routes, int newTokens) =>
        BatchedGreedy.Generate(_language, _device, routes.Select(Prompt).ToArray(), visual, CharTokenizer.ImageContext, newTokens, stopToken: null);

    private void Sync()
    {
        if (_device.type == DeviceType.CUDA) cuda.synchronize();
    }

    /// <summary>The median of the timed runs in milliseconds, after one untimed run; the device is idle at each start and end.</summary>
    private double Time<T>(Func<T> run)
    {
        using (NewDisposeScope()) run();
        Sync();
        var times = new List<double>();
        for (var i = 0; i < _s.Runs; i++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            run();
            Sync();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>Device memory bandwidth from copying 1 GiB: bytes read plus bytes written, a second.</summary>
    private double CopyBandwidth()
    {
        const long elements = 512L * 1024 * 1024;
        using var from = empty(elements, dtype: ScalarType.BFloat16, device: _device);
        using var to = empty(elements, dtype: ScalarType.BFloat16, device: _device);
        var ms = Time(() => to.copy_(from));
        return 2.0 * elements * 2 / (ms / 1000) / 1e9;
    }
}

/// <summary>Prints one shape's figures beside transformers' and returns its line of ratios.</summary>
internal static class ModelBenchReport
{
    public static string Print(string shape, ModelFigures o, JsonElement? hf, ModelBenchSettings s)
    {
        double Hf(string key) => hf is { } h && h.TryGetProperty(key, out var v) ? v.GetDouble() : double.NaN;
        var hfVision = Hf("vision_tiles_per_s_batch");
        var hfPrefill = Hf("prefill_tokens_per_s");
        var hfFrames = Hf("frames_per_s");
        var hfFrames1 = Hf("frames_per_s_1");
        var hfFirst = Hf("first_token_frames_per_s");
        Console.WriteLine(Inv($"{shape} | Vireo | transformers | ratio"));
        Row("vision tiles/s (batch)", o.VisionTilesPerSecondBatch, hfVision);
        Row($"vision tiles/s ({s.Tiles})", o.VisionTilesPerSecondFrame, Hf("vision_tiles_per_s_frame"));
        Row("prefill tokens/s, routing off", o.PrefillTokensPerSecondOff, hfPrefill);
        Row("first-token frames/s, routing off", o.FirstTokenFramesPerSecondOff, hfFirst);
        Row("first-token frames/s, half compressed", o.FirstTokenFramesPerSecondHalf, hfFirst);
        Row("time to first token ms, 1 frame, off", o.TtftMsOff, Hf("ttft_ms_1"));
        Row("frames/s batch 1, off", o.FramesPerSecondOff1, hfFrames1);
        Row("frames/s batch 1, half", o.FramesPerSecondHalf1, hfFrames1);
        Row($"frames/s batch {s.Batch}, off", o.FramesPerSecondOff, hfFrames);
        Row($"frames/s batch {s.Batch}, half", o.FramesPerSecondHalf, hfFrames);
        Row($"decode step ms, batch {s.Batch}", o.DecodeStepMs, Hf("decode_step_ms"));
        return Inv($"vision_vs_hf={o.VisionTilesPerSecondBatch / hfVision:F2} prefill_vs_hf={o.PrefillTokensPerSecondOff / hfPrefill:F2} frames_vs_hf={o.FramesPerSecondOff / hfFrames:F2} ttft_vir_speedup={o.FirstTokenFramesPerSecondHalf / o.FirstTokenFramesPerSecondOff:F2} vir_frame_speedup={o.FramesPerSecondHalf / o.FramesPerSecondOff:F2} decode_vs_bound={o.DecodeStepMs / o.BoundMs:F2} frames_per_s={o.FramesPerSecondHalf:F2}");

        static void Row(string name, double ours, double theirs) =>
            Console.WriteLine(Inv($"  {name,-40} {ours,10:F2} {theirs,12:F2} {ours / theirs,8:F2}"));
    }
}
