using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Vireo.Api;

/// <summary>
/// Opaque page cursors: the sort key of the last item of a page, base64url-encoded. A cursor is only a position,
/// never a permission: every page is read within the caller's tenant.
/// </summary>
public static class Cursors
{
    private const int MaxLength = 256;

    public static string ForVideo(DateTimeOffset createdAt, string id) =>
        Encode($"v:{createdAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}:{id}");

    public static string ForFrame(int index) => Encode($"f:{index.ToString(CultureInfo.InvariantCulture)}");

    public static bool TryReadVideo(string? cursor, out (DateTimeOffset CreatedAt, string Id)? position)
    {
        position = null;
        if (string.IsNullOrEmpty(cursor))
            return true;
        if (Decode(cursor) is not { } text || !text.StartsWith("v:", StringComparison.Ordinal))
            return false;
        var parts = text.Split(':', 3);
        if (parts.Length != 3 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            || ticks > DateTimeOffset.MaxValue.UtcTicks || !VideoKey.IsValidId(parts[2]))
            return false;
        position = (new DateTimeOffset(ticks, TimeSpan.Zero), parts[2]);
        return true;
    }

    public static bool TryReadFrame(string? cursor, out int afterIndex)
    {
        afterIndex = -1;
        if (string.IsNullOrEmpty(cursor))
            return true;
        return Decode(cursor) is { } text && text.StartsWith("f:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out afterIndex);
    }

    private static string Encode(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    private static string? Decode(string cursor)
    {
        if (cursor.Length > MaxLength || !Base64Url.IsValid(cursor))
            return null;
        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
