using Confluent.Kafka;

namespace Vireo.Messaging;

/// <summary>Publishes the pipeline's events; <see cref="EventPublisher"/> is the Kafka implementation.</summary>
public interface IEventPublisher
{
    /// <summary>Publishes an event to a pipeline topic (its logical name) and waits until the broker has it.</summary>
    Task PublishAsync<T>(string topic, string key, T value, CancellationToken cancellationToken = default) where T : class;

    /// <summary>Largest record it sends, in bytes (Kafka:MaxRecordBytes); a larger one fails with MsgSizeTooLarge.</summary>
    int MaxRecordBytes { get; }

    /// <summary>Records a record that cannot be processed, with the reason.</summary>
    Task DeadLetterAsync(ConsumeResult<string, byte[]> record, string reason, CancellationToken cancellationToken = default);
}
