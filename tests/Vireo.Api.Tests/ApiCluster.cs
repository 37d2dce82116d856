using System.Diagnostics;
using System.Net.Http.Headers;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Vireo.Media;
using Vireo.Storage;
using Vireo.Testing;

namespace Vireo.Api.Tests;

/// <summary>
/// The results API with the real parts behind it: a silo with every role, the sink and the API as processes, a
/// database of their own, and topics under a prefix of their own on the stack's dev broker. Uploads are small (1 MiB)
/// and rate limits low, so the limits can be reached quickly; a quiet event stream sends a heartbeat each second; keys are checked on every request.
/// </summary>
public sealed class ApiCluster : IAsyncLifetime
{
    public const long MaxUploadBytes = 1024 * 1024;
    public const int RequestsPerSecond = 1;
    public const int Burst = 40;

    private readonly string _id = Guid.NewGuid().ToString("N")[..10];
    private readonly List<Process> _processes = [];
    private readonly System.Text.StringBuilder _logs = new();
    private TemporaryDatabase _database = null!;

    public string MediaRoot { get; } = Directory.CreateTempSubdirectory("vireo-api-media-").FullName;
    public string RunFolder { get; } = Directory.CreateTempSubdirectory("vireo-api-run-").FullName;
    public string ClipFolder { get; } = Directory.CreateTempSubdirectory("vireo-api-clips-").FullName;

    /// <summary>The folder blob store the media silo writes thumbnails to and the API reads them from.</summary>
    public string BlobRoot { get; } = Directory.CreateTempSubdirectory("vireo-api-blobs-").FullName;
    public string TopicPrefix => $"api-{_id}.";
    public NpgsqlDataSource Database => _database.DataSource;
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>A 2-second clip the pipeline reads quickly, and a text file that is no video.</summary>
    public string Clip => Path.Combine(ClipFolder, "clip.mp4");

    public async Task InitializeAsync()
    {
        _database = await TemporaryDatabase.CreateAsync();
        await new Migrator(_database.DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        await SyntheticClips.RunFfmpegAsync(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2", "-c:v", "libx264", "-g", "25",
            "-pix_fmt", "yuv420p", "-y", Clip]);
        Start("silo", "Vireo.Silo.dll", ("Silo__Name", "all"), ("Silo__Roles", "media,vision,language"), ("Silo__ClusterId", $"api-{_id}"),
            ("Silo__ServiceId", $"api-{_id}"), ("Pipeline__MediaRoot", MediaRoot), ("Pipeline__DefaultMaxTiles", "2"),
            ("Workers__ModelPath", Repository.ShippedModel), ("Workers__Device", "cpu"), ("Ingest__GroupId", $"api-{_id}-ingest"));
        Start("sink", "Vireo.Sink.dll", ("Sink__GroupId", $"api-{_id}-sink"));
        Start("api", "Vireo.Api.dll", ("Pipeline__MediaRoot", MediaRoot), ("Api__MaxUploadBytes", MaxUploadBytes.ToString()),
            ("Api__RequestsPerSecond", RequestsPerSecond.ToString()), ("Api__Burst", Burst.ToString()), ("Api__KeyCacheSeconds", "0"),
            ("Api__EventPollMs", "100"), ("Api__EventHeartbeatSeconds", "1"));
        foreach (var name in new[] { "api", "sink", "silo" })
        {
            var endpoints = new HealthEndpoints(Path.Combine(RunFolder, name + ".url"));
            await Eventually.WaitAsync(async () => _processes.Any(p => p.HasExited) ? throw new InvalidOperationException($"a process exited:\n{Logs}") : await IsReadyAsync(endpoints),
                ready => ready, TimeSpan.FromSeconds(240), $"{name} ready");
            if (name == "api")
                BaseAddress = new Uri(endpoints.BaseUrl!);
        }
    }

