using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Vireo.Testing;

namespace Vireo.EndToEnd.Tests;

/// <summary>Health endpoints, metrics and traces of the pipeline's processes, on the shared cluster.</summary>
[Collection(PipelineCollection.Name)]
public sealed class OperationsTests(PipelineFixture fixture)
{
    private readonly PipelineCluster _cluster = fixture.Cluster;

    [Fact]
    public async Task EveryProcessIsLiveAndReady()
    {
        foreach (var name in _cluster.ProcessNames)
        {
            var endpoints = _cluster.Endpoints(name);
            Assert.Equal(HttpStatusCode.OK, (await endpoints.GetAsync("/healthz"))?.Status);
            var ready = await endpoints.GetAsync("/readyz");
            Assert.True(ready?.Status == HttpStatusCode.OK, $"{name} is not ready: {ready?.Body}");
        }
        // A GPU silo is ready only as a cluster member whose readiness gate (its model loaded) is open.
        var gpu = JsonDocument.Parse((await _cluster.Endpoints("gpu").GetAsync("/readyz"))!.Value.Body).RootElement.GetProperty("checks");
        Assert.Equal("Healthy", gpu.GetProperty("membership").GetProperty("status").GetString());
        Assert.Equal("Healthy", gpu.GetProperty("gate").GetProperty("status").GetString());
    }

    [Fact]
    public async Task ASinkThatCannotReachPostgresIsLiveButNotReady()
    {
        await _cluster.StartExtraSinkAsync("sink-no-postgres",
            ("ConnectionStrings__Postgres", $"Host=127.0.0.1;Port={ClosedPort()};Username=vireo;Password=x;Database=vireo;Timeout=2"));
        try
        {
            var endpoints = _cluster.Endpoints("sink-no-postgres");
            Assert.Equal(HttpStatusCode.OK, (await endpoints.GetAsync("/healthz"))?.Status);
            var ready = await endpoints.GetAsync("/readyz");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready?.Status);
            var checks = JsonDocument.Parse(ready!.Value.Body).RootElement.GetProperty("checks");
            Assert.Equal("Unhealthy", checks.GetProperty("postgres").GetProperty("status").GetString());
            Assert.Equal("Healthy", checks.GetProperty("kafka").GetProperty("status").GetString());
        }
        finally
        {
            _cluster.Kill("sink-no-postgres");
        }
    }

    [Fact]
    public async Task OneVideoIsOneTraceAcrossProcessesAndShowsInTheMetrics()
    {
        await _cluster.UploadAsync("video-traced", _cluster.AddMedia(await Clips.MakeAsync("traced.mp4", 1.5)));
        Assert.Equal("completed", await _cluster.WaitFinishedAsync("video-traced", TimeSpan.FromMinutes(3)));

        // The upload event carries no trace context, so the ingest consumer's span is the root of the video's trace.
        var trace = await Eventually.WaitAsync(() => Task.FromResult(Spans("media")
                .FirstOrDefault(s => s.Name == "ingest.upload" && s.Tags.GetValueOrDefault("vireo.video_id") == "video-traced")?.TraceId),
            id => id is not null, TimeSpan.FromSeconds(30), "the ingest span of the video");
        await Eventually.WaitAsync(() => Task.FromResult(Describe(trace!)),
            d => d.Contains("media:video.analyze") && d.Contains("gpu:") && d.Contains("sink:sink.consume"),
            TimeSpan.FromSeconds(30), "spans of the media silo, the GPU silo and the sink in the video's trace");

        var media = await Eventually.WaitAsync(() => Scrape("media"),
            m => m.Contains("vireo_frames_analyzed_total") && m.Contains("vireo_kafka_consumer_lag{"), TimeSpan.FromSeconds(30), "frame metrics of the media silo");
        Assert.Contains("vireo_stage_duration_milliseconds_bucket{", media);
        Assert.Contains("vireo_visual_tokens_after_total", media);
        var sink = await Eventually.WaitAsync(() => Scrape("sink"),
            m => m.Contains("vireo_sink_records_written_total") && m.Contains("vireo_kafka_consumer_lag{"), TimeSpan.FromSeconds(30), "sink metrics");
        Assert.Contains("vireo_sink_batch_size_bucket", sink);
        Assert.Matches("dotnet_gc_collections", sink);
    }

    private string Describe(string traceId) =>
        string.Join(' ', _cluster.ProcessNames.SelectMany(p => Spans(p).Where(s => s.TraceId == traceId).Select(s => $"{p}:{s.Name}")));

    private async Task<string> Scrape(string process) => (await _cluster.Endpoints(process).GetAsync("/metrics"))?.Body ?? "";

    private sealed record Span(string TraceId, string Name, Dictionary<string, string> Tags);

    private List<Span> Spans(string process)
    {
        var file = _cluster.SpanFile(process);
        if (!File.Exists(file))
            return [];
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var spans = new List<Span>();
        while (reader.ReadLine() is { } line)
        {
            JsonElement json;
            try
            {
                json = JsonDocument.Parse(line).RootElement;
            }
            catch (JsonException)
            {
                break; // the last line is still being written; it is read on the next pass
            }
            spans.Add(new Span(json.GetProperty("traceId").GetString()!, json.GetProperty("name").GetString()!,
                json.GetProperty("tags").EnumerateObject().ToDictionary(t => t.Name, t => t.Value.GetString() ?? "")));
        }
        return spans;
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
