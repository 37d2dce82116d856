using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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
        var config = new ConsumerConfig
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
            MaxPollIntervalMs = 600_000,
            FetchMaxBytes = 8 * 1024 * 1024,
            // Lets a consumer that starts before any producer create its topics where the cluster allows it (the dev broker does).
            AllowAutoCreateTopics = true,
            TopicMetadataRefreshIntervalMs = 3_000,
            StatisticsIntervalMs = options.Value.StatisticsIntervalMs,
        };
        var consumer = new ConsumerBuilder<string, byte[]>(config)
            .SetErrorHandler((_, error) =>
            {
                if (error.IsFatal) logger.LogCritical("Fatal Kafka consumer error {Code}: {Reason}", error.Code, error.Reason);
                else logger.LogWarning("Kafka consumer error {Code}: {Reason}", error.Code, error.Reason);
            })
            .SetLogHandler((_, message) => logger.LogDebug("librdkafka {Facility}: {Message}", message.Facility, message.Message))
            .SetStatisticsHandler((_, json) => VireoMetrics.RecordConsumerStatistics(groupId, json))
            .SetPartitionsAssignedHandler((_, partitions) => logger.LogInformation("Assigned {Partitions}", string.Join(",", partitions)))
            .SetPartitionsRevokedHandler((_, partitions) => logger.LogInformation("Revoked {Partitions}", string.Join(",", partitions)))
            .Build();
        consumer.Subscribe(topics.Select(options.Value.Topic));
        return consumer;
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
            return consumer.Consume(timeout);
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            logger.LogDebug("Consume reported {Code}: {Reason}", e.Error.Code, e.Error.Reason);
            return null;
        }
    }
}
