using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Vireo.Media.Tests;

public sealed class OptionsTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings) =>
        new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .AddVireoMedia()
            .BuildServiceProvider();

    [Fact]
    public void Binds_the_media_section_and_resolves_the_services()
    {
        using var services = Build(new() { ["Media:MaxWidth"] = "1920", ["Media:ProbeTimeout"] = "00:00:05" });

        var options = services.GetRequiredService<IOptions<MediaOptions>>().Value;

        Assert.Equal(1920, options.MaxWidth);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ProbeTimeout);
        Assert.IsType<FrameSampler>(services.GetRequiredService<IFrameSampler>());
        Assert.IsType<MediaProbe>(services.GetRequiredService<IMediaProbe>());
    }

    [Fact]
    public void Out_of_range_values_fail_validation()
    {
        using var services = Build(new() { ["Media:MaxWidth"] = "0", ["Media:FrameQueueCapacity"] = "1000" });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<MediaOptions>>().Value);

        Assert.Contains(error.Failures, f => f.Contains(nameof(MediaOptions.MaxWidth)));
        Assert.Contains(error.Failures, f => f.Contains(nameof(MediaOptions.FrameQueueCapacity)));
    }
}
