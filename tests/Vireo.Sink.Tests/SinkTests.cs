using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;
using Vireo.Messaging;
using Vireo.Storage;
using Vireo.Testing;

namespace Vireo.Sink.Tests;

/// <summary>The sink against the real dev broker and a real Postgres server.</summary>
public sealed class SinkTests
{
    private readonly string _video = "sink-" + Guid.NewGuid().ToString("N")[..10];

    private string Key => new VideoKey("acme", _video).ToString();

    [Fact]
    public async Task DuplicatedRecordsEndAsOneRowEachAndTheLatestStatus()
    {
        await using var db = await TemporaryDatabase.CreateAsync();
        await new Migrator(db.DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        var logs = new CapturingLoggerProvider();
        using var host = await StartSinkAsync(db.ConnectionString, logs);
        var publisher = host.Services.GetRequiredService<EventPublisher>();

        await publisher.PublishAsync(VireoTopics.VideoStatus, Key, Status(VideoState.Accepted, 1));
        for (var round = 0; round < 2; round++)
            foreach (var i in Enumerable.Range(0, 20))
                await publisher.PublishAsync(VireoTopics.FramesAnalyzed, Key, Frame(i));
        // A record under this video's key that speaks for another tenant is refused, and so is a frame under a key
        // of another video.
        await publisher.PublishAsync(VireoTopics.FramesAnalyzed, Key, Frame(20) with { TenantId = "globex" });
        await publisher.PublishAsync(VireoTopics.FramesAnalyzed, new VideoKey("acme", "other").ToString(), Frame(21));
        // Records no grain can have sent: a sequence that would freeze the video, an impossible frame index.
        await publisher.PublishAsync(VireoTopics.VideoStatus, Key, Status(VideoState.Processing, long.MaxValue));
        await publisher.PublishAsync(VireoTopics.FramesAnalyzed, Key, Frame(5_000_000));
        // Records the serializer alone would let through: nulls where the event has none, a state by an undefined
        // number; and one under a key of 200,000 characters, whose dead letter must still fit in a record.
        await PublishEditedAsync(publisher, VireoTopics.FramesAnalyzed, Key, Frame(22), json => json["tiles"] = new JsonArray((JsonNode?)null));
        await PublishEditedAsync(publisher, VireoTopics.FramesAnalyzed, Key, Frame(23), json => json["timings"] = null);
        await PublishEditedAsync(publisher, VireoTopics.VideoStatus, Key, Status(VideoState.Processing, 2), json => json["state"] = 7);
        await PublishEditedAsync(publisher, VireoTopics.FramesAnalyzed, new string('<', 200_000), Frame(24), _ => { });
        // A repeated frame whose trace headers have no value: no trace context, and written as any repeat.
        await publisher.PublishRawAsync(VireoTopics.FramesAnalyzed, Key, EventCodec.Serialize(Frame(7)),
            new Headers { { "traceparent", null }, { "tracestate", null } });
        await publisher.PublishAsync(VireoTopics.VideoStatus, Key, Status(VideoState.Completed, 30));
        await publisher.PublishAsync(VireoTopics.VideoStatus, Key, Status(VideoState.Processing, 12));

        await Eventually.WaitAsync(() => CountFrames(db.DataSource), n => n == 20, TimeSpan.FromSeconds(60), "20 frames in Postgres");
        await Eventually.WaitAsync(() => db.ScalarAsync<string>("select state from videos where video_id = $1", _video),
            s => s == "completed", TimeSpan.FromSeconds(30), "the video completed");
        // The completion travels on the status topic: the frame topic's last records may still be on their way.
        await Eventually.WaitAsync(() => Task.FromResult(logs.Lines.Count(l => l.Contains("Dead-lettering"))), n => n >= 8,
            TimeSpan.FromSeconds(60), "eight records dead-lettered");
        await host.StopAsync();
        Assert.Equal(20L, await CountFrames(db.DataSource));
        Assert.Equal(30L, await db.ScalarAsync<long>("select status_sequence from videos where video_id = $1", _video));
        Assert.Equal(0L, await db.ScalarAsync<long>("select count(*) from frames where frame_index >= 20"));
        Assert.Contains(logs.Lines, l => l.Contains("beyond what its grain can have issued"));
        Assert.Contains(logs.Lines, l => l.Contains("frame index 5000000 is out of range"));
        Assert.Contains(logs.Lines, l => l.Contains("tiles holds a null"));
        Assert.Contains(logs.Lines, l => l.Contains("state 7 is not a video state"));
        Assert.Contains(logs.Lines, l => l.Contains("malformed JSON") && l.Contains("timings"));
        Assert.Equal(0L, await db.ScalarAsync<long>("select count(*) from videos where tenant_id = 'globex' or video_id = 'other'"));
    }

    [Fact]
    public async Task ABatchPostgresRefusesIsWrittenRecordByRecordWithTheSameChecksAndTheRefusedOnesDeadLettered()
    {
        await using var db = await TemporaryDatabase.CreateAsync();
        await new Migrator(db.DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        var logs = new CapturingLoggerProvider();
        // Published before the sink starts, so that its first batch holds them all: a caption Postgres refuses (a NUL
        // in text) fails the batch, and a status with a forged sequence rides in the same batch.
        using var host = await StartSinkAsync(db.ConnectionString, logs, async publisher =>
        {
            await publisher.PublishAsync(VireoTopics.VideoStatus, Key, Status(VideoState.Accepted, 1));
            foreach (var i in Enumerable.Range(0, 3))
                await publisher.PublishAsync(VireoTopics.FramesAnalyzed, Key, Frame(i));
            await publisher.PublishAsync(VireoTopics.FramesAnalyzed, Key, Frame(3) with { Caption = "nul\u0000byte" });
            await publisher.PublishAsync(VireoTopics.VideoStatus, Key, Status(VideoState.Processing, 1_000_000));
            await publisher.PublishAsync(VireoTopics.VideoStatus, Key, Status(VideoState.Completed, 5));
        });

        await Eventually.WaitAsync(() => db.ScalarAsync<string>("select state from videos where video_id = $1", _video),
            s => s == "completed", TimeSpan.FromSeconds(60), "the video completed");
        await Eventually.WaitAsync(() => Task.FromResult(logs.Lines.Count(l => l.Contains("Dead-lettering"))), n => n >= 2,
            TimeSpan.FromSeconds(60), "two records dead-lettered");
        await host.StopAsync();
        Assert.Contains(logs.Lines, l => l.Contains("writing them one by one"));
        Assert.Contains(logs.Lines, l => l.Contains("refused by Postgres"));
        Assert.Contains(logs.Lines, l => l.Contains("beyond what its grain can have issued"));
        Assert.Equal(5L, await db.ScalarAsync<long>("select status_sequence from videos where video_id = $1", _video));
        Assert.Equal(3L, await CountFrames(db.DataSource));
    }

    [Fact]
    public async Task NothingIsLostWhilePostgresRestarts()
    {
        await using var server = await PrivatePostgres.StartAsync();
        await using var dataSource = NpgsqlDataSource.Create(server.ConnectionString);
        await new Migrator(dataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        var logs = new CapturingLoggerProvider();
        using var host = await StartSinkAsync(server.ConnectionString, logs);
        var publisher = host.Services.GetRequiredService<EventPublisher>();

        foreach (var i in Enumerable.Range(0, 10))
            await publisher.PublishAsync(VireoTopics.FramesAnalyzed, Key, Frame(i));
        await Eventually.WaitAsync(() => CountFrames(dataSource), n => n == 10, TimeSpan.FromSeconds(60), "the first 10 frames in Postgres");

        server.Stop();
        foreach (var i in Enumerable.Range(10, 15))
            await publisher.PublishAsync(VireoTopics.FramesAnalyzed, Key, Frame(i));
        await publisher.PublishAsync(VireoTopics.VideoStatus, Key, Status(VideoState.Completed, 5));
        await Eventually.WaitAsync(() => Task.FromResult(logs.Lines.Count(l => l.Contains("retrying in"))), n => n >= 2,
            TimeSpan.FromSeconds(60), "the sink retrying against the stopped server");

        await server.StartAgainAsync();
        await Eventually.WaitAsync(() => CountFrames(dataSource), n => n == 25, TimeSpan.FromSeconds(60), "all 25 frames in Postgres");
        await Eventually.WaitAsync(async () =>
        {
            await using var c = dataSource.CreateCommand($"select state from videos where video_id = '{_video}'");
            return (string?)await c.ExecuteScalarAsync();
        }, s => s == "completed", TimeSpan.FromSeconds(30), "the completion written");
        await host.StopAsync();
    }

    private async Task<long> CountFrames(NpgsqlDataSource dataSource)
    {
        try
        {
            await using var command = dataSource.CreateCommand("select count(*) from frames where video_id = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = _video });
            return (long)(await command.ExecuteScalarAsync())!;
        }
        catch (NpgsqlException)
        {
            return -1;
        }
    }

    private static async Task<IHost> StartSinkAsync(string connectionString, CapturingLoggerProvider logs, Func<EventPublisher, Task>? beforeStart = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = LocalStack.KafkaBootstrapServers,
            ["Kafka:TopicPrefix"] = $"test-{Guid.NewGuid():N}.",
            ["ConnectionStrings:Postgres"] = connectionString,
            ["Sink:GroupId"] = "sink-test-" + Guid.NewGuid().ToString("N"),
            ["Sink:RetryDelayMs"] = "100",
            ["Sink:MaxRetryDelayMs"] = "500",
        });
        builder.Logging.ClearProviders().AddProvider(logs);
        builder.AddVireoSink();
        var host = builder.Build();
        if (beforeStart is not null)
            await beforeStart(host.Services.GetRequiredService<EventPublisher>());
        await host.StartAsync();
        return host;
    }

    /// <summary>Publishes <paramref name="value"/> as JSON after <paramref name="edit"/> has changed it.</summary>
    private static Task PublishEditedAsync<T>(EventPublisher publisher, string topic, string key, T value, Action<JsonObject> edit) where T : class
    {
        var json = JsonNode.Parse(EventCodec.Serialize(value))!.AsObject();
        edit(json);
        return publisher.PublishRawAsync(topic, key, Encoding.UTF8.GetBytes(json.ToJsonString()));
    }

    private FrameAnalyzed Frame(int index) => new()
    {
        VideoId = _video,
        TenantId = "acme",
        FrameIndex = index,
        TimestampSeconds = index / 2.0,
        Reasons = "interval",
        Caption = "green square",
        Text = "",
        Tiles = [new TileDecision(0, true, 0.8, 64)],
        TokensBefore = 256,
        TokensAfter = 64,
        Timings = new StageTimings(1, 1, 1),
    };

    private VideoStatusChanged Status(VideoState state, long sequence) => new()
    {
        VideoId = _video,
        TenantId = "acme",
        State = state,
        Sequence = sequence,
        At = DateTimeOffset.UtcNow,
    };
}