    /// <summary>Another API process on the same database and topics, with settings of its own; its base address once it is ready.</summary>
    public async Task<Uri> StartApiAsync(string name, params (string Key, string Value)[] settings)
    {
        Start(name, "Vireo.Api.dll", [("Pipeline__MediaRoot", MediaRoot), ("Api__KeyCacheSeconds", "0"), .. settings]);
        var endpoints = new HealthEndpoints(Path.Combine(RunFolder, name + ".url"));
        await Eventually.WaitAsync(async () => _processes.Any(p => p.HasExited) ? throw new InvalidOperationException($"a process exited:\n{Logs}") : await IsReadyAsync(endpoints),
            ready => ready, TimeSpan.FromSeconds(120), $"{name} ready");
        return new Uri(endpoints.BaseUrl!);
    }

    // A loaded machine may take longer than the probe's own timeout to answer; that is "not ready yet".
    private static async Task<bool> IsReadyAsync(HealthEndpoints endpoints)
    {
        try
        {
            return await endpoints.IsReadyAsync();
        }
        catch (TaskCanceledException)
        {
            return false;
        }
    }

    public string Logs { get { lock (_logs) return _logs.ToString(); } }

    /// <summary>A client with a new key of the tenant, or with no key.</summary>
    public async Task<HttpClient> ClientAsync(string? tenant)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (tenant is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await CreateKeyAsync(tenant)).Secret);
        return client;
    }

    public Task<NewApiKey> CreateKeyAsync(string tenant) => new ApiKeyStore(Database).CreateAsync(tenant, "test");

    public static string NewTenant() => "t" + Guid.NewGuid().ToString("N")[..12];

    public Task<T> QueryAsync<T>(string sql, params object[] parameters) => Database.ScalarAsync<T>(sql, parameters);

    /// <summary>The keys of the upload events published so far: every record up to each partition's end.</summary>
    public List<string> UploadEventKeys() => UploadEventKeys(LocalStack.KafkaBootstrapServers, TopicPrefix);

    /// <summary>The keys of the upload events on a broker, under a topic prefix, up to each partition's end.</summary>
    public static List<string> UploadEventKeys(string bootstrap, string topicPrefix)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = $"api-reader-{Guid.NewGuid():N}",
            EnableAutoCommit = false,
        }).Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        var topic = admin.GetMetadata(topicPrefix + "video.uploaded", TimeSpan.FromSeconds(10)).Topics.Single();
        var partitions = topic.Partitions.Select(p => new TopicPartition(topic.Topic, p.PartitionId)).ToList();
        // Read to the end as it is now, however slowly the first fetch comes on a loaded machine.
        var ends = partitions.ToDictionary(p => p, p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(p, Offset.Beginning)));
        var keys = new List<string>();
        var deadline = Stopwatch.StartNew();
        var remaining = ends.Where(e => e.Value > 0).Select(e => e.Key).ToHashSet();
        while (remaining.Count > 0)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                throw new TimeoutException($"upload events not read to their end within 60 s: {string.Join(", ", remaining)}");
            try
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } message } result)
                {
                    keys.Add(message.Key);
                    if (result.Offset.Value + 1 >= ends[result.TopicPartition])
                        remaining.Remove(result.TopicPartition);
                }
            }
            catch (ConsumeException)
            {
            }
        }
        return keys;
    }

    private void Start(string name, string dll, params (string Key, string Value)[] settings)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var (key, value) in new (string, string)[]
                 {
                     ("ConnectionStrings__Postgres", _database.ConnectionString), ("ConnectionStrings__Redis", LocalStack.RedisConnectionString),
                     ("Kafka__BootstrapServers", LocalStack.KafkaBootstrapServers), ("Kafka__TopicPrefix", TopicPrefix),
                     ("Http__Port", "0"), ("Http__UrlFile", Path.Combine(RunFolder, name + ".url")), ("Logging__LogLevel__Orleans", "Warning"),
                     ("Blobs__Kind", "folder"), ("Blobs__Root", BlobRoot),
                 }.Concat(settings))
            start.Environment[key] = value;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_logs) _logs.AppendLine($"{name}: {e.Data}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_logs) _logs.AppendLine($"{name}: {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
    }

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
        if (_database is not null)
            await _database.DisposeAsync();
        foreach (var folder in new[] { MediaRoot, RunFolder, ClipFolder, BlobRoot })
            Directory.Delete(folder, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiCluster>
{
    public const string Name = "api";
}
