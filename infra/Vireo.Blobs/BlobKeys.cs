using System.Text.RegularExpressions;

namespace Vireo.Blobs;

/// <summary>
/// What a key may be, the same for every store: 1–1024 characters in '/'-separated segments of 1–255 letters,
/// digits, '.', '_' or '-', none of them "." or "..". Such a key is a relative path that stays inside the folder it
/// is joined to, and a plain S3 key; nothing else (absolute paths, backslashes, NUL, empty segments) is accepted.
/// </summary>
public static partial class BlobKeys
{
    public const int MaxKeyLength = 1024;

    /// <summary>Why <paramref name="key"/> is not a valid key, or null when it is.</summary>
    public static string? Problem(string? key)
    {
        if (string.IsNullOrEmpty(key))
            return "a blob key is empty";
        if (key.Length > MaxKeyLength)
            return $"a blob key is at most {MaxKeyLength} characters";
        foreach (var segment in key.Split('/'))
        {
            if (!Segment().IsMatch(segment))
                return "a blob key is '/'-separated segments of 1–255 letters, digits, '.', '_' or '-'";
            if (segment is "." or "..")
                return "a blob key has no '.' or '..' segment";
        }
        return null;
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="key"/> is valid.</summary>
    public static void Check(string key)
    {
        if (Problem(key) is { } problem)
            throw new ArgumentException(problem, nameof(key));
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="prefix"/> is a valid key followed by '/'.</summary>
    public static void CheckPrefix(string prefix)
    {
        if (string.IsNullOrEmpty(prefix) || prefix[^1] != '/')
            throw new ArgumentException("a blob prefix ends with '/'", nameof(prefix));
        if (Problem(prefix[..^1]) is { } problem)
            throw new ArgumentException(problem, nameof(prefix));
    }

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,255}\z")]
    private static partial Regex Segment();
}

/// <summary>
/// Where a sampled frame's thumbnail is kept. The media silo writes under these keys and the results API reads and
/// deletes under them. A retried video samples the same frames under the same indices, so its thumbnails overwrite
/// the earlier attempt's with the same pictures rather than adding to them.
/// </summary>
public static class FrameThumbnails
{
    public const string ContentType = "image/jpeg";

    /// <summary>The key of frame <paramref name="frameIndex"/>'s thumbnail.</summary>
    public static string Key(string tenantId, string videoId, int frameIndex) =>
        FormattableString.Invariant($"{VideoPrefix(tenantId, videoId)}{frameIndex}.jpg");

    /// <summary>
    /// The prefix of every thumbnail of a video. Each id is put after a letter, so that no id, even one that
    /// <c>VideoKey.IsValidId</c> refuses such as "." or "..", names a folder other than its own.
    /// </summary>
    public static string VideoPrefix(string tenantId, string videoId) => $"thumbnails/t-{tenantId}/v-{videoId}/";
}
