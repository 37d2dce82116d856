using Vireo.Media;
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

    [Fact]
    public void AnUploadsReportThresholdsReachItsSettingsAndUnsetKeepsTheModels()
    {
        var s = AnalysisSettingsFactory.From(new AnalysisRequestOptions { TextThreshold = 0, ShapeThreshold = 0.8 }, Defaults);
        Assert.Equal((0.0, 0.8), (s.TextThreshold, s.ShapeThreshold));
        var unset = AnalysisSettingsFactory.From(null, Defaults);
        Assert.Equal((null, null), (unset.TextThreshold, unset.ShapeThreshold));
    }
}

public sealed class OneRuleAtEveryBoundaryTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void TheUploadDecoderAcceptsASceneThresholdExactlyWhenTheSamplerDoes(double threshold)
    {
        var atIngest = EventCodec.CheckOptions(new AnalysisRequestOptions { Sampling = new SamplingRequest { SceneThreshold = threshold } }) is null;
        var atSampler = Record.Exception(() => SamplingPolicy.SceneChanges(threshold).Validate()) is null;
        Assert.Equal(atIngest, atSampler);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(60.0)]
    [InlineData(61.0)]
    [InlineData(double.NaN)]
    public void TheUploadDecoderAcceptsAFrameRateExactlyWhenTheSamplerDoes(double fps)
    {
        var atIngest = EventCodec.CheckOptions(new AnalysisRequestOptions { Sampling = new SamplingRequest { Fps = fps } }) is null;
        var atSampler = Record.Exception(() => SamplingPolicy.FixedRate(fps).Validate()) is null;
        Assert.Equal(atIngest, atSampler);
    }
}
