using System.ComponentModel.DataAnnotations;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Vireo.Testing;

namespace Vireo.Messaging.Tests;

public sealed class KafkaClientTests
{
    [Fact]
    public void EveryClientGetsTheConfiguredSecurityAndSizeCap()
    {
        var password = Path.GetTempFileName();
        File.WriteAllText(password, "s3cret\n");
        var options = new KafkaOptions
        {
            BootstrapServers = "broker:9093", SecurityProtocol = SecurityProtocol.SaslSsl, SaslMechanism = SaslMechanism.ScramSha512,
            SaslUsername = "vireo-silo", SaslPasswordFile = password, MaxRecordBytes = 256 * 1024,
        };
        Assert.Empty(Validate(options));
        var producer = options.Secure(new ProducerConfig());
        Assert.Equal((SecurityProtocol.SaslSsl, SaslMechanism.ScramSha512, "vireo-silo", "s3cret", 256 * 1024),
            (producer.SecurityProtocol, producer.SaslMechanism, producer.SaslUsername, producer.SaslPassword, producer.MessageMaxBytes));
        Assert.Equal(SecurityProtocol.SaslSsl, options.Secure(new ConsumerConfig()).SecurityProtocol);
        File.Delete(password);
    }

    [Fact]
    public void InconsistentSecuritySettingsAreRefusedAtStart()
    {
        Assert.Contains(Validate(new KafkaOptions { BootstrapServers = "b:1", SecurityProtocol = SecurityProtocol.SaslSsl }), e => e.Contains("SaslMechanism"));
        Assert.Contains(Validate(new KafkaOptions { BootstrapServers = "b:1", SslCaLocation = "/nonexistent/ca.pem" }), e => e.Contains("does not exist"));
        Assert.Contains(Validate(new KafkaOptions { BootstrapServers = "b:1", MaxEventBytes = 2 << 20, MaxRecordBytes = 1 << 20 }), e => e.Contains("MaxRecordBytes"));
        // Smaller than a frame's largest event.
        Assert.Contains(Validate(new KafkaOptions { BootstrapServers = "b:1", MaxEventBytes = 1024, MaxRecordBytes = 32 * 1024 }), e => e.Contains("MaxRecordBytes"));
    }

    [Fact]
    public async Task AConsumerThatSkipsOffsetsSaysSoAndCountsThem()
    {
        var logs = new CapturingLoggerProvider();
        using var loggers = new Microsoft.Extensions.Logging.LoggerFactory([logs]);
        using var consumer = await ConsumerOfNewRecordsAsync(new KafkaOptions(), 6, loggers);

        var first = await NextAsync(consumer);
        Assert.Equal(0, first.Offset.Value);
        var skippedBefore = OffsetGapWatch.Skipped;
        // What an offset reset after a deleted log start does: the next record read is further on than the last one.
        consumer.Seek(new TopicPartitionOffset(first.TopicPartition, 4));
        Assert.Equal(4, (await NextAsync(consumer)).Offset.Value);
        Assert.Equal(3, OffsetGapWatch.Skipped - skippedBefore);
        Assert.Contains(logs.Lines, l => l.Contains("Offsets 1-3 of") && l.Contains("were never read"));
        Assert.Equal(5, (await NextAsync(consumer)).Offset.Value);
        Assert.Equal(3, OffsetGapWatch.Skipped - skippedBefore);
    }

