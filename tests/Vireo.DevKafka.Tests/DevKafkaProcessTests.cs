using System.Diagnostics;
using Confluent.Kafka;
using Vireo.Messaging;

namespace Vireo.DevKafka.Tests;

/// <summary>Starts the dev broker as its own process and talks to it as any other Vireo process would.</summary>
public sealed class DevKafkaProcessTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("vireo-devkafka-").FullName;
    private Process? _broker;
    private string BootstrapFile => Path.Combine(_folder, "bootstrap");

    public async Task InitializeAsync()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "Vireo.DevKafka.dll"), $"--DevKafka:BootstrapFile={BootstrapFile}" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _folder,
        };
        _broker = Process.Start(start)!;
        _broker.OutputDataReceived += (_, _) => { };
        _broker.ErrorDataReceived += (_, _) => { };
        _broker.BeginOutputReadLine();
        _broker.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(BootstrapFile))
        {
            Assert.False(_broker.HasExited, "the dev broker exited before publishing its address");
            Assert.True(DateTime.UtcNow < deadline, "the dev broker did not publish its address within 30 s");
            await Task.Delay(50);
        }
    }

    public Task DisposeAsync()
    {
        if (_broker is { HasExited: false })
        {
            _broker.Kill(entireProcessTree: true);
            _broker.WaitForExit(10_000);
        }
        _broker?.Dispose();
        Directory.Delete(_folder, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public void CreatesEveryPipelineTopicWithItsPartitionCount()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Bootstrap() }).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
        foreach (var topic in VireoTopics.All)
        {
            var found = metadata.Topics.SingleOrDefault(t => t.Topic == topic.Name);
            Assert.NotNull(found);
            Assert.Equal(topic.Partitions, found.Partitions.Count);
        }
    }

    [Fact]
    public void KeyedMessagesRoundTripThroughAConsumerGroupInOrder()
    {
        var bootstrap = Bootstrap();
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true }).Build();
        for (var i = 0; i < 5; i++)
            producer.Produce(VireoTopics.VideoStatus, new Message<string, string> { Key = "video-42", Value = $"event-{i}" });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "devkafka-test",
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe(VireoTopics.VideoStatus);
        var received = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (received.Count < 5 && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (result is null) continue;
            Assert.Equal("video-42", result.Message.Key);
            received.Add(result.Message.Value);
        }
        consumer.Close();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"event-{i}"), received);
    }

    [Fact]
    public async Task RemovesItsAddressFileWhenStopped()
    {
        Bootstrap();
        Process.Start("kill", ["-TERM", _broker!.Id.ToString()]).WaitForExit();
        await _broker.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);
        Assert.False(File.Exists(BootstrapFile));
    }

    private string Bootstrap()
    {
        var bootstrap = File.ReadAllText(BootstrapFile).Trim();
        Assert.Matches(@"^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*$", bootstrap);
        return bootstrap;
    }
}
