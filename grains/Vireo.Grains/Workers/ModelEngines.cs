using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Vireo.Model;
using Vireo.Model.Imaging;
using Vireo.Model.Inference;
using Vireo.Messaging;

namespace Vireo.Grains.Workers;

/// <summary>
/// Torch in this silo: its thread count, set once, and one lock around torch work. The vision and language batchers
/// of a silo with both roles take turns, so they never compete for the same cores or device at once.
/// </summary>
public sealed class TorchGate : IDisposable
{
    private readonly Lock _gate = new();
    private readonly IDisposable? _gpuMemoryGauge;

    public TorchGate(IOptions<WorkerOptions> options)
    {
        if (options.Value.CpuThreads > 0)
            TorchSharp.torch.set_num_threads(options.Value.CpuThreads);
        var device = TorchRuntime.ResolveDevice(options.Value.Device);
        if (device.type == TorchSharp.DeviceType.CUDA)
        {
            var index = Math.Max(0, (int)device.index);
            var tag = new KeyValuePair<string, object?>("device", $"cuda:{index}");
            _gpuMemoryGauge = VireoMetrics.ObserveGpuMemory(() => GpuMemory.Read(index) is { } m
                ? [new((long)m.Used, tag, new("state", "used")), new((long)m.Total, tag, new("state", "total"))]
                : []);
        }
    }

    public void Dispose() => _gpuMemoryGauge?.Dispose();

    public T Run<T>(Func<T> work)
    {
        lock (_gate)
            return work();
    }
}

/// <summary>Loads one side of the model once per silo.</summary>
public abstract class ModelSideHost<TSide> : IDisposable where TSide : IDisposable
{
    private readonly TorchGate _gate;

    protected ModelSideHost(IOptions<WorkerOptions> options, TorchGate gate, ILogger logger, string side, Func<string, string, TSide> load)
    {
        _gate = gate;
        var settings = options.Value;
        var clock = Stopwatch.StartNew();
        Side = load(settings.ModelPath, settings.Device);
        Identity = ModelIdentities.Of(settings.ModelPath, settings.Device);
        logger.LogInformation("Loaded the {Side} side of model {Path} on {Device} in {Ms:0} ms", side, settings.ModelPath, settings.Device, clock.Elapsed.TotalMilliseconds);
    }

    protected TSide Side { get; }

    /// <summary>What this side runs, named in every result it computes.</summary>
    public ModelIdentity Identity { get; }

    public T Run<T>(Func<TSide, T> work) => _gate.Run(() => work(Side));

    public void Dispose() => Side.Dispose();
}

/// <summary>The vision side of the model (ViT, router, connectors), loaded on silos with the vision role.</summary>
public sealed class VisionHost : ModelSideHost<VireoVision>
{
    public VisionHost(IOptions<WorkerOptions> options, TorchGate gate, ILogger<VisionHost> logger)
        : base(options, gate, logger, "vision", VireoVision.Load)
    {
        if (!Side.Tower.CanRoute)
            logger.LogWarning("Model {Path} has no visual resolution router (not a Flash checkpoint): routing is off, every tile takes {Tokens} tokens, whatever an upload asks",
                options.Value.ModelPath, Side.Tower.Config.TokensPerTile);
    }
}

/// <summary>The language side of the model (decoder and tokenizer), loaded on silos with the language role.</summary>
public sealed class LanguageHost(IOptions<WorkerOptions> options, ILocalSiloDetails silo, TorchGate gate, ILogger<LanguageHost> logger)
    : ModelSideHost<VireoLanguage>(options, gate, logger, "language", VireoLanguage.Load)
{
    /// <summary>The silo that runs the language model, named in results so that they say where they were computed.</summary>
    public string Silo { get; } = silo.Name;
}

/// <summary>Tiles, ViT, router and the chosen connector for a batch of frames from any videos.</summary>
public sealed class ModelVisionEngine(VisionHost host) : IVisionEngine
{
    public IReadOnlyList<VisionResult> Encode(IReadOnlyList<FrameRequest> batch)
    {
        var frames = batch.Select(r => new FrameInput(new RgbFrame(r.Rgb, r.Width, r.Height), Policy(r.Routing, r.RouterThreshold), r.MinTiles, r.MaxTiles)).ToArray();
        var encoded = host.Run(vision => vision.Encode(frames));
        return encoded.Select(e => new VisionResult(
            e.Tiles.Select(t => new TileDecision(t.Index, t.Compressed, t.CompressProbability, t.VisualTokens)).ToArray(),
            e.VisualTokensBefore,
            e.VisualTokensAfter,
            BFloat16.FromSingles(e.VisualTokens),
            e.VisionMilliseconds,
            host.Identity)).ToArray();
    }

    /// <summary>The pipeline's routing mode as the model's routing policy: the one place the two meet.</summary>
    internal static RoutingPolicy Policy(RoutingMode mode, double? threshold) => mode switch
    {
        RoutingMode.Auto => RoutingPolicy.Router(threshold),
        RoutingMode.Off => RoutingPolicy.Fixed(compressed: false),
        RoutingMode.AllCompressed => RoutingPolicy.Fixed(compressed: true),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown routing mode."),
    };
}

/// <summary>Prefill with a frame's visual tokens and greedy decoding of its caption and text.</summary>
public sealed class ModelLanguageEngine(LanguageHost host) : ILanguageEngine
{
    public IReadOnlyList<LanguageResult> Generate(IReadOnlyList<LanguageRequest> batch)
    {
        var inputs = batch.Select(r => new LanguageInput(r.CompressedTiles, BFloat16.ToSingles(r.VisualTokens), r.Question, r.TextThreshold, r.ShapeThreshold)).ToArray();
        var answers = host.Run(language => language.DescribeBatch(inputs));
        return answers.Select(a =>
        {
            var answer = ModelAnswer.Parse(a.Text);
            return new LanguageResult(answer.Caption, answer.Text ?? "", a.Milliseconds, host.Silo, host.Identity, a.TextConfidence);
        }).ToArray();
    }
}

public static class ModelEngineServiceCollectionExtensions
{
    /// <summary>The vision side of the model and the vision engine; for silos with the vision role.</summary>
    public static IServiceCollection AddVisionEngine(this IServiceCollection services)
    {
        services.TryAddSingleton<TorchGate>();
        services.AddSingleton<VisionHost>();
        services.AddSingleton<IVisionEngine, ModelVisionEngine>();
        return services;
    }

    /// <summary>The language side of the model and the language engine; for silos with the language role.</summary>
    public static IServiceCollection AddLanguageEngine(this IServiceCollection services)
    {
        services.TryAddSingleton<TorchGate>();
        services.AddSingleton<LanguageHost>();
        services.AddSingleton<ILanguageEngine, ModelLanguageEngine>();
        return services;
    }
}