    [Fact]
    public async Task AConsumerRetryingLongerThanTheMaxPollIntervalKeepsItsPartitionAndReadsOnInOrder()
    {
        var kafka = new KafkaOptions { MaxPollIntervalMs = 10_000 };
        var logs = new CapturingLoggerProvider();
        using var loggers = new Microsoft.Extensions.Logging.LoggerFactory([logs]);
        using var consumer = await ConsumerOfNewRecordsAsync(kafka, 3, loggers);
        var first = await NextAsync(consumer);

        // Work that keeps failing for half again the poll interval, as a hand-off to an unreachable grain does.
        var retries = RetryPipelines.Create(new RetrySettings { DelayMs = 500, MaxDelayMs = 1_000, UseJitter = false }, _ => true);
        var failingUntil = DateTime.UtcNow.AddMilliseconds(kafka.MaxPollIntervalMs * 1.5);
        var handled = await consumer.RetryInGroupAsync(retries, async _ =>
        {
            await Task.Yield();
            return DateTime.UtcNow < failingUntil ? throw new TimeoutException("the grain is unreachable") : first.Offset.Value;
        }, NullLogger.Instance, CancellationToken.None);

        Assert.Equal(0, handled);
        Assert.True(consumer.StoreOffsetIfAssigned(first), "the partition was taken away while the work was retried");
        Assert.Contains(first.TopicPartition, consumer.Assignment);
        var second = await NextAsync(consumer);
        var third = await NextAsync(consumer);
        Assert.Equal((1, 2), (second.Offset.Value, third.Offset.Value));
        Assert.DoesNotContain(logs.Lines, l => l.Contains("Revoked"));
    }

    [Fact]
    public async Task ADeadLetterTheBrokerDoesNotTakeAtFirstIsRetriedWithTheConsumerKeptInItsGroup()
    {
        using var consumer = await ConsumerOfNewRecordsAsync(new KafkaOptions(), 2, NullLoggerFactory.Instance);
        var first = await NextAsync(consumer);
        var letters = new RefusingPublisher(refusals: 3);

        await consumer.DeadLetterInGroupAsync(letters, first, "not an upload event", NullLogger.Instance, CancellationToken.None);

        Assert.Equal((4, "not an upload event"), (letters.Attempts, letters.Published.Single()));
        Assert.True(consumer.StoreOffsetIfAssigned(first));
        // The partitions paused for the retries are resumed, and the next record is the next one.
        Assert.Equal(1, (await NextAsync(consumer)).Offset.Value);
    }

    /// <summary>A publisher whose first dead letters fail as they do while the broker is away.</summary>
    private sealed class RefusingPublisher(int refusals) : IEventPublisher
    {
        public int Attempts { get; private set; }
        public List<string> Published { get; } = [];
        public int MaxRecordBytes => 1 << 20;

        public Task PublishAsync<T>(string topic, string key, T value, CancellationToken cancellationToken = default) where T : class => Task.CompletedTask;

        public Task DeadLetterAsync(ConsumeResult<string, byte[]> record, string reason, CancellationToken cancellationToken = default)
        {
            if (++Attempts <= refusals)
                throw new KafkaException(Confluent.Kafka.ErrorCode.Local_MsgTimedOut);
            Published.Add(reason);
            return Task.CompletedTask;
        }
    }

    /// <summary>A consumer in a group of its own of a new topic holding <paramref name="count"/> records of one key (one partition).</summary>
    private static async Task<IConsumer<string, byte[]>> ConsumerOfNewRecordsAsync(KafkaOptions kafka, int count, Microsoft.Extensions.Logging.ILoggerFactory loggers)
    {
        kafka.BootstrapServers = LocalStack.KafkaBootstrapServers;
        kafka.TopicPrefix = $"records-{Guid.NewGuid():N}-";
        using var publisher = new EventPublisher(Options.Create(kafka), NullLogger<EventPublisher>.Instance);
        foreach (var i in Enumerable.Range(0, count))
            await publisher.PublishRawAsync("records", "one-key", [(byte)i]);
        return new KafkaConsumers(Options.Create(kafka), loggers).Create($"group-{Guid.NewGuid():N}", "test", "records");
    }

    private static async Task<ConsumeResult<string, byte[]>> NextAsync(IConsumer<string, byte[]> consumer)
    {
        ConsumeResult<string, byte[]>? record = null;
        await Eventually.UntilAsync(() => (record = consumer.ConsumeOrNull(TimeSpan.FromMilliseconds(200), NullLogger.Instance)) is not null,
            TimeSpan.FromSeconds(30), "a record");
        return record!;
    }

    private static List<string> Validate(KafkaOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return results.Select(r => r.ErrorMessage!).ToList();
    }
}
