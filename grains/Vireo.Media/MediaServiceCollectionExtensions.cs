using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Vireo.Media;

/// <summary>Registers the media stage.</summary>
public static class MediaServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="IMediaProbe"/> and <see cref="IFrameSampler"/> with <see cref="MediaOptions"/> bound from
    /// the "Media" section and validated (DataAnnotations) at start.
    /// </summary>
    public static IServiceCollection AddVireoMedia(this IServiceCollection services, Action<MediaOptions>? configure = null)
    {
        var builder = services.AddOptions<MediaOptions>()
            .BindConfiguration(MediaOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => string.IsNullOrWhiteSpace(o.BinaryFolder) || Directory.Exists(o.BinaryFolder),
                "Media:BinaryFolder names a folder that does not exist.")
            .ValidateOnStart();
        if (configure is not null) builder.Configure(configure);
        services.AddLogging();
        services.TryAddSingleton<IMediaProbe, MediaProbe>();
        services.TryAddSingleton<IFrameSampler, FrameSampler>();
        return services;
    }
}
