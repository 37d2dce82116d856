using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Vireo.Media;

namespace Vireo.Grains.Tests;

public sealed class PipelineOptionsTests
{
    [Fact]
    public void AFrameSizeTheDecoderRefusesIsRefusedWhenTheMediaSiloStarts()
    {
        var error = Assert.Throws<OptionsValidationException>(() => MediaSiloOptions(frameLongSide: 6000, maxOutputSide: 4096));
        Assert.Contains("Pipeline:FrameLongSide (6000) must not exceed Media:MaxOutputSide (4096)", error.Message);
        Assert.Throws<OptionsValidationException>(() => MediaSiloOptions(frameLongSide: 896, maxOutputSide: 512));

        Assert.Equal(4096, MediaSiloOptions(frameLongSide: 4096, maxOutputSide: 4096).FrameLongSide);
    }

    /// <summary>Pipeline options as a media silo validates them, beside the decoder's own.</summary>
    private static PipelineOptions MediaSiloOptions(int frameLongSide, int maxOutputSide)
    {
        using var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().Build())
            .AddVireoMedia(o => o.MaxOutputSide = maxOutputSide)
            .AddSingleton<IValidateOptions<PipelineOptions>, FramesWithinDecoderLimit>()
            .AddOptions<PipelineOptions>().Configure(o => (o.MediaRoot, o.FrameLongSide) = ("/media", frameLongSide)).ValidateDataAnnotations().Services
            .BuildServiceProvider();
        return services.GetRequiredService<IOptions<PipelineOptions>>().Value;
    }
}
