using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Vireo.Messaging;

/// <summary>
/// Publishes the pipeline's events. One idempotent producer per process; records are keyed by video id so that
/// a video's events stay in one partition and in order.
/// </summary>
public sealed class EventPublisher : IEventPublisher, IDisposable
{
    private readonly IProducer<string, byte[]> _producer;
    private readonly KafkaOptions _options;

    public EventPublisher(IOptions<KafkaOptions> options, ILogger<EventPublisher> logger)
    {
        _options = options.Value;
        var config = _options.Secure(new ProducerConfig
        {
            BootstrapServers = options.Value.ResolveBootstrapServers(),
            ClientId = $"vireo-{Environment.ProcessId}",
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 2,
            MessageTimeoutMs = _options.MessageTimeoutMs,
        });
        _producer = new ProducerBuilder<string, byte[]>(config)
            .SetErrorHandler((_, error) => logger.LogWarning("Kafka producer error {Code}: {Reason}", error.Code, error.Reason))
            .SetLogHandler((_, message) => logger.LogDebug("librdkafka {Facility}: {Message}", message.Facility, message.Message))
            .Build();
    }

    public int MaxRecordBytes => _options.MaxRecordBytes;

    /// <summary>Publishes an event to a pipeline topic (its logical name) and waits until the broker has it.</summary>
    public async Task PublishAsync<T>(string topic, string key, T value, CancellationToken cancellationToken = default) where T : class
    {
        var message = new Message<string, byte[]> { Key = key, Value = EventCodec.Serialize(value), Headers = [] };
        Tracing.Inject(message.Headers, Activity.Current);
        await _producer.ProduceAsync(_options.Topic(topic), message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Publishes raw bytes (for dead letters and tools that send what they were given).</summary>
    public async Task PublishRawAsync(string topic, string? key, byte[] value, Headers? headers = null, CancellationToken cancellationToken = default)
    {
        var message = new Message<string, byte[]> { Key = key!, Value = value, Headers = headers ?? [] };
        await _producer.ProduceAsync(_options.Topic(topic), message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records a record that cannot be processed, with the reason. The key and the reason (which may quote the key) are
    /// cut short like the payload, so that a letter about an oversized or hostile record is itself always small enough
    /// to publish.
    /// </summary>
    public Task DeadLetterAsync(ConsumeResult<string, byte[]> record, string reason, CancellationToken cancellationToken = default)
    {
        var key = record.Message.Key is { } k ? Shorten(k, MaxLetterKeyChars) : null;
        var letter = new DeadLetter
        {
            SourceTopic = _options.Logical(record.Topic),
            Partition = record.Partition.Value,
            Offset = record.Offset.Value,
            Key = key,
            Reason = Shorten(reason, MaxLetterReasonChars),
            Payload = EventCodec.Preview(record.Message.Value ?? []),
            At = DateTimeOffset.UtcNow,
        };
        return PublishAsync(VireoTopics.DeadLetter, key ?? "", letter, cancellationToken);
    }

    private const int MaxLetterKeyChars = 256, MaxLetterReasonChars = 1024;

    private static string Shorten(string text, int maxChars) => text.Length > maxChars ? text[..maxChars] + "…" : text;

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }
}
