using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Vireo.Messaging;
using Vireo.Storage;
using Vireo.Testing;

namespace Vireo.EndToEnd.Tests;

/// <summary>
/// A whole pipeline of real processes for one test class: silo processes with the given roles, a sink process,
/// a database of its own, and topics under a prefix of its own on the shared dev broker and Redis.
/// </summary>
public sealed class PipelineCluster : IAsyncDisposable
{
    private readonly string _id = Guid.NewGuid().ToString("N")[..10];
    private readonly ConcurrentDictionary<string, ManagedProcess> _processes = new();
    private TemporaryDatabase _database = null!;
    private (string Key, string Value)[] _siloSettings = [];

    public string MediaRoot { get; } = Directory.CreateTempSubdirectory("vireo-e2e-media-").FullName;

    /// <summary>Where each process writes its URL file and its spans (one JSON line each).</summary>
    public string RunFolder { get; } = Directory.CreateTempSubdirectory("vireo-e2e-run-").FullName;
    public string TopicPrefix => $"e2e-{_id}.";
    public NpgsqlDataSource Database => _database.DataSource;
    public EventPublisher Publisher { get; private set; } = null!;
    public KafkaOptions Kafka { get; private set; } = null!;

    /// <summary>Starts the silos (name, roles) and the sink; <paramref name="siloSettings"/> go to every silo.</summary>
    public static async Task<PipelineCluster> StartAsync((string Name, string Roles)[] silos, params (string Key, string Value)[] siloSettings)
    {
        var cluster = new PipelineCluster { _siloSettings = siloSettings };
        try
        {
            cluster._database = await TemporaryDatabase.CreateAsync();
            await new Migrator(cluster._database.DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
            cluster.Kafka = new KafkaOptions { BootstrapServers = LocalStack.KafkaBootstrapServers, TopicPrefix = cluster.TopicPrefix };
            cluster.Publisher = new EventPublisher(Options.Create(cluster.Kafka), NullLogger<EventPublisher>.Instance);
            await Task.WhenAll(silos.Select(s => cluster.StartSiloAsync(s.Name, s.Roles)).Append(cluster.StartSinkAsync()));
            return cluster;
        }
        catch
        {
            // A cluster that fails to start must not leave processes behind.
            await cluster.DisposeAsync();
            throw;
        }
    }

    public Task StartSiloAsync(string name, string roles) => Start(name, "Vireo.Silo.dll", [
        ("Silo__Name", name), ("Silo__Roles", roles), ("Silo__ClusterId", $"e2e-{_id}"), ("Silo__ServiceId", $"e2e-{_id}"),
        ("Pipeline__MediaRoot", MediaRoot), ("Pipeline__ResumeCheckSeconds", "2"), ("Pipeline__DefaultMaxTiles", "2"),
        ("Workers__ModelPath", Repository.ShippedModel), ("Workers__Device", "cpu"), ("Ingest__GroupId", $"e2e-{_id}-ingest"), .. _siloSettings]);

    private Task StartSinkAsync() => Start("sink", "Vireo.Sink.dll", [("Sink__GroupId", $"e2e-{_id}-sink")]);

    /// <summary>Starts one more sink with its own settings and group, and returns once it listens (ready or not).</summary>
    public Task StartExtraSinkAsync(string name, params (string Key, string Value)[] settings) =>
        Start(name, "Vireo.Sink.dll", [("Sink__GroupId", $"e2e-{_id}-{name}"), .. settings], waitReady: false);

    /// <summary>The health and metrics endpoints of a process.</summary>
    public HealthEndpoints Endpoints(string name) => new(Path.Combine(RunFolder, name + ".url"));

    /// <summary>The file a process writes its finished spans to.</summary>
    public string SpanFile(string name) => Path.Combine(RunFolder, name + ".spans.jsonl");

    public IEnumerable<string> ProcessNames => _processes.Keys;

    /// <summary>Ends a process the way a crash would: SIGKILL, no shutdown.</summary>
    public void Kill(string name)
    {
        Assert.True(_processes.TryRemove(name, out var process), $"no process named {name}");
        process.Kill();
    }

    public bool IsRunning(string name) => _processes.ContainsKey(name);

    public string Logs(string name) => _processes.TryGetValue(name, out var p) ? p.Output : "";

    /// <summary>The shared libraries a process has mapped, from /proc: what it actually loaded.</summary>
    public string MappedLibraries(string name) => _processes.TryGetValue(name, out var p) ? File.ReadAllText($"/proc/{p.Id}/maps") : "";

    /// <summary>Places a file under the media root and returns the source to name in an upload event.</summary>
    public string AddMedia(string file)
    {
        var name = Path.GetFileName(file);
        File.Copy(file, Path.Combine(MediaRoot, name), overwrite: true);
        return name;
    }

    public Task UploadAsync(string videoId, string source, AnalysisRequestOptions? options = null, string tenant = "e2e") =>
        Publisher.PublishAsync(VireoTopics.VideoUploaded, new VideoKey(tenant, videoId).ToString(), new VideoUploaded
        {
            VideoId = videoId,
            TenantId = tenant,
            Source = source,
            Options = options,
            SubmittedAt = DateTimeOffset.UtcNow,
        });

    public Task<T> QueryAsync<T>(string sql, params object[] parameters) => Database.ScalarAsync<T>(sql, parameters);

    public Task<List<T>> ListAsync<T>(string sql, params object[] parameters) => Database.ListAsync<T>(sql, parameters);

    /// <summary>Waits until Postgres says the video reached a final state, and returns it.</summary>
    public Task<string?> WaitFinishedAsync(string videoId, TimeSpan timeout, string tenant = "e2e") =>
        Eventually.WaitAsync(() => QueryAsync<string?>("select state from videos where tenant_id = $1 and video_id = $2", tenant, videoId),
            s => s is "completed" or "failed", timeout, $"video {tenant}/{videoId} finished");

    /// <summary>The first record of a topic that matches, as it appears on Kafka (before the sink stores it).</summary>
    public async Task<string> FirstRecordAsync(string logicalTopic, Func<string?, string, bool> match, TimeSpan timeout)
    {
        using var consumer = OpenReader(logicalTopic);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            try
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
                if (r?.Message is not null && match(r.Message.Key, r.Message.Value))
                    return r.Message.Value;
            }
            catch (ConsumeException)
            {
            }
            await Task.Yield();
        }
        throw new TimeoutException($"no matching record on {logicalTopic} within {timeout.TotalSeconds:0} s");
    }

    /// <summary>Every record of a pipeline topic so far, decoded as text.</summary>
    public List<(string? Key, string Value)> ReadTopic(string logicalTopic, TimeSpan quiet)
    {
        using var consumer = OpenReader(logicalTopic);
        var records = new List<(string?, string)>();
        var lastSeen = Stopwatch.StartNew();
        var deadline = Stopwatch.StartNew();
        while (lastSeen.Elapsed < quiet && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (r?.Message is null) continue;
                records.Add((r.Message.Key, r.Message.Value));
                lastSeen.Restart();
            }
            catch (ConsumeException)
            {
            }
        }
        return records;
    }

    // Assigned rather than subscribed: no group join to wait for, every partition from its start.
    private IConsumer<string, string> OpenReader(string logicalTopic)
    {
        var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = Kafka.BootstrapServers,
            GroupId = $"e2e-reader-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Kafka.BootstrapServers }).Build();
        var topic = admin.GetMetadata(Kafka.Topic(logicalTopic), TimeSpan.FromSeconds(10)).Topics.Single();
        consumer.Assign(topic.Partitions.Select(p => new TopicPartitionOffset(topic.Topic, p.PartitionId, Offset.Beginning)));
        return consumer;
    }

    private async Task Start(string name, string dll, (string Key, string Value)[] environment, bool waitReady = true)
    {
        var endpoints = Endpoints(name);
        var process = new ManagedProcess(name, Path.Combine(AppContext.BaseDirectory, dll), [
            ("ConnectionStrings__Postgres", _database.ConnectionString),
            ("ConnectionStrings__Redis", LocalStack.RedisConnectionString),
            ("Kafka__BootstrapServers", Kafka.BootstrapServers!),
            ("Kafka__TopicPrefix", TopicPrefix),
            ("Logging__LogLevel__Default", "Information"),
            ("Logging__LogLevel__Orleans", "Warning"),
            ("Logging__LogLevel__Orleans.Runtime.Silo", "Information"),
            ("Http__Port", "0"),
            ("Http__UrlFile", endpoints.UrlFile),
            ("Telemetry__TraceFile", SpanFile(name)),
            ("Kafka__StatisticsIntervalMs", "1000"),
            .. environment]);
        _processes[name] = process;
        if (waitReady)
            await process.WaitUntilAsync(endpoints.IsReadyAsync, "/readyz answering 200", TimeSpan.FromSeconds(120));
        else
            await process.WaitUntilAsync(async () => await endpoints.GetAsync("/healthz") is not null, "/healthz answering", TimeSpan.FromSeconds(120));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes.Values)
            process.Kill();
        Publisher?.Dispose();
        if (_database is not null)
            await _database.DisposeAsync();
        Directory.Delete(MediaRoot, recursive: true);
        Directory.Delete(RunFolder, recursive: true);
    }
}

/// <summary>A child process whose output is kept, so that a test can wait for a line and show the log on failure.</summary>
public sealed class ManagedProcess
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();
    private readonly string _name;

    public ManagedProcess(string name, string dll, IEnumerable<(string Key, string Value)> environment)
    {
        _name = name;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(dll);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output { get { lock (_output) return _output.ToString(); } }

    public int Id => _process.Id;

    /// <summary>Waits until a condition about the process holds, failing early with its log if it exits.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{_name} exited with {_process.ExitCode} before {what}:\n{Tail()}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{_name}: no {what} within {timeout.TotalSeconds:0} s:\n{Tail()}");
            await Task.Delay(100);
        }
    }

    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
    }

    private string Tail()
    {
        var lines = Output.Split('\n');
        return string.Join('\n', lines[Math.Max(0, lines.Length - 40)..]);
    }
}
