using Microsoft.Extensions.Options;
using Vireo.Media;

namespace Vireo.Api.Uploads;

/// <summary>
/// Probes a URL before its upload is accepted: the start of what it serves (at most <see cref="ProbeBytes"/>) is
/// fetched over the connections the media silos use (no private hosts, no redirects, no proxy) and read by the same
/// ffprobe, with the same protocol and format whitelists. What ffprobe cannot read as a video is refused at the door;
/// the media silo later downloads the whole file and checks it again.
/// </summary>
public sealed class UrlProbe(IHttpClientFactory clients, IMediaProbe probe, MediaStore store, IOptions<ApiMediaOptions> media)
{
    public const string HttpClientName = "vireo-url-probe";

    /// <summary>How much of a URL is fetched to probe it: enough for any container's headers.</summary>
    public const int ProbeBytes = 32 * 1024 * 1024;

    /// <summary>How long the start is fetched for; what arrived by then is probed as the start of a longer file.</summary>
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Null when the URL serves a video, else the problem to answer.</summary>
    public async Task<IResult?> CheckAsync(Uri url, VideoKey video, CancellationToken cancellationToken)
    {
        try
        {
            var fetched = await FetchStartAsync(url, video, cancellationToken);
            if (fetched.Refused is { } refused)
                return refused;
            try
            {
                await probe.ProbeAsync(store.PartialPath(video), cancellationToken);
                return null;
            }
            catch (MediaException e) when (e.Kind == MediaErrorKind.Truncated && !fetched.Complete)
            {
                // Only the start was fetched: an MP4 whose index sits at its end reads as cut short here. Its start was
                // an ISO media file, so it goes on; the media silo reads it whole.
                return null;
            }
            catch (MediaException e)
            {
                var reason = e.Message.Replace($" ({e.Path})", "", StringComparison.Ordinal).Replace(e.Path, "the URL's content", StringComparison.Ordinal);
                return e.Kind == MediaErrorKind.Timeout
                    ? Problems.Unavailable(reason)
                    : Problems.Unprocessable($"the URL does not serve a video the pipeline can read: {reason}");
            }
        }
        finally
        {
            store.DiscardPartial(video);
        }
    }

    private sealed record Fetched(bool Complete, IResult? Refused = null);

    private async Task<Fetched> FetchStartAsync(Uri url, VideoKey video, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(FetchTimeout);
        long total = 0;
        try
        {
            using var http = clients.CreateClient(HttpClientName);
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
                return new(false, Problems.Unprocessable($"fetching the URL answered HTTP {(int)response.StatusCode}; it must answer 200 with the video"));
            if (response.Content.Headers.ContentLength is { } length && length > media.Value.MaxDownloadBytes)
                return new(false, Problems.TooLarge($"the URL serves {length} bytes; videos of at most {media.Value.MaxDownloadBytes} bytes are downloaded"));
            if (response.Content.Headers.ContentLength == 0)
                return new(false, Problems.Unprocessable("the URL serves an empty body"));
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            await using var file = store.CreatePartial(video);
            var buffer = new byte[81920];
            int read;
            while (total < ProbeBytes && (read = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, ProbeBytes - total)), timeout.Token)) > 0)
            {
                await file.WriteAsync(buffer.AsMemory(0, read), timeout.Token);
                total += read;
            }
            if (total == 0)
                return new(false, Problems.Unprocessable("the URL serves an empty body"));
            // A body that ended before the limit was read whole; one that reached it may go on.
            return new(total < ProbeBytes || await body.ReadAsync(buffer.AsMemory(0, 1), timeout.Token) == 0);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && total > 0)
        {
            // A source slower than the window in the time: what it sent is probed as the start of a longer file.
            return new(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(false, Problems.Unprocessable($"the URL did not serve the start of its content within {FetchTimeout.TotalSeconds:0} s"));
        }
        catch (HttpRequestException e) when (e.InnerException is RefusedHostException refused)
        {
            return new(false, Problems.Unprocessable(refused.Message));
        }
        catch (HttpRequestException e)
        {
            return new(false, Problems.Unprocessable($"the URL could not be fetched: {e.Message}"));
        }
        catch (HttpIOException e)
        {
            // The server broke off its content: sent fewer bytes than it announced, or closed mid-chunk.
            return new(false, Problems.Unprocessable($"the URL's content broke off: {e.Message}"));
        }
    }
}
