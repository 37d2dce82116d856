using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
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
    protected override async Task ConsumeAsync(IConsumer<string, byte[]> consumer, CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var batch = new List<ConsumeResult<string, byte[]>>(settings.MaxBatch);
        while (!stoppingToken.IsCancellationRequested)
        {
            batch.Clear();
            Fill(consumer, batch, settings, stoppingToken);
            if (batch.Count > 0)
                await WriteWithRetryAsync(consumer, batch, settings, stoppingToken);
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

    private async Task WriteWithRetryAsync(IConsumer<string, byte[]> consumer, List<ConsumeResult<string, byte[]>> batch, SinkOptions settings, CancellationToken stoppingToken)
    {
        var frames = new List<FrameAnalyzed>();
        var statuses = new List<VideoStatusChanged>();
        foreach (var record in batch)
        {
            var error = Decode(record, frames, statuses);
            if (error is not null)
            {
                Logger.LogWarning("Dead-lettering {Topic}[{Partition}]@{Offset}: {Reason}", record.Topic, record.Partition.Value, record.Offset.Value, error);
                await publisher.DeadLetterAsync(record, error, stoppingToken);
            }
        }

        var delay = settings.RetryDelayMs;
        var paused = false;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var activity = Tracing.Source.StartActivity("sink.write");
                await store.WriteAsync(frames, statuses, stoppingToken);
                break;
            }
            catch (Npgsql.PostgresException e) when (!e.IsTransient)
            {
                Logger.LogError(e, "Postgres refused a batch of {Count} records; writing them one by one", batch.Count);
                await IsolatePoisonAsync(batch, stoppingToken);
                break;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                if (!paused)
                {
                    consumer.Pause(consumer.Assignment);
                    paused = true;
                }
                Logger.LogWarning("Writing {Count} records failed (attempt {Attempt}): {Message}; retrying in {Delay} ms", batch.Count, attempt, e.Message, delay);
                var until = DateTime.UtcNow.AddMilliseconds(delay);
                // Polling while paused keeps the consumer in its group without fetching anything new.
                while (DateTime.UtcNow < until)
                    consumer.ConsumeOrNull(TimeSpan.FromMilliseconds(Math.Min(100, delay)), Logger, stoppingToken);
                delay = Math.Min(delay * 2, settings.MaxRetryDelayMs);
            }
        }
        if (paused)
            consumer.Resume(consumer.Assignment);

        foreach (var record in batch)
        {
            try
            {
                consumer.StoreOffset(record);
            }
            catch (KafkaException e) when (e.Error.Code == Confluent.Kafka.ErrorCode.Local_State)
            {
                // The partition moved to another member during the retry; it will replay these idempotent writes.
            }
        }
        Logger.LogDebug("Wrote {Frames} frames and {Statuses} status changes", frames.Count, statuses.Count);
    }

    // A record that Postgres refuses for what it contains (not for being unreachable) must not block its
    // partition: each record is written alone, and those refused again go to the dead-letter topic.
    private async Task IsolatePoisonAsync(List<ConsumeResult<string, byte[]>> batch, CancellationToken stoppingToken)
    {
        foreach (var record in batch)
        {
            var oneFrame = new List<FrameAnalyzed>(1);
            var oneStatus = new List<VideoStatusChanged>(1);
            if (Decode(record, oneFrame, oneStatus) is not null)
                continue;
            try
            {
                await store.WriteAsync(oneFrame, oneStatus, stoppingToken);
            }
            catch (Npgsql.PostgresException e) when (!e.IsTransient)
            {
                await publisher.DeadLetterAsync(record, $"refused by Postgres: {e.SqlState} {e.MessageText}", stoppingToken);
            }
        }
    }

    private string? Decode(ConsumeResult<string, byte[]> record, List<FrameAnalyzed> frames, List<VideoStatusChanged> statuses)
    {
        var payload = record.Message.Value ?? [];
        if (kafka.Value.Logical(record.Topic) == VireoTopics.FramesAnalyzed)
        {
            var frame = EventCodec.Deserialize<FrameAnalyzed>(payload, FrameAnalyzed.CurrentVersion, f => f.Version);
            if (frame.Ok) frames.Add(frame.Event!);
            return frame.Error;
        }
        var status = EventCodec.Deserialize<VideoStatusChanged>(payload, VideoStatusChanged.CurrentVersion, s => s.Version);
        if (status.Ok) statuses.Add(status.Event!);
        return status.Error;
    }
}
