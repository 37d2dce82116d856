using Vireo.Messaging;

namespace Vireo.Grains.Ingest;

/// <summary>Turns a client's options into settings, applying defaults and the service's limits.</summary>
public static class AnalysisSettingsFactory
{
    public static AnalysisSettings From(AnalysisRequestOptions? request, PipelineOptions defaults)
    {
        var sampling = request?.Sampling;
        var minTiles = request?.MinTiles ?? defaults.DefaultMinTiles;
        var maxTiles = Math.Max(minTiles, request?.MaxTiles ?? defaults.DefaultMaxTiles);
        return new AnalysisSettings(
            Fps: sampling?.Fps ?? (sampling?.SceneThreshold is not null || sampling?.Keyframes == true ? 0 : defaults.DefaultFps),
            SceneThreshold: sampling?.SceneThreshold,
            Keyframes: sampling?.Keyframes ?? false,
            DedupDistance: sampling?.DedupDistance,
            MaxFrames: Math.Min(sampling?.MaxFrames ?? defaults.DefaultMaxFrames, defaults.MaxFramesLimit),
            MinTiles: minTiles,
            MaxTiles: maxTiles,
            Routing: request?.Routing ?? RoutingMode.Auto,
            RouterThreshold: request?.RouterThreshold,
            Prompt: request?.Prompt,
            TextThreshold: request?.TextThreshold,
            ShapeThreshold: request?.ShapeThreshold);
    }
}
