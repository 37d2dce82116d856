using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json;
using Orleans.Serialization;

namespace Vireo.Grains.Videos;

/// <summary>
/// How grain state is written as JSON (Orleans' JsonGrainStorageSerializer, which the Redis grain storage uses).
/// Orleans' settings leave out every property whose value is its type's default, and reading fills such a property
/// from the class's initializer: a video checkpointed at frame 0 would come back with
/// <see cref="VideoGrainState.LastFrameIndex"/> -1 and its tally of one frame, publish frame 0 again, count it twice
/// and complete with one frame more than it has. Every value is written instead.
/// </summary>
public static class GrainStateJson
{
    public static IServiceCollection AddVireoGrainStateJson(this IServiceCollection services) =>
        services.Configure<OrleansJsonSerializerOptions>(o => o.JsonSerializerSettings.DefaultValueHandling = DefaultValueHandling.Include);
}
