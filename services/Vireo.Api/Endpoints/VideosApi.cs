using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Vireo.Api.Auth;
using Vireo.Api.Data;
using Vireo.Api.Uploads;
using Vireo.Blobs;

namespace Vireo.Api.Endpoints;

/// <summary>/v1/videos: uploads, status and results, frames, live events and deletion, all within the caller's tenant.</summary>
public static class VideosApi
{
    private static readonly string[] States = ["accepted", "processing", "finishing", "completed", "failed"];

    public static RouteGroupBuilder MapVideosApi(this RouteGroupBuilder v1)
    {
        var videos = v1.MapGroup("/videos").WithTags("Videos");

        videos.MapPost("/", UploadAsync).WithName("UploadVideo")
            .WithSummary("Upload a video (multipart/form-data: 'file' and optional 'options' JSON), or name a URL (application/json)")
            .WithDescription("The file is streamed to the media store and probed before it is accepted. An Idempotency-Key header makes a retry a no-op.")
            .Accepts<UrlUpload>("application/json", "multipart/form-data")
            .Produces<UploadAccepted>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity).ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable).DisableAntiforgery();
        videos.MapGet("/", ListAsync).WithName("ListVideos").WithSummary("List the tenant's videos, newest first, a page at a time");
        videos.MapGet("/{id}", GetAsync).WithName("GetVideo").WithSummary("A video's status, progress and result: timeline, texts, token totals");
        videos.MapGet("/{id}/frames", FramesAsync).WithName("ListFrames").WithSummary("A video's analysed frames in index order, with the router's decision for each tile");
        videos.MapGet("/{id}/frames/{index}/image", ImageAsync).WithName("FrameImage")
            .WithSummary("A small JPEG of a sampled frame (longer side at most 320 px), as the media silo stored it")
            .WithDescription("Cacheable by the caller only (Cache-Control: private), with an ETag; If-None-Match answers 304 while the picture is the same.")
            .Produces(StatusCodes.Status200OK, contentType: FrameThumbnails.ContentType).Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        videos.MapGet("/{id}/events", EventsAsync).WithName("VideoEvents")
            .WithSummary("Server-sent events: progress, each frame as it is stored, then completed or failed; resumes from Last-Event-ID")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream").ProducesProblem(StatusCodes.Status429TooManyRequests);
        videos.MapDelete("/{id}", DeleteAsync).WithName("DeleteVideo").WithSummary("Delete a finished video: its results, its thumbnails and its stored media");
        return v1;
    }

    private static async Task<IResult> UploadAsync(HttpContext http, UploadService uploads, OpenRequests open, IOptions<ApiOptions> options)
    {
        if (open.TryHold(http, OpenKind.Upload, options.Value.MaxUploadsPerKey) is { } tooMany)
            return tooMany;
        try
        {
            return await uploads.AcceptAsync(http.Request, http.User.Tenant(), http.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problems.TooLarge(e.Message);
        }
        catch (Exception e) when (http.RequestAborted.IsCancellationRequested && e is IOException or OperationCanceledException or BadHttpRequestException)
        {
            // The client went away mid-upload; the service has already discarded what it had received.
            return Results.Empty;
        }
        catch (BadHttpRequestException e)
        {
            // The server refused the body: 408 for one that came too slowly, 400 for one that is not valid HTTP.
            return Problems.Of(e.StatusCode, e.Message);
        }
    }

    private static async Task<Results<Ok<VideoPage>, ProblemHttpResult>> ListAsync(
        ClaimsPrincipal user, VideoRepository repository, IOptions<ApiOptions> options, CancellationToken cancellationToken,
        string? status = null, DateTimeOffset? since = null, int? limit = null, string? cursor = null)
    {
        if (status is not null && !States.Contains(status))
            return Problems.BadRequest($"status must be one of {string.Join(", ", States)}");
        if (CheckLimit(limit, options.Value) is { } badLimit)
            return badLimit;
        if (!Cursors.TryReadVideo(cursor, out var after))
            return Problems.BadRequest("cursor is not one this API handed out");
        return TypedResults.Ok(await repository.ListAsync(user.Tenant(), status, since, after, limit ?? options.Value.DefaultPageSize, cancellationToken));
    }

    private static async Task<Results<Ok<VideoDetail>, ProblemHttpResult>> GetAsync(string id, ClaimsPrincipal user, VideoRepository repository, CancellationToken cancellationToken)
    {
        if (CheckId(id) is { } badId)
            return badId;
        return await repository.GetAsync(new VideoKey(user.Tenant(), id), cancellationToken) is { } video ? TypedResults.Ok(video) : Problems.NotFound("the video");
    }

    private static async Task<Results<Ok<FramePage>, ProblemHttpResult>> FramesAsync(
        string id, ClaimsPrincipal user, VideoRepository repository, IOptions<ApiOptions> options, CancellationToken cancellationToken,
        double? from = null, double? to = null, int? limit = null, string? cursor = null)
    {
        if (CheckId(id) is { } badId)
            return badId;
        if (CheckLimit(limit, options.Value) is { } badLimit)
            return badLimit;
        if (from is { } f && (!double.IsFinite(f) || f < 0) || to is { } t && (!double.IsFinite(t) || t < 0) || from > to)
            return Problems.BadRequest("from and to are times in seconds, 0 or more, with from not after to");
        if (!Cursors.TryReadFrame(cursor, out var afterIndex))
            return Problems.BadRequest("cursor is not one this API handed out");
        var video = new VideoKey(user.Tenant(), id);
        if (await repository.StateAsync(video, cancellationToken) is null)
            return Problems.NotFound("the video");
        return TypedResults.Ok(await repository.FramesAsync(video, from, to, afterIndex, limit ?? options.Value.DefaultPageSize, cancellationToken));
    }

    private static async Task<IResult> EventsAsync(
        string id, HttpContext http, VideoRepository repository, OpenRequests open, IOptions<ApiOptions> options, [FromHeader(Name = "Last-Event-ID")] string? lastEventId = null)
    {
        if (CheckId(id) is { } badId)
            return badId;
        var position = EventPosition.Start;
        if (!string.IsNullOrEmpty(lastEventId) && !EventPosition.TryParse(lastEventId, out position))
            return Problems.BadRequest("Last-Event-ID is not an id this stream sent");
        var video = new VideoKey(http.User.Tenant(), id);
        if (await repository.StateAsync(video, http.RequestAborted) is null)
            return Problems.NotFound("the video");
        if (open.TryHold(http, OpenKind.EventStream, options.Value.MaxStreamsPerKey) is { } tooMany)
            return tooMany;
        // nginx (ingress-nginx too) buffers what it proxies unless told otherwise: each event would wait for a buffer to fill.
        http.Response.Headers["X-Accel-Buffering"] = "no";
        return TypedResults.ServerSentEvents(VideoEventStream.ReadAsync(repository, video, position, TimeSpan.FromMilliseconds(options.Value.EventPollMs),
            TimeSpan.FromSeconds(options.Value.EventHeartbeatSeconds), http.RequestAborted));
    }

    private static async Task<IResult> ImageAsync(
        string id, string index, HttpContext http, VideoRepository repository, IBlobStore blobs, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (CheckId(id) is { } badId)
            return badId;
        if (index.Length > 9 || !int.TryParse(index, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var frame))
            return Problems.BadRequest("a frame index is a whole number, 0 or more");
        var video = new VideoKey(http.User.Tenant(), id);
        switch (await repository.FrameExistsAsync(video, frame, cancellationToken))
        {
            case (Video: false, _):
                return Problems.NotFound("the video");
            case (_, Frame: false):
                return Problems.NotFound($"frame {frame} of the video");
        }
        Blob? thumbnail;
        try
        {
            thumbnail = await blobs.GetAsync(FrameThumbnails.Key(video.TenantId, video.VideoId, frame), cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // The store is down, slow past its timeout or refusing us: the request was sound and may be retried.
            loggers.CreateLogger(typeof(VideosApi)).LogWarning(e, "The thumbnail of frame {Frame} of {Video} could not be read", frame, video.ToString());
            return Problems.RetryLater(http, "the thumbnail store cannot be reached right now");
        }
        if (thumbnail is null)
            return Problems.NotFound($"a thumbnail of frame {frame}");
        // Private: the picture is the tenant's. A retried video writes the same frame again, so clients revalidate now and then.
        http.Response.Headers.CacheControl = "private, max-age=300";
        return TypedResults.File(thumbnail.Content, FrameThumbnails.ContentType, entityTag: EntityTagHeaderValue.Parse(thumbnail.ETag));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string id, HttpContext http, VideoRepository repository, MediaStore store, IBlobStore blobs, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (CheckId(id) is { } badId)
            return badId;
        var video = new VideoKey(http.User.Tenant(), id);
        Exception? blobFailure = null;
        // The thumbnails go first, while the video's row is locked: if the blob store fails, nothing is deleted and the
        // client can try again, rather than being left with pictures no request can reach.
        async Task DeleteThumbnailsAsync(CancellationToken token)
        {
            try
            {
                await blobs.DeletePrefixAsync(FrameThumbnails.VideoPrefix(video.TenantId, video.VideoId), token);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                blobFailure = e;
                throw;
            }
        }
        (string State, string? Source)? deleted;
        try
        {
            deleted = await repository.DeleteAsync(video, DeleteThumbnailsAsync, cancellationToken);
        }
        catch (Exception) when (blobFailure is not null)
        {
            loggers.CreateLogger(typeof(VideosApi)).LogWarning(blobFailure, "The thumbnails of {Video} could not be deleted", video.ToString());
            return Problems.RetryLater(http, "the video's thumbnails could not be deleted, so nothing was");
        }
        switch (deleted)
        {
            case null:
                return Problems.NotFound("the video");
            case { State: not ("completed" or "failed") } running:
                return Problems.Conflict($"the video is {running.State}; it can be deleted once it has completed or failed");
            case { Source: var source }:
                store.DeleteSource(video, source);
                return TypedResults.NoContent();
        }
    }

    internal static ProblemHttpResult? CheckId(string id) =>
        VideoKey.IsValidId(id) ? null : Problems.BadRequest("a video id is " + VideoKey.IdRule);

    internal static ProblemHttpResult? CheckLimit(int? limit, ApiOptions options) =>
        limit is null || (limit >= 1 && limit <= options.MaxPageSize) ? null : Problems.BadRequest($"limit must be between 1 and {options.MaxPageSize}");
}

/// <summary>Where an event stream stands: the last frame it sent (by store order) and the last status sequence.</summary>
public readonly record struct EventPosition(long Frame, long Status)
{
    public static EventPosition Start => new(0, -1);

    public override string ToString() => FormattableString.Invariant($"{Frame}.{Status}");

    public static bool TryParse(string text, out EventPosition position)
    {
        position = Start;
        var dot = text.IndexOf('.');
        if (text.Length > 42 || dot < 0
            || !long.TryParse(text.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var frame)
            || !long.TryParse(text.AsSpan(dot + 1), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var status)
            || status < -1)
            return false;
        position = new EventPosition(frame, status);
        return true;
    }
}

/// <summary>
/// A video's events, read by polling Postgres: what the sink stored is what clients see, every API replica answers
/// the same, and an event id (frame store order and status sequence) resumes a stream exactly where it stopped.
/// </summary>
public static class VideoEventStream
{
    private const int FramesPerRead = 200;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Event payloads.</summary>
    public sealed record ProgressEvent(string State, double Progress, int FramesDone, int? FramesExpected);

    public sealed record FinishedEvent(string State, int? Frames, string? Reason);

    /// <summary>Sent after Api:EventHeartbeatSeconds without another event; its id is the stream's position, unchanged.</summary>
    public sealed record HeartbeatEvent(string State);

    public static async IAsyncEnumerable<SseItem<string>> ReadAsync(
        VideoRepository repository, VideoKey video, EventPosition position, TimeSpan poll, TimeSpan heartbeat,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var (frameSeq, statusSeq) = (position.Frame, position.Status);
        var lastSent = Stopwatch.GetTimestamp();
        while (!cancellationToken.IsCancellationRequested)
        {
            // The status is read before the frames: a final status means every frame is stored, so the frames read
            // next include all of them.
            var status = await repository.StatusAsync(video, cancellationToken);
            if (status is null)
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(new FinishedEvent("deleted", null, null), Json), "deleted");
                yield break;
            }
            List<StoredFrame> frames;
            do
            {
                frames = await repository.FramesStoredAfterAsync(video, frameSeq, FramesPerRead, cancellationToken);
                foreach (var frame in frames)
                {
                    frameSeq = frame.StoredSequence;
                    lastSent = Stopwatch.GetTimestamp();
                    yield return Item("frame", frame.Frame, frameSeq, statusSeq);
                }
            }
            while (frames.Count == FramesPerRead);
            if (status.Sequence > statusSeq)
            {
                statusSeq = status.Sequence;
                lastSent = Stopwatch.GetTimestamp();
                yield return Item("progress", new ProgressEvent(status.State, status.Progress, status.FramesDone, status.FramesExpected), frameSeq, statusSeq);
            }
            if (status.State is "completed" or "failed")
            {
                yield return Item(status.State, new FinishedEvent(status.State, status.Frames, status.Reason), frameSeq, statusSeq);
                yield break;
            }
            if (Stopwatch.GetElapsedTime(lastSent) >= heartbeat)
            {
                lastSent = Stopwatch.GetTimestamp();
                yield return Item("heartbeat", new HeartbeatEvent(status.State), frameSeq, statusSeq);
            }
            await Task.Delay(poll, cancellationToken);
        }
    }

    private static SseItem<string> Item<T>(string type, T data, long frame, long status) =>
        new(JsonSerializer.Serialize(data, Json), type) { EventId = new EventPosition(frame, status).ToString() };
}
