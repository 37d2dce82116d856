using System.ComponentModel.DataAnnotations;

namespace Vireo.Messaging;

/// <summary>Where Kafka is (section "Kafka"). A real cluster sets <see cref="BootstrapServers"/>; the local stack writes a file.</summary>
public sealed class KafkaOptions : IValidatableObject
{
    public const string Section = "Kafka";

    /// <summary>host:port list of brokers.</summary>
    public string? BootstrapServers { get; set; }

    /// <summary>A file holding the bootstrap address, read when <see cref="BootstrapServers"/> is empty (the dev broker writes it).</summary>
    public string? BootstrapFile { get; set; }

    /// <summary>Largest record accepted from a producer outside Vireo, in bytes; larger ones go to the dead-letter topic.</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxEventBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Put before every topic name, so that separate environments (or test runs) can share one cluster without
    /// seeing each other's records. Empty in production.
    /// </summary>
    [RegularExpression("^[A-Za-z0-9._-]*$")]
    public string TopicPrefix { get; set; } = "";

    /// <summary>How often consumers read librdkafka's statistics, which carry the consumer lag reported as a metric; 0 turns them off.</summary>
    [Range(0, 600_000)]
    public int StatisticsIntervalMs { get; set; } = 5_000;

    /// <summary>The physical name of a pipeline topic.</summary>
    public string Topic(string logicalName) => TopicPrefix + logicalName;

    /// <summary>The pipeline topic a physical name stands for.</summary>
    public string Logical(string physicalName) =>
        physicalName.StartsWith(TopicPrefix, StringComparison.Ordinal) ? physicalName[TopicPrefix.Length..] : physicalName;

    public string ResolveBootstrapServers()
    {
        if (!string.IsNullOrWhiteSpace(BootstrapServers))
            return BootstrapServers;
        if (string.IsNullOrWhiteSpace(BootstrapFile))
            throw new InvalidOperationException("Kafka is not configured: set Kafka:BootstrapServers or Kafka:BootstrapFile.");
        if (!File.Exists(BootstrapFile))
            throw new InvalidOperationException($"Kafka bootstrap file '{BootstrapFile}' does not exist; is the dev broker running (./vireo up)?");
        var address = File.ReadAllText(BootstrapFile).Trim();
        return address.Length > 0 ? address : throw new InvalidOperationException($"Kafka bootstrap file '{BootstrapFile}' is empty.");
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrWhiteSpace(BootstrapServers) && string.IsNullOrWhiteSpace(BootstrapFile))
            yield return new ValidationResult("Set Kafka:BootstrapServers or Kafka:BootstrapFile.", [nameof(BootstrapServers)]);
    }
}
