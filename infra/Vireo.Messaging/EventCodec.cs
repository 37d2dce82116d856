using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;

namespace Vireo.Messaging;

/// <summary>The outcome of reading an event: the event, or why it was refused.</summary>
public readonly record struct Decoded<T>(T? Event, string? Error) where T : class
{
    public bool Ok => Event is not null;
}

/// <summary>Writes and reads the pipeline's events as versioned JSON with source-generated serializers.</summary>
public static partial class EventCodec
{
    public static byte[] Serialize<T>(T value) where T : class =>
        JsonSerializer.SerializeToUtf8Bytes(value, (JsonTypeInfo<T>)VireoJsonContext.Default.GetTypeInfo(typeof(T))!);

    /// <summary>Reads an event written by Vireo itself; malformed input yields an error, never an exception.</summary>
    public static Decoded<T> Deserialize<T>(ReadOnlySpan<byte> utf8, int currentVersion, Func<T, int> version) where T : class
    {
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(utf8, (JsonTypeInfo<T>)VireoJsonContext.Default.GetTypeInfo(typeof(T))!);
        }
        catch (JsonException e)
        {
            return new(null, $"malformed JSON: {e.Message}");
        }
        if (value is null)
            return new(null, "the payload is JSON null");
        var v = version(value);
        if (v != currentVersion)
            return new(null, $"unsupported version {v} (this build reads version {currentVersion})");
        return Malformed(value) is { } problem ? new(null, "malformed event: " + problem) : new(value, null);
    }

    /// <summary>
    /// What the serializer lets through and no producer of Vireo writes: null list elements (element nullability is
    /// not enforced) and a state by a number that names none. An upload's options are checked by <see cref="CheckOptions"/>.
    /// </summary>
    private static string? Malformed(object value) => value switch
    {
        FrameAnalyzed f when f.Tiles.Any(t => t is null) => "tiles holds a null",
        VideoStatusChanged s when !Enum.IsDefined(s.State) => $"state {(int)s.State} is not a video state",
        VideoStatusChanged { Result.Texts: var texts } when texts.Any(t => t is null) => "result.texts holds a null",
        VideoStatusChanged { Segment.Texts: var texts } when texts.Any(t => t is null) => "segment.texts holds a null",
        _ => null,
    };

    /// <summary>Reads and validates an upload event from outside Vireo.</summary>
    public static Decoded<VideoUploaded> DecodeUpload(ReadOnlySpan<byte> utf8, int maxBytes)
    {
        if (utf8.IsEmpty)
            return new(null, "empty payload");
        if (utf8.Length > maxBytes)
            return new(null, $"payload of {utf8.Length} bytes exceeds the limit of {maxBytes}");
        if (!HasSupportedVersion(utf8, VideoUploaded.CurrentVersion, out var versionError))
            return new(null, versionError);
        var decoded = Deserialize<VideoUploaded>(utf8, VideoUploaded.CurrentVersion, e => e.Version);
        if (!decoded.Ok)
            return decoded;
        var problem = Validate(decoded.Event!);
        return problem is null ? decoded : new(null, problem);
    }

    /// <summary>Shortens a payload for a dead-letter record, replacing invalid UTF-8.</summary>
    public static string Preview(ReadOnlySpan<byte> payload, int maxChars = 2048)
    {
        var text = Encoding.UTF8.GetString(payload.Length > maxChars * 4 ? payload[..(maxChars * 4)] : payload);
        return text.Length > maxChars ? text[..maxChars] + "…" : text;
    }

    // The version is checked before binding, so that a future version with a different shape is reported as
    // an unknown version rather than as a malformed payload.
    private static bool HasSupportedVersion(ReadOnlySpan<byte> utf8, int current, out string? error)
    {
        error = null;
        try
        {
            var reader = new Utf8JsonReader(utf8);
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = "malformed event: the payload is not a JSON object";
                return false;
            }
            if (!document.RootElement.TryGetProperty("version", out var version))
                return true;
            if (version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out var v))
            {
                error = "malformed event: version is not an integer";
                return false;
            }
            if (v != current)
            {
                error = $"unsupported version {v} (this build reads version {current})";
                return false;
            }
            return true;
        }
        catch (JsonException e)
        {
            error = $"malformed JSON: {e.Message}";
            return false;
        }
    }

    /// <summary>The longest source (a path, or a URL as escaped) an upload event may name.</summary>
    public const int MaxSourceChars = 4096;

    private static string? Validate(VideoUploaded e)
    {
        if (!VideoKey.IsValidId(e.VideoId))
            return "videoId must be " + VideoKey.IdRule;
        if (!VideoKey.IsValidId(e.TenantId))
            return "tenantId must be " + VideoKey.IdRule;
        if (string.IsNullOrWhiteSpace(e.Source) || e.Source.Length > MaxSourceChars || e.Source.Contains('\0'))
            return $"source must be a non-empty path or URL of at most {MaxSourceChars} characters";
        return e.Options is { } o ? CheckOptions(o) : null;
    }

    /// <summary>Checks a client's analysis options against <see cref="AnalysisLimits"/>; null when they are valid.</summary>
    public static string? CheckOptions(AnalysisRequestOptions o)
    {
        if (o.Sampling is { } s)
        {
            var sampling = (s.Fps is { } fps ? AnalysisLimits.CheckFps(fps) : null)
                ?? (s.SceneThreshold is { } scene ? AnalysisLimits.CheckSceneThreshold(scene) : null)
                ?? (s.DedupDistance is { } dedup ? AnalysisLimits.CheckDedupDistance(dedup) : null)
                ?? (s.MaxFrames is { } max ? AnalysisLimits.CheckMaxFrames(max) : null);
            if (sampling is not null)
                return "options.sampling." + sampling;
        }
        var other = (o.Routing is { } routing && !Enum.IsDefined(routing) ? $"routing {(int)routing} is not a routing mode (auto, off or all-compressed)" : null)
            ?? AnalysisLimits.CheckTiles(o.MinTiles, o.MaxTiles)
            ?? (o.RouterThreshold is { } threshold ? AnalysisLimits.CheckRouterThreshold(threshold) : null)
            ?? (o.TextThreshold is { } text ? AnalysisLimits.CheckReportThreshold("textThreshold", text) : null)
            ?? (o.ShapeThreshold is { } shapes ? AnalysisLimits.CheckReportThreshold("shapeThreshold", shapes) : null)
            ?? (o.Prompt is { } prompt ? AnalysisLimits.CheckPrompt(prompt) : null);
        return other is null ? null : "options." + other;
    }
}
