using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json;
using Orleans.Serialization;
using Orleans.Storage;

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
    public static IServiceCollection AddVireoGrainStateJson(this IServiceCollection services)
    {
        services.Configure<OrleansJsonSerializerOptions>(o => o.JsonSerializerSettings.DefaultValueHandling = DefaultValueHandling.Include);
        // Registered after Orleans' own serializer, so the grain storages resolve this one.
        return services.AddSingleton<IGrainStorageSerializer>(sp => new FreshStateWhenUnreadable(
            ActivatorUtilities.CreateInstance<JsonGrainStorageSerializer>(sp), sp.GetRequiredService<ILogger<FreshStateWhenUnreadable>>()));
    }
}

/// <summary>
/// Reads a stored state that is not valid JSON for its type (damaged, or written by an incompatible version) as a
/// fresh one, with a warning that quotes its start, instead of failing. Failing would fail the grain's activation,
/// so every call to it, and the ingest consumer, which retries a hand-off until it succeeds, would hold the upload's
/// partition for good. The grain starts the video again; the storage keeps the stored version, so the first write
/// replaces the unreadable state.
/// </summary>
public sealed class FreshStateWhenUnreadable(IGrainStorageSerializer inner, ILogger<FreshStateWhenUnreadable> logger) : IGrainStorageSerializer
{
    private const int QuotedChars = 200;

    public BinaryData Serialize<T>(T? input) => inner.Serialize(input);

    public T? Deserialize<T>(BinaryData input)
    {
        try
        {
            return inner.Deserialize<T>(input);
        }
        catch (JsonException e) when (typeof(T).GetConstructor(Type.EmptyTypes) is not null)
        {
            var text = input.ToString();
            logger.LogWarning("A stored {StateType} cannot be read ({Reason}); the grain starts from a fresh state. The state began: {Start}",
                typeof(T).Name, e.Message, text.Length > QuotedChars ? text[..QuotedChars] + "…" : text);
            return Activator.CreateInstance<T>();
        }
    }
}
