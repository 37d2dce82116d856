using System.Text.Json.Serialization;

namespace Vireo;

/// <summary>Which connector a frame's tiles go through.</summary>
[GenerateSerializer, JsonConverter(typeof(JsonStringEnumConverter<RoutingMode>))]
public enum RoutingMode
{
    /// <summary>The router decides per tile from the tile's own probability and a threshold.</summary>
    [JsonStringEnumMemberName("auto")] Auto,
    /// <summary>Every tile at full resolution (256 tokens).</summary>
    [JsonStringEnumMemberName("off")] Off,
    /// <summary>Every tile compressed (64 tokens).</summary>
    [JsonStringEnumMemberName("all-compressed")] AllCompressed,
}

/// <summary>Lifecycle of a video's analysis.</summary>
[GenerateSerializer, JsonConverter(typeof(JsonStringEnumConverter<VideoState>))]
public enum VideoState
{
    [JsonStringEnumMemberName("accepted")] Accepted,
    [JsonStringEnumMemberName("processing")] Processing,
    [JsonStringEnumMemberName("completed")] Completed,
    [JsonStringEnumMemberName("failed")] Failed,
}

/// <summary>The router's decision for one tile of a frame: grid tiles row by row, then the thumbnail.</summary>
/// <param name="Tile">The tile's index in its frame.</param>
/// <param name="Compressed">Whether the tile took the 64-token path.</param>
/// <param name="Probability">The router's probability that the tile can be compressed.</param>
/// <param name="Tokens">Visual tokens the tile contributed (256 or 64).</param>
[GenerateSerializer, Immutable, Alias("Vireo.TileDecision")]
public sealed record TileDecision(
    [property: Id(0)] int Tile,
    [property: Id(1)] bool Compressed,
    [property: Id(2)] double Probability,
    [property: Id(3)] int Tokens);

/// <summary>A run of consecutive frames with the same content.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.TimelineSegment")]
public sealed record TimelineSegment(
    [property: Id(0)] double StartSeconds,
    [property: Id(1)] double EndSeconds,
    [property: Id(2)] int FirstFrame,
    [property: Id(3)] int LastFrame,
    [property: Id(4)] string Caption,
    [property: Id(5)] IReadOnlyList<string> Texts);

/// <summary>
/// The model that computed part of a frame's result, as the silo that ran it loaded it.
/// </summary>
/// <param name="Name">The checkpoint: its directory's name (e.g. "vireo-small", "InternVL3_5-2B-Flash").</param>
/// <param name="Kind">What the checkpoint is: its prompt template and its router (e.g. "internvl2_5, flash router", "vireo-small, vireo router", "internvl2_5, no router").</param>
/// <param name="DType">The dtype its weights run in ("float32", "bfloat16").</param>
/// <param name="Device">Where it runs ("cpu", "cuda:0").</param>
[GenerateSerializer, Immutable, Alias("Vireo.ModelIdentity")]
public sealed record ModelIdentity(
    [property: Id(0)] string Name,
    [property: Id(1)] string Kind,
    [property: Id(2), JsonPropertyName("dtype")] string DType,
    [property: Id(3)] string Device)
{
    /// <summary>Longest name or kind kept: a directory name may be long, and events are bounded.</summary>
    public const int MaxLength = 128;
}

