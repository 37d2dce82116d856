using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Vireo.Api.Data;
using Vireo.Media;
using Vireo.Messaging;

namespace Vireo.Api.Uploads;

/// <summary>
/// Takes an upload in: a multipart file streamed to the media store and probed, or a URL where URLs are allowed, whose
/// start is fetched and probed the same way;
/// options checked by the rules the upload event's decoder uses; then the video is recorded and its upload event
/// published. Nothing is left behind by a refused, failed or abandoned upload: no file, no row, no event.
/// </summary>
public sealed partial class UploadService(
    MediaStore store, IMediaProbe probe, UrlProbe urls, VideoRepository videos, IEventPublisher events,
    IOptions<ApiOptions> options, IOptions<ApiMediaOptions> media, ILogger<UploadService> logger)
{
    public const string IdempotencyHeader = "Idempotency-Key";
    public const int MaxIdempotencyKeyLength = 255;
    private const int MaxOptionsBytes = 64 * 1024;

    // What a multipart body may carry besides the file: part headers, the options field, boundaries.
    private const long MultipartOverhead = 256 * 1024;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<IResult> AcceptAsync(HttpRequest request, string tenant, CancellationToken cancellationToken)
    {
        string? idempotencyKey = request.Headers[IdempotencyHeader];
        if (idempotencyKey is not null && (idempotencyKey.Length is 0 or > MaxIdempotencyKeyLength || idempotencyKey.Any(c => c is < '!' or > '~')))
            return Problems.BadRequest($"{IdempotencyHeader} must be 1–{MaxIdempotencyKeyLength} printable ASCII characters");
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType))
            return Problems.UnsupportedMediaType("send the video as multipart/form-data (a part named 'file'), or a URL as application/json");
        var multipart = contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase);
        if (!multipart && !contentType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            return Problems.UnsupportedMediaType($"'{contentType.MediaType}' is not accepted: send multipart/form-data (a part named 'file') or application/json ({{\"url\": …}})");
        var limit = multipart ? options.Value.MaxUploadBytes + MultipartOverhead : MaxOptionsBytes;
        if (request.ContentLength > limit)
            return Problems.TooLarge(multipart
                ? $"the upload is {request.ContentLength} bytes; videos of at most {options.Value.MaxUploadBytes} bytes are accepted"
                : $"a JSON upload is at most {MaxOptionsBytes} bytes");
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            bodySize.MaxRequestBodySize = limit;

        if (idempotencyKey is not null)
        {
            // Not cancelled with the request: a claim committed as the client went away would otherwise throw before
            // the block below that releases it, and the key would answer 409 until it is taken over as abandoned.
            switch (await videos.ClaimAsync(tenant, idempotencyKey, CancellationToken.None))
            {
                case IdempotencyClaim.Done done:
                    return await ReplayAsync(request, contentType, multipart, tenant, done, cancellationToken);
                case IdempotencyClaim.InProgress:
                    return Problems.Conflict($"a request with this {IdempotencyHeader} is still being processed; retry it once that one has finished");
            }
        }

        var video = new VideoKey(tenant, Guid.CreateVersion7().ToString("N"));
        // Set once the upload's event is out: from then on its file and row stay, whatever fails next.
        var accepted = false;
        try
        {
            var received = multipart ? await ReceiveFileAsync(request, contentType, video, keep: true, cancellationToken) : await ReadUrlAsync(request, video, check: true, cancellationToken);
            if (received.Refused is { } refused)
                return refused;
            if (received.Options is { } requested && EventCodec.CheckOptions(requested) is { } problem)
                return Problems.Unprocessable(problem);

            // From here on the upload is complete: a client that goes away now does not undo it.
            await videos.InsertAcceptedAsync(video, received.Source!, CancellationToken.None);
            try
            {
                // Not cancelled: the delivery report is awaited, and it comes within Kafka:MessageTimeoutMs, which the
                // API caps at Api:PublishTimeoutSeconds. Once the report says it failed, the producer never sends the
                // record again, so what is cleaned up below is not named by an event that comes later.
                await events.PublishAsync(VireoTopics.VideoUploaded, video.ToString(), new VideoUploaded
                {
                    VideoId = video.VideoId,
                    TenantId = video.TenantId,
                    Source = received.Source!,
                    Options = received.Options,
                    SubmittedAt = DateTimeOffset.UtcNow,
                }, CancellationToken.None);
            }
            catch (Exception e) when (e is KafkaException or InvalidOperationException)
            {
                LogPublishFailed(video.ToString(), e.Message);
                await videos.RemoveAcceptedAsync(video, CancellationToken.None);
                return Problems.RetryLater(request.HttpContext, "the upload could not be handed to the pipeline");
            }
            accepted = true;
            if (idempotencyKey is not null)
            {
                try
                {
                    await videos.CompleteClaimAsync(tenant, idempotencyKey, video.VideoId, received.Fingerprint!, CancellationToken.None);
                }
                catch (Exception e)
                {
                    // The event is out, so the video stands. Its key stays claimed and unfinished: a retry is answered 409
                    // rather than made into a second video, until the claim is taken over as abandoned an hour on.
                    LogClaimNotRecorded(video.ToString(), e.Message);
                }
            }
            LogAccepted(video.ToString(), received.Source!);
            return Accepted(video.VideoId);
        }
        finally
        {
            if (!accepted)
            {
                store.Discard(video);
                if (idempotencyKey is not null)
                    await videos.ReleaseClaimAsync(tenant, idempotencyKey);
            }
        }
    }

    /// <summary>
    /// The answer to an Idempotency-Key whose upload was accepted: the same upload again is answered with its video; a
    /// different one (another file or URL, other options) is refused, since answering it with the first one's video
    /// would tell the client that its new upload was taken. The body is read to tell, but nothing of it is kept.
    /// </summary>
    private async Task<IResult> ReplayAsync(
        HttpRequest request, MediaTypeHeaderValue contentType, bool multipart, string tenant, IdempotencyClaim.Done done, CancellationToken cancellationToken)
    {
        var video = new VideoKey(tenant, done.VideoId);
        var received = multipart ? await ReceiveFileAsync(request, contentType, video, keep: false, cancellationToken) : await ReadUrlAsync(request, video, check: false, cancellationToken);
        if (received.Refused is { } refused)
            return refused;
        if (done.Fingerprint is { } first && !CryptographicOperations.FixedTimeEquals(first, received.Fingerprint))
            return Problems.Unprocessable($"this {IdempotencyHeader} was used for another upload (a different file, URL or options); send a new upload with a new key");
        request.HttpContext.Response.Headers["Idempotent-Replayed"] = "true";
        return Accepted(done.VideoId);
    }

    private static IResult Accepted(string videoId)
    {
        var location = $"/v1/videos/{videoId}";
        return TypedResults.Accepted(location, new UploadAccepted(videoId, "accepted", location));
    }

    /// <summary>What an upload carried; <see cref="Fingerprint"/> is SHA-256 over its file (or URL) and its options as read.</summary>
    private sealed record Received(IResult? Refused, string? Source = null, AnalysisRequestOptions? Options = null, byte[]? Fingerprint = null);

    private static byte[] FingerprintOf(string what, AnalysisRequestOptions? options) =>
        SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(what + "\n" + JsonSerializer.Serialize(options, Json)));

    /// <summary>Reads a multipart upload; with <paramref name="keep"/> off, the file is only hashed, neither stored nor probed.</summary>
    private async Task<Received> ReceiveFileAsync(HttpRequest request, MediaTypeHeaderValue contentType, VideoKey video, bool keep, CancellationToken cancellationToken)
    {
        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 70)
            return new(Problems.BadRequest("the multipart body has no valid boundary"));
        var maxBytes = options.Value.MaxUploadBytes;
        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = null };
        AnalysisRequestOptions? requested = null;
        var haveFile = false;
        using var fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var haveOptions = false;
        try
        {
            while (await PartRead(() => reader.ReadNextSectionAsync(cancellationToken), cancellationToken) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                    return new(Problems.BadRequest("every part needs a Content-Disposition: form-data header"));
                // The part's file name and content type are not used: the name of the stored file comes from ids, and
                // what the file is comes from probing it.
                switch (HeaderUtilities.RemoveQuotes(disposition.Name).Value)
                {
                    case "file" when haveFile:
                        return new(Problems.BadRequest("an upload carries one file"));
                    case "file":
                        haveFile = true;
                        if (await CopyAsync(section.Body, keep ? video : null, fileHash, maxBytes, cancellationToken) is { } copyProblem)
                            return new(copyProblem);
                        break;
                    case "options" when haveOptions:
                        return new(Problems.BadRequest("an upload carries at most one 'options' part"));
                    case "options":
                        haveOptions = true;
                        var text = await ReadSmallAsync(section.Body, MaxOptionsBytes, cancellationToken);
                        if (text is null)
                            return new(Problems.TooLarge($"the options field is over {MaxOptionsBytes} bytes"));
                        try
                        {
                            requested = JsonSerializer.Deserialize<AnalysisRequestOptions>(text, Json);
                        }
                        catch (JsonException e)
                        {
                            return new(Problems.Unprocessable($"options is not valid JSON for the analysis options: {e.Message}"));
                        }
                        break;
                    default:
                        return new(Problems.BadRequest("unexpected form field: only 'file' and 'options' are read"));
                }
            }
        }
        catch (InvalidDataException e)
        {
            return new(Problems.BadRequest($"the multipart body is malformed: {e.Message}"));
        }
        if (!haveFile)
            return new(Problems.BadRequest("the upload has no part named 'file'"));
        var fingerprint = FingerprintOf("file " + Convert.ToHexString(fileHash.GetHashAndReset()), requested);
        if (!keep)
            return new(null, null, requested, fingerprint);

        try
        {
            await probe.ProbeAsync(store.PartialPath(video), cancellationToken);
        }
        catch (MediaException e)
        {
            // Server paths are nobody's business outside: ffprobe's messages name the file.
            var reason = e.Message.Replace($" ({e.Path})", "", StringComparison.Ordinal).Replace(e.Path, "the upload", StringComparison.Ordinal);
            return new(e.Kind switch
            {
                MediaErrorKind.FileTooLarge => Problems.TooLarge(reason),
                MediaErrorKind.Timeout => Problems.Unavailable(reason),
                _ => Problems.Unprocessable($"the file is not a video the pipeline can read: {reason}"),
            });
        }
        store.Promote(video);
        return new(null, MediaStore.SourceOf(video), requested, fingerprint);
    }

    /// <summary>Copies the file part into the video's partial file (none: nowhere), hashing it on the way.</summary>
    private async Task<IResult?> CopyAsync(Stream body, VideoKey? video, IncrementalHash hash, long maxBytes, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            await using var file = video is { } stored ? store.CreatePartial(stored) : Stream.Null;
            long total = 0;
            int read;
            while ((read = await PartRead(() => body.ReadAsync(buffer, cancellationToken).AsTask(), cancellationToken)) > 0)
            {
                total += read;
                if (total > maxBytes)
                    return Problems.TooLarge($"videos of at most {maxBytes} bytes are accepted");
                hash.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
            return total == 0 ? Problems.Unprocessable("the file is empty") : null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// A read of the multipart body. A body that ends before its closing boundary, with the client still waiting for
    /// the answer, makes the multipart reader throw <see cref="IOException"/>; that is a malformed body, told apart
    /// from a client that went away (the request is aborted) and from a failure to store the file (not a read).
    /// The server's own refusals of the body (<see cref="BadHttpRequestException"/>, an <see cref="IOException"/> too:
    /// too large, too slow, not valid HTTP) go on as they are, to be answered with their status.
    /// </summary>
    private static async Task<T> PartRead<T>(Func<Task<T>> read, CancellationToken cancellationToken)
    {
        try
        {
            return await read();
        }
        catch (IOException e) when (e is not BadHttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidDataException("the body ends before its closing boundary", e);
        }
    }

    private static async Task<string?> ReadSmallAsync(Stream body, int maxBytes, CancellationToken cancellationToken)
    {
        using var copy = new MemoryStream();
        var buffer = new byte[8192];
        int read;
        while ((read = await PartRead(() => body.ReadAsync(buffer, cancellationToken).AsTask(), cancellationToken)) > 0)
        {
            if (copy.Length + read > maxBytes)
                return null;
            copy.Write(buffer, 0, read);
        }
        return System.Text.Encoding.UTF8.GetString(copy.GetBuffer(), 0, (int)copy.Length);
    }

    /// <summary>Reads a URL upload; with <paramref name="check"/> off, the URL is not fetched and probed.</summary>
    private async Task<Received> ReadUrlAsync(HttpRequest request, VideoKey video, bool check, CancellationToken cancellationToken)
    {
        string? text;
        try
        {
            text = await ReadSmallAsync(request.Body, MaxOptionsBytes, cancellationToken);
        }
        catch (InvalidDataException)
        {
            return new(Problems.BadRequest("the body ends before all of it was sent"));
        }
        if (text is null)
            return new(Problems.TooLarge($"a JSON upload is at most {MaxOptionsBytes} bytes"));
        UrlUpload? upload;
        try
        {
            upload = JsonSerializer.Deserialize<UrlUpload>(text, Json);
        }
        catch (JsonException e)
        {
            return new(Problems.BadRequest($"the body is not valid JSON for an upload: {e.Message}"));
        }
        if (string.IsNullOrWhiteSpace(upload?.Url))
            return new(Problems.Unprocessable("url is required; to send a file, use multipart/form-data with a part named 'file'"));
        if (!media.Value.AllowUrls)
            return new(Problems.Unprocessable("URL sources are turned off on this deployment (Pipeline:AllowUrls); upload the file as multipart/form-data"));
        // The event carries the URL as escaped, which can be several times longer than as sent.
        if (upload.Url.Length > EventCodec.MaxSourceChars || !Uri.TryCreate(upload.Url, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.AbsoluteUri.Length > EventCodec.MaxSourceChars)
            return new(Problems.Unprocessable($"url must be an absolute http or https URL of at most {EventCodec.MaxSourceChars} characters, escaped"));
        if (!string.IsNullOrEmpty(uri.UserInfo))
            return new(Problems.Unprocessable("URLs with credentials are refused"));
        // Options are cheap to check and fetching is not: bad options are refused before the URL is fetched.
        if (upload.Options is { } requested && EventCodec.CheckOptions(requested) is { } badOptions)
            return new(Problems.Unprocessable(badOptions));
        if (check && await urls.CheckAsync(uri, video, cancellationToken) is { } notAVideo)
            return new(notAVideo);
        return new(null, uri.AbsoluteUri, upload.Options, FingerprintOf("url " + uri.AbsoluteUri, upload.Options));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Accepted upload {Video} ({Source})")]
    private partial void LogAccepted(string video, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upload {Video} could not be published: {Reason}")]
    private partial void LogPublishFailed(string video, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Upload {Video} was published, but its Idempotency-Key could not be recorded: {Reason}")]
    private partial void LogClaimNotRecorded(string video, string reason);
}
