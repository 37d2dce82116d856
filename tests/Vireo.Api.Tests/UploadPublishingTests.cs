using System.Net;
using System.Net.Http.Headers;
using Confluent.Kafka;
using Vireo.DevKafka;
using Vireo.Testing;

namespace Vireo.Api.Tests;

/// <summary>
/// What an upload's answer says about its event, on an API whose Kafka is a broker of the test's own (librdkafka's
/// mock cluster, hosted in this process), so that the broker can be taken away and brought back.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class UploadPublishingTests(ApiCluster cluster)
{
    [Fact]
    public async Task AnUploadAnsweredUnavailableHasNoEventEvenOnceTheBrokerIsBack()
    {
        using var broker = new MockBroker();
        var prefix = $"mock-{Guid.NewGuid():N}.";
        // One partition: events are delivered in the order they were produced, so once a later one is there, an
        // earlier one that is not will never come.
        broker.CreateTopic(prefix + "video.uploaded", partitions: 1);
        var api = await cluster.StartApiAsync("api-mock-broker",
            ("Kafka__BootstrapServers", broker.Bootstraps), ("Kafka__TopicPrefix", prefix), ("Api__PublishTimeoutSeconds", "5"));
        var tenant = ApiCluster.NewTenant();
        using var client = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(180) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await cluster.CreateKeyAsync(tenant)).Secret);
        var clip = await File.ReadAllBytesAsync(cluster.Clip);

        broker.SetDown();
        Assert.Contains("retry after", await Http.AssertProblemAsync(await Http.UploadAsync(client, clip, idempotencyKey: "one-video"), HttpStatusCode.ServiceUnavailable));
        Assert.Equal(0L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1", tenant));
        Assert.False(Directory.Exists(Path.Combine(cluster.MediaRoot, "uploads", tenant)) && Directory.EnumerateFiles(Path.Combine(cluster.MediaRoot, "uploads", tenant)).Any());

        // With the broker back, the client's retry (with the same key) makes the video, and its event is the only one.
        broker.SetUp();
        var id = await Eventually.WaitAsync(async () =>
        {
            using var retry = await Http.UploadAsync(client, clip, idempotencyKey: "one-video");
            return retry.StatusCode == HttpStatusCode.Accepted ? (await Http.JsonAsync(retry)).GetProperty("id").GetString() : null;
        }, id => id is not null, TimeSpan.FromSeconds(120), "an upload accepted once the broker is back");
        Assert.Equal([$"{tenant}/{id}"], ApiCluster.UploadEventKeys(broker.Bootstraps, prefix));
        Assert.Equal(1L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1", tenant));
    }

    /// <summary>A mock cluster of one broker, owned by a client of this process.</summary>
    private sealed class MockBroker : IDisposable
    {
        private const int BrokerId = 1;
        private readonly IProducer<byte[], byte[]> _owner;
        private readonly LibrdkafkaMock _mock;

        public MockBroker()
        {
            var config = new ProducerConfig { BootstrapServers = "", ClientId = "vireo-api-tests-broker" };
            config.Set("test.mock.num.brokers", "1");
            _owner = new ProducerBuilder<byte[], byte[]>(config).Build();
            _mock = new LibrdkafkaMock(_owner.Handle);
        }

        public string Bootstraps => _mock.Bootstraps;

        public void CreateTopic(string name, int partitions) => _mock.CreateTopic(name, partitions, replicationFactor: 1);

        /// <summary>Closes the broker's connections and refuses new ones.</summary>
        public void SetDown() => _mock.SetBrokerDown(BrokerId);

        public void SetUp() => _mock.SetBrokerUp(BrokerId);

        public void Dispose() => _owner.Dispose();
    }
}
