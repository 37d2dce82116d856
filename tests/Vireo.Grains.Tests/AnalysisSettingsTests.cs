using Vireo.Grains.Ingest;
using Vireo.Messaging;

namespace Vireo.Grains.Tests;

public sealed class AnalysisSettingsTests
{
    private static readonly PipelineOptions Defaults = new() { MediaRoot = "/m", DefaultFps = 2, DefaultMaxFrames = 100, MaxFramesLimit = 500, DefaultMaxTiles = 4 };

    [Fact]
    public void UnsetOptionsTakeTheServiceDefaults()
    {
        var s = AnalysisSettingsFactory.From(null, Defaults);
        Assert.Equal((2.0, 100, RoutingMode.Auto, 1, 4), (s.Fps, s.MaxFrames, s.Routing, s.MinTiles, s.MaxTiles));
    }

    [Fact]
    public void SceneOnlySamplingTurnsTheFixedRateOffAndLimitsApply()
    {
        var s = AnalysisSettingsFactory.From(new AnalysisRequestOptions
        {
            Sampling = new SamplingRequest { SceneThreshold = 0.4, MaxFrames = 10_000 },
            Routing = RoutingMode.Off,
            MinTiles = 6,
        }, Defaults);
        Assert.Equal((0.0, 0.4, 500, RoutingMode.Off, 6, 6), (s.Fps, s.SceneThreshold!.Value, s.MaxFrames, s.Routing, s.MinTiles, s.MaxTiles));
    }
}
