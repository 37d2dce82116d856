using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Vireo.Messaging;
using Vireo.Storage;

namespace Vireo.Sink;

/// <summary>
/// Consumes frame results and status changes and writes them to Postgres in batches. Offsets are stored only
/// after the batch is committed to Postgres; while Postgres is unreachable the partitions are paused and the
/// batch is retried, so nothing is lost and the consumer stays in its group.
/// </summary>
public sealed class SinkWorker(
    KafkaConsumers consumers,
    EventPublisher publisher,
    ResultStore store,
    IOptions<SinkOptions> options,
    IOptions<KafkaOptions> kafka,
    ILogger<SinkWorker> logger)
    : ConsumerService(consumers, "Sink", options.Value.GroupId, [VireoTopics.FramesAnalyzed, VireoTopics.VideoStatus], logger)
{
    private readonly ResiliencePipeline _retry = RetryPipelines.Create(options.Value.Retry,
        e => e is TimeoutException || e is Npgsql.NpgsqlException and not Npgsql.PostgresException { IsTransient: false },
        args =>
        {
            logger.LogWarning("Writing a batch failed (attempt {Attempt}): {Message}; retrying in {Delay:0} ms",
                args.AttemptNumber + 1, args.Outcome.Exception?.Message, args.RetryDelay.TotalMilliseconds);
            return ValueTask.CompletedTask;
        });

    protected override async Task ConsumeAsync(IConsumer<string, byte[]> consumer, CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var batch = new List<ConsumeResult<string, byte[]>>(settings.MaxBatch);
        while (!stoppingToken.IsCancellationRequested)
        {
            batch.Clear();
            Fill(consumer, batch, settings, stoppingToken);
            if (batch.Count > 0)
                await WriteWithRetryAsync(consumer, batch, stoppingToken);
        }
    }

    private void Fill(IConsumer<string, byte[]> consumer, List<ConsumeResult<string, byte[]>> batch, SinkOptions settings, CancellationToken stoppingToken)
    {
        var first = consumer.ConsumeOrNull(TimeSpan.FromMilliseconds(500), Logger, stoppingToken);
        if (first?.Message is null)
            return;
        batch.Add(first);
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * settings.MaxWaitMs / 1000;
        while (batch.Count < settings.MaxBatch)
        {
            var left = TimeSpan.FromTicks(Math.Max(0, (deadline - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
            if (left == TimeSpan.Zero)
                break;
            var next = consumer.ConsumeOrNull(left, Logger, stoppingToken);
            if (next?.Message is null)
                break;
            batch.Add(next);
        }
    }

    private async Task WriteWithRetryAsync(IConsumer<string, byte[]> consumer, List<ConsumeResult<string, byte[]>> batch, CancellationToken stoppingToken)
    {
        var started = Stopwatch.GetTimestamp();
        var frames = new List<FrameAnalyzed>();
        var statuses = new List<VideoStatusChanged>();
        var traces = new HashSet<ActivityContext>();
        var tracesSeen = new HashSet<ActivityTraceId>();
        var origins = new Dictionary<object, ConsumeResult<string, byte[]>>(ReferenceEqualityComparer.Instance);
        foreach (var record in batch)
        {
            // One short span per trace in the batch (not per record) continues the trace its producer started, so a
            // video's trace reaches the sink; the write span links them all.
            var context = Tracing.ContextOf(record.Message.Headers);
            if (context != default && tracesSeen.Add(context.TraceId))
            {
                using var consumed = Tracing.Source.StartActivity("sink.consume", ActivityKind.Consumer, context);
                consumed?.SetTag("messaging.destination.name", record.Topic);
                if (consumed is not null)
                    traces.Add(consumed.Context);
            }
            var framesBefore = frames.Count;
            var error = Decode(record, frames, statuses);
            if (error is not null)
                await consumer.DeadLetterInGroupAsync(publisher, record, error, Logger, stoppingToken);
            else
                origins[frames.Count > framesBefore ? frames[^1] : statuses[^1]] = record;
        }
        var refused = new List<(object Event, string Reason)>();

        try
        {
            await consumer.RetryInGroupAsync(_retry, async ct =>
            {
                using var activity = Tracing.Source.StartActivity("sink.write", ActivityKind.Internal, default(ActivityContext),
                    links: traces.Select(t => new ActivityLink(t)));
                activity?.SetTag("vireo.records", batch.Count);
                refused.AddRange(await RefuseImpossibleAsync(frames, statuses, ct));
                await store.WriteAsync(frames, statuses, ct);
            }, Logger, stoppingToken);
            foreach (var (impossible, reason) in refused)
                await consumer.DeadLetterInGroupAsync(publisher, origins[impossible], reason, Logger, stoppingToken);
        }
        catch (Npgsql.PostgresException e) when (!e.IsTransient)
        {
            Logger.LogError(e, "Postgres refused a batch of {Count} records; writing them one by one", batch.Count);
            await IsolatePoisonAsync(consumer, batch, stoppingToken);
        }

        // A partition that moved to another member during the retries is written again there; the writes are idempotent.
        foreach (var record in batch)
            consumer.StoreOffsetIfAssigned(record);
        VireoMetrics.SinkBatchSize.Record(batch.Count);
        VireoMetrics.SinkBatchDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        VireoMetrics.SinkRecordsWritten.Add(frames.Count, new KeyValuePair<string, object?>("kind", "frame"));
        VireoMetrics.SinkRecordsWritten.Add(statuses.Count, new KeyValuePair<string, object?>("kind", "status"));
        Logger.LogDebug("Wrote {Frames} frames and {Statuses} status changes", frames.Count, statuses.Count);
    }

    /// <summary>
    /// Takes out of the batch the records no video grain can have sent: a status whose sequence runs further ahead of
    /// the stored one than the grain numbers them, and a frame whose index is out of range or past the end of a video
    /// that completed. Left in, a forged sequence would freeze the video for good.
    /// </summary>
    private async Task<List<(object Event, string Reason)>> RefuseImpossibleAsync(List<FrameAnalyzed> frames, List<VideoStatusChanged> statuses, CancellationToken ct)
    {
        var settings = options.Value;
        var stored = await store.ProgressAsync(frames.Select(f => f.Key).Concat(statuses.Select(s => s.Key)).ToHashSet(), ct);
        var refused = new List<(object Event, string Reason)>();
        var statusesPerVideo = statuses.CountBy(s => s.Key).ToDictionary();
        foreach (var status in statuses)
        {
            var last = stored.TryGetValue(status.Key, out var progress) ? progress.Sequence : 0;
            if (status.Sequence < 1 || status.Sequence > last + settings.MaxSequenceStep + statusesPerVideo[status.Key])
                refused.Add((status, $"status sequence {status.Sequence} of video {status.Key} is beyond what its grain can have issued (stored: {last})"));
        }
        foreach (var frame in frames)
        {
            if (frame.FrameIndex < 0 || frame.FrameIndex >= settings.MaxFrameIndex)
                refused.Add((frame, $"frame index {frame.FrameIndex} is out of range (0 to {settings.MaxFrameIndex - 1})"));
            else if (stored.TryGetValue(frame.Key, out var progress) && progress is { State: "completed", Frames: { } count } && frame.FrameIndex >= count)
                refused.Add((frame, $"frame {frame.FrameIndex} of video {frame.Key}, which completed with {count} frames"));
        }
        var gone = refused.Select(r => r.Event).ToHashSet(ReferenceEqualityComparer.Instance);
        frames.RemoveAll(gone.Contains);
        statuses.RemoveAll(gone.Contains);
        return refused;
    }

    // A record that Postgres refuses for what it contains (not for being unreachable) must not block its
    // partition: each record is written alone, and those refused again go to the dead-letter topic. Each passes the
    // same checks as in a batch (a forged sequence written here would freeze its video) and the same retries.
    private async Task IsolatePoisonAsync(IConsumer<string, byte[]> consumer, List<ConsumeResult<string, byte[]>> batch, CancellationToken stoppingToken)
    {
        foreach (var record in batch)
        {
            var oneFrame = new List<FrameAnalyzed>(1);
            var oneStatus = new List<VideoStatusChanged>(1);
            if (Decode(record, oneFrame, oneStatus) is not null)
                continue;
            string? refused = null;
            try
            {
                await consumer.RetryInGroupAsync(_retry, async ct =>
                {
                    refused ??= (await RefuseImpossibleAsync(oneFrame, oneStatus, ct)).Select(r => r.Reason).FirstOrDefault();
                    await store.WriteAsync(oneFrame, oneStatus, ct);
                }, Logger, stoppingToken);
            }
            catch (Npgsql.PostgresException e) when (!e.IsTransient)
            {
                refused = $"refused by Postgres: {e.SqlState} {e.MessageText}";
            }
            if (refused is not null)
                await consumer.DeadLetterInGroupAsync(publisher, record, refused, Logger, stoppingToken);
        }
    }

    private string? Decode(ConsumeResult<string, byte[]> record, List<FrameAnalyzed> frames, List<VideoStatusChanged> statuses)
    {
        var payload = record.Message.Value ?? [];
        if (kafka.Value.Logical(record.Topic) == VireoTopics.FramesAnalyzed)
        {
            var frame = EventCodec.Deserialize<FrameAnalyzed>(payload, FrameAnalyzed.CurrentVersion, f => f.Version);
            var error = frame.Error ?? CheckIdentity(record, frame.Event!.Key);
            if (error is null) frames.Add(frame.Event!);
            return error;
        }
        var status = EventCodec.Deserialize<VideoStatusChanged>(payload, VideoStatusChanged.CurrentVersion, s => s.Version);
        var statusError = status.Error ?? CheckIdentity(record, status.Event!.Key);
        if (statusError is null) statuses.Add(status.Event!);
        return statusError;
    }

    /// <summary>
    /// A record speaks for the video its key names: the pipeline keys every record by tenant and video, so a
    /// payload that names another tenant (or an invalid id) did not come from it.
    /// </summary>
    private static string? CheckIdentity(ConsumeResult<string, byte[]> record, VideoKey video)
    {
        if (!VideoKey.IsValidId(video.TenantId) || !VideoKey.IsValidId(video.VideoId))
            return $"tenantId and videoId must each be {VideoKey.IdRule}";
        return record.Message.Key == video.ToString() ? null : $"the record's key '{record.Message.Key}' does not name video {video}";
    }
}
