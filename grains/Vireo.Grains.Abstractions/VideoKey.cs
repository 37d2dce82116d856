using System.Text.RegularExpressions;

namespace Vireo;

/// <summary>
/// A video's identity. Videos belong to a tenant and two tenants may use the same video id, so every place that
/// names a video names both: the video grain, the key of every Kafka record about it, and the rows that store it.
/// The text form is "tenant/video"; ids never contain '/', so it reads back unambiguously.
/// </summary>
[GenerateSerializer, Immutable, Alias("Vireo.VideoKey")]
public readonly partial record struct VideoKey([property: Id(0)] string TenantId, [property: Id(1)] string VideoId)
{
    public const int MaxIdLength = 128;

    /// <summary>What a tenant or video id may contain, for error messages.</summary>
    public const string IdRule = "1–128 characters of letters, digits, '.', '_' or '-', other than '.' and '..'";

    public override string ToString() => $"{TenantId}/{VideoId}";

    /// <summary>
    /// Whether <paramref name="id"/> is a valid tenant or video id. Ids name folders and files (uploads/TENANT/VIDEO.video),
    /// so "." and "..", which name the folder itself or its parent, are not ids.
    /// </summary>
    public static bool IsValidId(string? id) => id is not null and not ("." or "..") && IdPattern().IsMatch(id);

    /// <summary>Reads the text form back; throws <see cref="FormatException"/> for anything that is not one.</summary>
    public static VideoKey Parse(string key)
    {
        var slash = key.IndexOf('/');
        if (slash < 0 || !IsValidId(key[..slash]) || !IsValidId(key[(slash + 1)..]))
            throw new FormatException($"'{key}' is not a video key (tenant/video, each {IdRule})");
        return new VideoKey(key[..slash], key[(slash + 1)..]);
    }

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,128}\z")]
    private static partial Regex IdPattern();
}
