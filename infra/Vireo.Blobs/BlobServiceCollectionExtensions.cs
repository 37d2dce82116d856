using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Vireo.Blobs;

public static class BlobServiceCollectionExtensions
{
    /// <summary>The blob store that <see cref="BlobOptions"/> (section "Blobs", validated at start) selects.</summary>
    public static IServiceCollection AddVireoBlobs(this IServiceCollection services)
    {
        services.AddOptions<BlobOptions>().BindConfiguration(BlobOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<IBlobStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<BlobOptions>>().Value;
            return options.Kind switch
            {
                BlobStoreKind.Folder => new FolderBlobStore(options.Root!),
                BlobStoreKind.S3 => S3BlobStore.Create(options.S3),
                _ => NoBlobStore.Instance,
            };
        });
        return services;
    }
}
