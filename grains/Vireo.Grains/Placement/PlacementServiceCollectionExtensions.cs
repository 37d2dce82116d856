using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Placement;

namespace Vireo.Grains.Placement;

public static class PlacementServiceCollectionExtensions
{
    /// <summary>Role-aware placement of every Vireo grain and the directory that spreads work over a role's silos.</summary>
    public static IServiceCollection AddVireoPlacement(this IServiceCollection services)
    {
        services.AddPlacementDirector<MediaPlacement, RolePlacementDirector>();
        services.AddPlacementDirector<VisionPlacement, RolePlacementDirector>();
        services.AddPlacementDirector<LanguagePlacement, RolePlacementDirector>();
        services.AddSingleton<WorkerDirectory>();
        return services;
    }
}
