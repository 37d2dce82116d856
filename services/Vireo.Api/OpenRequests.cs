using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Vireo.Api.Auth;

namespace Vireo.Api;

/// <summary>What a key may hold open at once in this API process.</summary>
public enum OpenKind
{
    /// <summary>Event streams (GET /v1/videos/{id}/events): each one polls the database for as long as it is open.</summary>
    EventStream,

    /// <summary>Uploads being received: each one writes a file of up to Api:MaxUploadBytes and runs the probe.</summary>
    Upload,
}

/// <summary>
/// Counts the event streams and uploads each key has open in this process. The request rate limit bounds how often a
/// key starts requests, not how many it keeps going: without this, one key could hold hundreds of streams or
/// uploads open at a rate well within its limit.
/// </summary>
public sealed class OpenRequests
{
    private readonly Dictionary<(OpenKind, string), int> _open = [];

    /// <summary>A hold on one more open request of the kind for the key, or null when the key already has <paramref name="limit"/> open.</summary>
    public IDisposable? TryOpen(OpenKind kind, string keyId, int limit)
    {
        lock (_open)
        {
            var count = _open.GetValueOrDefault((kind, keyId));
            if (count >= limit)
                return null;
            _open[(kind, keyId)] = count + 1;
        }
        return new Hold(this, (kind, keyId));
    }

    private void Close((OpenKind, string) slot)
    {
        lock (_open)
        {
            if (_open[slot] == 1)
                _open.Remove(slot);
            else
                _open[slot]--;
        }
    }

    private sealed class Hold(OpenRequests owner, (OpenKind, string) slot) : IDisposable
    {
        private int _closed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
                owner.Close(slot);
        }
    }
}

public static class OpenRequestsExtensions
{
    /// <summary>
    /// Holds one more open request of the kind for the request's key until its response is over and gives null, or,
    /// when the key already has <paramref name="limit"/> open, gives a 429 to answer with (Retry-After set).
    /// </summary>
    public static ProblemHttpResult? TryHold(this OpenRequests open, HttpContext http, OpenKind kind, int limit)
    {
        var keyId = http.User.FindFirstValue(ApiClaims.KeyIdClaim) ?? "";
        if (open.TryOpen(kind, keyId, limit) is { } hold)
        {
            http.Response.RegisterForDispose(hold);
            return null;
        }
        Problems.SetRetryAfter(http.Response);
        var what = kind == OpenKind.EventStream ? "event streams open" : "uploads in progress";
        return Problems.Of(StatusCodes.Status429TooManyRequests, $"this key has {limit} {what}, the most it may have at once; retry after {Problems.RetryAfterSeconds} s, or once one has ended");
    }
}
