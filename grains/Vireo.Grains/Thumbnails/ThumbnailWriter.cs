using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Vireo.Blobs;
using Vireo.Messaging;

namespace Vireo.Grains.Thumbnails;

/// <summary>
/// Writes each sampled frame's thumbnail to the blob store, off the video's path: a frame is handed over (its pixels
/// are the ones already copied for the model, and are only read) and encoded and written by a few background writers.
/// Thumbnails never slow or fail a video: when the store refuses or hangs the thumbnail is logged and counted as
/// failed, and when more frames wait than <see cref="Capacity"/> the newest is dropped and counted. Never through Kafka.
/// </summary>
public sealed partial class ThumbnailWriter : IAsyncDisposable
{
    /// <summary>Frames waiting to be written on this silo, across its videos; bounds the memory their pixels hold.</summary>
    public const int Capacity = 16;

    private const int Writers = 2;
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(15);

    private readonly IBlobStore _blobs;
    private readonly ILogger<ThumbnailWriter> _logger;
    private readonly Channel<Pending> _pending = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _writers;

    public ThumbnailWriter(IBlobStore blobs, ILogger<ThumbnailWriter> logger)
    {
        _blobs = blobs;
        _logger = logger;
        _writers = blobs.Enabled ? Enumerable.Range(0, Writers).Select(_ => Task.Run(WriteAsync)).ToArray() : [];
    }

    private sealed record Pending(string Key, byte[] Rgb, int Width, int Height);

    /// <summary>Queues a frame's thumbnail; returns at once. <paramref name="rgb"/> must not change afterwards.</summary>
    public void Offer(VideoKey video, int frameIndex, byte[] rgb, int width, int height)
    {
        if (!_blobs.Enabled)
            return;
        if (_pending.Writer.TryWrite(new Pending(FrameThumbnails.Key(video.TenantId, video.VideoId, frameIndex), rgb, width, height)))
            return;
        Count("dropped");
        LogDropped(video.ToString(), frameIndex, Capacity);
    }

    private async Task WriteAsync()
    {
        await foreach (var frame in _pending.Reader.ReadAllAsync(_stopping.Token))
        {
            try
            {
                var jpeg = ThumbnailEncoder.Encode(frame.Rgb, frame.Width, frame.Height);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                timeout.CancelAfter(WriteTimeout);
                await _blobs.PutAsync(frame.Key, jpeg, FrameThumbnails.ContentType, timeout.Token);
                Count("written");
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Count("failed");
                LogFailed(frame.Key, e.Message);
            }
        }
    }

    private static void Count(string outcome) => VireoMetrics.Thumbnails.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>Lets the writers finish what is queued, for a few seconds at most.</summary>
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        _stopping.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await Task.WhenAll(_writers);
        }
        catch (OperationCanceledException)
        {
        }
        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Thumbnail {Key} was not written: {Reason}")]
    private partial void LogFailed(string key, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Thumbnail of frame {Frame} of {Video} dropped: {Capacity} thumbnails are already waiting for the blob store")]
    private partial void LogDropped(string video, int frame, int capacity);
}
