using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace Vireo.Messaging;

/// <summary>Builds consumers with the settings every Vireo consumer shares.</summary>
public sealed class KafkaConsumers(IOptions<KafkaOptions> options, ILoggerFactory loggers)
{
    /// <summary>
    /// A consumer in <paramref name="groupId"/> whose offsets are stored by the caller only after its work is done
    /// (at-least-once), then committed in the background. It is subscribed to the given pipeline topics.
    /// </summary>
    public IConsumer<string, byte[]> Create(string groupId, string clientName, params string[] topics)
    {
        var logger = loggers.CreateLogger($"Vireo.Messaging.Consumer.{clientName}");
        var config = options.Value.Secure(new ConsumerConfig
        {
            BootstrapServers = options.Value.ResolveBootstrapServers(),
            GroupId = groupId,
            ClientId = $"{clientName}-{Environment.ProcessId}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
            AutoCommitIntervalMs = 500,
            EnableAutoOffsetStore = false,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            SessionTimeoutMs = 10_000,
            HeartbeatIntervalMs = 1_000,
            MaxPollIntervalMs = options.Value.MaxPollIntervalMs,
            FetchMaxBytes = 8 * 1024 * 1024,
            // Lets a consumer that starts before any producer create its topics where the cluster allows it (the dev broker does).
            AllowAutoCreateTopics = true,
            TopicMetadataRefreshIntervalMs = 3_000,
            StatisticsIntervalMs = options.Value.StatisticsIntervalMs,
        });
        var consumer = new ConsumerBuilder<string, byte[]>(config)
            .SetErrorHandler((_, error) =>
            {
                if (error.IsFatal) logger.LogCritical("Fatal Kafka consumer error {Code}: {Reason}", error.Code, error.Reason);
                else logger.LogWarning("Kafka consumer error {Code}: {Reason}", error.Code, error.Reason);
            })
            .SetLogHandler((_, message) => logger.LogDebug("librdkafka {Facility}: {Message}", message.Facility, message.Message))
            .SetStatisticsHandler((_, json) => VireoMetrics.RecordConsumerStatistics(groupId, json))
            .SetPartitionsAssignedHandler((_, partitions) => logger.LogInformation("Assigned {Partitions}", string.Join(",", partitions)))
            .SetPartitionsRevokedHandler((revoked, partitions) =>
            {
                logger.LogInformation("Revoked {Partitions}", string.Join(",", partitions));
                OffsetGapWatch.Of(revoked)?.Forget(partitions.Select(p => p.TopicPartition));
            })
            .Build();
        OffsetGapWatch.Attach(consumer, logger);
        consumer.Subscribe(topics.Select(options.Value.Topic));
        return consumer;
    }
}

/// <summary>
/// Watches the offsets a consumer reads. Vireo's producers are idempotent and never transactional, so the offsets of a
/// partition are consecutive: a jump means records this consumer never saw (a log start the broker deleted, an offset
/// reset). Each gap is logged as an error and counted (vireo.kafka.consumer.offset_gaps); none passes silently.
/// </summary>
public sealed class OffsetGapWatch
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IConsumer<string, byte[]>, OffsetGapWatch> Watches = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TopicPartition, long> _next = new();
    private readonly IConsumer<string, byte[]> _consumer;
    private readonly ILogger _logger;

    private OffsetGapWatch(IConsumer<string, byte[]> consumer, ILogger logger) => (_consumer, _logger) = (consumer, logger);

    public static void Attach(IConsumer<string, byte[]> consumer, ILogger logger) => Watches.AddOrUpdate(consumer, new OffsetGapWatch(consumer, logger));

    internal static OffsetGapWatch? Of(IConsumer<string, byte[]> consumer) => Watches.TryGetValue(consumer, out var watch) ? watch : null;

    /// <summary>Total records skipped, over every watched consumer of this process.</summary>
    public static long Skipped => Interlocked.Read(ref _skipped);

    private static long _skipped;

    /// <summary>
    /// Checks a record against the one read before it on its partition; for the first record of a partition, against
    /// the group's committed offset, which is where reading should have started.
    /// </summary>
    public void Observe(ConsumeResult<string, byte[]> record)
    {
        var partition = record.TopicPartition;
        if (!_next.TryGetValue(partition, out var expected))
            expected = CommittedOffset(partition);
        if (expected >= 0 && record.Offset.Value > expected)
        {
            var missing = record.Offset.Value - expected;
            Interlocked.Add(ref _skipped, missing);
            VireoMetrics.ConsumerOffsetGaps.Add(missing, new KeyValuePair<string, object?>("topic", record.Topic));
            _logger.LogError("Offsets {From}-{To} of {Topic}[{Partition}] were never read: {Missing} records deleted by the broker or skipped by an offset reset",
                expected, record.Offset.Value - 1, record.Topic, partition.Partition.Value, missing);
        }
        _next[partition] = record.Offset.Value + 1;
    }

    /// <summary>Partitions that moved to another member: whatever it reads there is no gap of this consumer's.</summary>
    public void Forget(IEnumerable<TopicPartition> partitions)
    {
        foreach (var partition in partitions)
            _next.TryRemove(partition, out _);
    }

    private long CommittedOffset(TopicPartition partition)
    {
        try
        {
            return _consumer.Committed([partition], TimeSpan.FromSeconds(2)).Single().Offset.Value;
        }
        catch (KafkaException)
        {
            return -1;
        }
    }
}

