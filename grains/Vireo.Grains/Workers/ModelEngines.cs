using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Vireo.Model;
using Vireo.Model.Data;
using Vireo.Model.Imaging;
using Vireo.Model.Inference;
using Vireo.Messaging;
using ModelRouting = Vireo.Model.Inference.RoutingMode;

namespace Vireo.Grains.Workers;

/// <summary>
/// The model loaded once per silo. Vision and language stages of the same process take turns on it, so the two
/// batching threads never run torch at the same time.
/// </summary>
public sealed class ModelHost : IDisposable
{
    private readonly Lock _gate = new();

    public ModelHost(IOptions<WorkerOptions> options, ILocalSiloDetails silo, ILogger<ModelHost> logger)
    {
        var settings = options.Value;
        if (settings.CpuThreads > 0)
            TorchSharp.torch.set_num_threads(settings.CpuThreads);
        var clock = Stopwatch.StartNew();
        Engine = VireoEngine.Load(settings.ModelPath, settings.Device);
        Silo = silo.Name;
        logger.LogInformation("Loaded model {Path} on {Device} in {Ms:0} ms", settings.ModelPath, settings.Device, clock.Elapsed.TotalMilliseconds);
    }

    public VireoEngine Engine { get; }

    /// <summary>The silo that runs this model, named in results so that they say where they were computed.</summary>
    public string Silo { get; }

    public T Run<T>(Func<VireoEngine, T> work)
    {
        lock (_gate)
            return work(Engine);
    }

    public void Dispose() => Engine.Dispose();
}

/// <summary>Tiles, ViT, router and the chosen connector for a batch of frames from any videos.</summary>
public sealed class ModelVisionEngine(ModelHost host) : IVisionEngine
{
    public IReadOnlyList<VisionResult> Encode(IReadOnlyList<FrameRequest> batch)
    {
        var frames = batch.Select(r => new FrameInput(new RgbFrame(r.Rgb, r.Width, r.Height), Routing(r), r.MinTiles, r.MaxTiles)).ToArray();
        var encoded = host.Run(engine => engine.Encode(frames));
        return encoded.Select(e => new VisionResult(
            e.Tiles.Select(t => new TileDecision(t.Index, t.Compressed, t.CompressProbability, t.VisualTokens)).ToArray(),
            e.VisualTokensBefore,
            e.VisualTokensAfter,
            e.VisualTokens.Select(v => (Half)v).ToArray(),
            e.VisionMilliseconds)).ToArray();
    }

    private static RoutingOptions Routing(FrameRequest request) => request.Routing switch
    {
        Vireo.RoutingMode.Off => RoutingOptions.Off,
        Vireo.RoutingMode.AllCompressed => RoutingOptions.AllCompressed,
        _ => new RoutingOptions(ModelRouting.Auto, request.RouterThreshold),
    };
}

/// <summary>Prefill with a frame's visual tokens and greedy decoding of its caption and text.</summary>
public sealed class ModelLanguageEngine(ModelHost host) : ILanguageEngine
{
    public IReadOnlyList<LanguageResult> Generate(IReadOnlyList<LanguageRequest> batch) =>
        batch.Select(request =>
        {
            var visual = request.VisualTokens.Select(h => (float)h).ToArray();
            var (answer, ms) = host.Run(engine => engine.Describe(request.CompressedTiles, visual));
            var (caption, text) = SyntheticFrames.ParseAnswer(answer);
            return new LanguageResult(caption, text ?? "", ms, host.Silo);
        }).ToArray();
}

public static class ModelEngineServiceCollectionExtensions
{
    /// <summary>The model and both engines; used on silos with the vision or language role.</summary>
    public static IServiceCollection AddVireoModelEngines(this IServiceCollection services)
    {
        services.AddSingleton<ModelHost>();
        services.AddSingleton<IVisionEngine, ModelVisionEngine>();
        services.AddSingleton<ILanguageEngine, ModelLanguageEngine>();
        return services;
    }
}
