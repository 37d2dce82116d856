using System.ComponentModel.DataAnnotations;

namespace Vireo.DevKafka;

/// <summary>Settings of the local Kafka-protocol broker (section "DevKafka").</summary>
public sealed class DevKafkaOptions
{
    public const string Section = "DevKafka";

    /// <summary>Number of mock brokers in the cluster.</summary>
    [Range(1, 5)]
    public int Brokers { get; set; } = 1;

    /// <summary>File that receives the bootstrap address once every topic exists; removed on shutdown.</summary>
    [Required]
    public string BootstrapFile { get; set; } = ".state/kafka/bootstrap";
}
