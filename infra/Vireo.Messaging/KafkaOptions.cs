using System.ComponentModel.DataAnnotations;
using Confluent.Kafka;

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

    /// <summary>
    /// Largest record any Vireo producer sends, in bytes (librdkafka's message.max.bytes; set the brokers' and topics'
    /// message.max.bytes to the same). Pipeline events are far smaller; a record over it fails to publish instead of
    /// reaching a broker that would drop it. At least 64 KiB: a frame's event carries an answer of up to 96 tokens,
    /// which JSON can escape to about 12 KiB, and a final status lists only as many texts as fit.
    /// </summary>
    [Range(64 * 1024, 64 * 1024 * 1024)]
    public int MaxRecordBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Longest a consumer may go between two polls before it leaves its group and its partitions move to another
    /// member (librdkafka's max.poll.interval.ms). Vireo's consumers poll while they wait on a retry, so only one
    /// piece of work that runs longer than this, without a retry, reaches it.
    /// </summary>
    [Range(10_000, 3_600_000)]
    public int MaxPollIntervalMs { get; set; } = 600_000;

    /// <summary>
    /// Longest a producer tries to deliver a record, in milliseconds (librdkafka's message.timeout.ms). When it is past,
    /// the record's delivery fails and it is never sent again; one already sent whose acknowledgement did not come may
    /// still have been written (possibly persisted).
    /// </summary>
    [Range(1_000, 3_600_000)]
    public int MessageTimeoutMs { get; set; } = 120_000;

    /// <summary>How clients reach the brokers: plaintext (local stack), ssl, sasl_plaintext or sasl_ssl (production).</summary>
    public SecurityProtocol SecurityProtocol { get; set; } = SecurityProtocol.Plaintext;

    /// <summary>SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER.</summary>
    public SaslMechanism? SaslMechanism { get; set; }

    public string? SaslUsername { get; set; }

    /// <summary>The SASL password; prefer <see cref="SaslPasswordFile"/> (a mounted secret) to keep it out of the environment.</summary>
    public string? SaslPassword { get; set; }

    /// <summary>A file whose content (trimmed) is the SASL password.</summary>
    public string? SaslPasswordFile { get; set; }

    /// <summary>PEM file of the certificate authorities that signed the brokers' certificates.</summary>
    public string? SslCaLocation { get; set; }

    /// <summary>PEM client certificate and key, for brokers that authenticate clients by TLS (mTLS).</summary>
    public string? SslCertificateLocation { get; set; }
    public string? SslKeyLocation { get; set; }

    /// <summary>Applies the security and size settings to a client's configuration; every Vireo Kafka client goes through it.</summary>
    public T Secure<T>(T config) where T : ClientConfig
    {
        config.SecurityProtocol = SecurityProtocol;
        config.MessageMaxBytes = MaxRecordBytes;
        if (SaslMechanism is { } mechanism)
        {
            config.SaslMechanism = mechanism;
            config.SaslUsername = SaslUsername;
            config.SaslPassword = !string.IsNullOrEmpty(SaslPasswordFile) ? File.ReadAllText(SaslPasswordFile).Trim() : SaslPassword;
        }
        config.SslCaLocation = SslCaLocation;
        config.SslCertificateLocation = SslCertificateLocation;
        config.SslKeyLocation = SslKeyLocation;
        return config;
    }

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
        if (MaxEventBytes > MaxRecordBytes)
            yield return new ValidationResult("Kafka:MaxEventBytes must not exceed Kafka:MaxRecordBytes.", [nameof(MaxEventBytes)]);
        var sasl = SecurityProtocol is SecurityProtocol.SaslPlaintext or SecurityProtocol.SaslSsl;
        if (sasl && SaslMechanism is null)
            yield return new ValidationResult($"Kafka:SecurityProtocol {SecurityProtocol} needs Kafka:SaslMechanism.", [nameof(SaslMechanism)]);
        if (SaslMechanism is not null and not Confluent.Kafka.SaslMechanism.OAuthBearer && string.IsNullOrEmpty(SaslUsername))
            yield return new ValidationResult("Kafka:SaslMechanism needs Kafka:SaslUsername and a password (Kafka:SaslPasswordFile).", [nameof(SaslUsername)]);
        if (!string.IsNullOrEmpty(SaslPasswordFile) && !File.Exists(SaslPasswordFile))
            yield return new ValidationResult($"Kafka:SaslPasswordFile '{SaslPasswordFile}' does not exist.", [nameof(SaslPasswordFile)]);
        foreach (var (name, file) in new[] { (nameof(SslCaLocation), SslCaLocation), (nameof(SslCertificateLocation), SslCertificateLocation), (nameof(SslKeyLocation), SslKeyLocation) })
            if (!string.IsNullOrEmpty(file) && !File.Exists(file))
                yield return new ValidationResult($"Kafka:{name} '{file}' does not exist.", [name]);
    }
}
