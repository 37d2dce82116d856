using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Vireo.Messaging;

/// <summary>Builds consumers with the settings every Vireo consumer shares.</summary>
public sealed class KafkaConsumers(IOptions<KafkaOptions> options, ILoggerFactory loggers)
{
    /// <summary>
    /// A consumer in <paramref name="groupId"/> whose offsets are stored by the caller only after its work is done
    /// (at-least-once), then committed in the background.
    /// </summary>
    public IConsumer<string, byte[]> Create(string groupId, string clientName)
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
        };
        return new ConsumerBuilder<string, byte[]>(config)
            .SetErrorHandler((_, error) =>
            {
                if (error.IsFatal) logger.LogCritical("Fatal Kafka consumer error {Code}: {Reason}", error.Code, error.Reason);
                else logger.LogWarning("Kafka consumer error {Code}: {Reason}", error.Code, error.Reason);
            })
            .SetLogHandler((_, message) => logger.LogDebug("librdkafka {Facility}: {Message}", message.Facility, message.Message))
            .SetPartitionsAssignedHandler((_, partitions) => logger.LogInformation("Assigned {Partitions}", string.Join(",", partitions)))
            .SetPartitionsRevokedHandler((_, partitions) => logger.LogInformation("Revoked {Partitions}", string.Join(",", partitions)))
            .Build();
    }
}
