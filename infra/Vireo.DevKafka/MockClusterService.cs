using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Vireo.Messaging;

namespace Vireo.DevKafka;

/// <summary>
/// Hosts librdkafka's mock cluster for the lifetime of the process: creates the pipeline's topics, then
/// publishes the bootstrap address in a file that the other local processes read.
/// </summary>
public sealed class MockClusterService(IOptions<DevKafkaOptions> options, ILogger<MockClusterService> logger) : IHostedService
{
    private IProducer<byte[], byte[]>? _owner;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var config = new ProducerConfig
        {
            BootstrapServers = "",
            ClientId = "vireo-devkafka",
        };
        config.Set("test.mock.num.brokers", settings.Brokers.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _owner = new ProducerBuilder<byte[], byte[]>(config)
            .SetLogHandler((_, message) => logger.LogDebug("librdkafka {Facility}: {Message}", message.Facility, message.Message))
            .Build();

        var mock = new LibrdkafkaMock(_owner.Handle);
        foreach (var topic in VireoTopics.All)
        {
            mock.CreateTopic(topic.Name, topic.Partitions, Math.Min(settings.Brokers, 3));
            logger.LogInformation("Created topic {Topic} with {Partitions} partitions", topic.Name, topic.Partitions);
        }

        var bootstrap = mock.Bootstraps;
        var path = Path.GetFullPath(settings.BootstrapFile);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, bootstrap + "\n");
        File.Move(temporary, path, overwrite: true);
        logger.LogInformation("Kafka-protocol dev broker listening on {Bootstrap}; address written to {File}", bootstrap, path);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(options.Value.BootstrapFile);
        if (File.Exists(path))
            File.Delete(path);
        _owner?.Dispose();
        logger.LogInformation("Kafka-protocol dev broker stopped");
        return Task.CompletedTask;
    }
}