/// <summary>Consume calls that survive the errors librdkafka reports through exceptions without being fatal.</summary>
public static class ConsumerExtensions
{
    /// <summary>
    /// The next record, or null when none came or the client reported a passing condition (a topic not created
    /// yet, a broker reconnecting). Keys and values are read as UTF-8 text and raw bytes, which never fail to
    /// deserialize, so no record can get stuck here.
    /// </summary>
    public static ConsumeResult<string, byte[]>? ConsumeOrNull(this IConsumer<string, byte[]> consumer, TimeSpan timeout,
        ILogger logger, CancellationToken cancellationToken = default)
    {
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            var record = consumer.Consume(timeout);
            if (record?.Message is not null)
                OffsetGapWatch.Of(consumer)?.Observe(record);
            return record;
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            logger.LogDebug("Consume reported {Code}: {Reason}", e.Error.Code, e.Error.Reason);
            return null;
        }
    }

    /// <summary>
    /// Runs the work for the records in hand with the pipeline's retries, and keeps the consumer in its group while
    /// it waits: before each retry every assigned partition is paused (a rebalance may have added some) and the
    /// consumer polls once, so however long the retries go on, max.poll.interval.ms never passes without a poll and
    /// nothing new is fetched. A record that the poll returns anyway is sought back, to be read again later. The
    /// partitions are resumed once the work is done or given up.
    /// </summary>
    public static async Task<T> RetryInGroupAsync<T>(this IConsumer<string, byte[]> consumer, ResiliencePipeline retries,
        Func<CancellationToken, ValueTask<T>> work, ILogger logger, CancellationToken cancellationToken)
    {
        var attempts = 0;
        try
        {
            return await retries.ExecuteAsync(async ct =>
            {
                if (++attempts > 1)
                {
                    consumer.Pause(consumer.Assignment);
                    if (consumer.ConsumeOrNull(TimeSpan.Zero, logger, ct) is { Message: not null } stray)
                        consumer.Seek(stray.TopicPartitionOffset);
                }
                return await work(ct);
            }, cancellationToken);
        }
        finally
        {
            if (attempts > 1)
                consumer.Resume(consumer.Assignment);
        }
    }

    /// <inheritdoc cref="RetryInGroupAsync{T}"/>
    public static Task RetryInGroupAsync(this IConsumer<string, byte[]> consumer, ResiliencePipeline retries,
        Func<CancellationToken, ValueTask> work, ILogger logger, CancellationToken cancellationToken) =>
        consumer.RetryInGroupAsync(retries, async ct =>
        {
            await work(ct);
            return true;
        }, logger, cancellationToken);

    /// <summary>
    /// Publishes a dead letter for a record that cannot be processed, retrying while the broker does not take it (for as
    /// long as that lasts, with the consumer kept in its group as <see cref="RetryInGroupAsync{T}"/> keeps it): the
    /// caller stores the record's offset only after its letter, so a broker outage neither loses the record nor ends
    /// the consumer.
    /// </summary>
    public static Task DeadLetterInGroupAsync(this IConsumer<string, byte[]> consumer, IEventPublisher publisher,
        ConsumeResult<string, byte[]> record, string reason, ILogger logger, CancellationToken cancellationToken)
    {
        logger.LogWarning("Dead-lettering {Topic}[{Partition}]@{Offset}: {Reason}", record.Topic, record.Partition.Value, record.Offset.Value, reason);
        return consumer.RetryInGroupAsync(DeadLetterRetries, async ct =>
        {
            try
            {
                await publisher.DeadLetterAsync(record, reason, ct);
            }
            catch (KafkaException e) when (!e.Error.IsFatal)
            {
                logger.LogWarning("Publishing the dead letter for {Topic}[{Partition}]@{Offset} failed: {Message}; retrying",
                    record.Topic, record.Partition.Value, record.Offset.Value, e.Message);
                throw;
            }
        }, logger, cancellationToken);
    }

    private static readonly ResiliencePipeline DeadLetterRetries = RetryPipelines.Create(
        new RetrySettings { DelayMs = 500, MaxDelayMs = 30_000 }, e => e is KafkaException { Error.IsFatal: false });

    /// <summary>
    /// Stores a record's offset for the next commit, unless its partition has moved to another member meanwhile
    /// (a rebalance during long work): that member reads the record again, so the work must be idempotent.
    /// Returns whether the offset was stored.
    /// </summary>
    public static bool StoreOffsetIfAssigned(this IConsumer<string, byte[]> consumer, ConsumeResult<string, byte[]> record)
    {
        try
        {
            consumer.StoreOffset(record);
            return true;
        }
        catch (KafkaException e) when (e.Error.Code == Confluent.Kafka.ErrorCode.Local_State)
        {
            return false;
        }
    }
}
