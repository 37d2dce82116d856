using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;

namespace Vireo.Messaging;

/// <summary>A stage of a frame's way through the pipeline, as tagged on <see cref="VireoMetrics.StageDuration"/>.</summary>
public enum PipelineStage
{
    Decode,
    Vision,
    Language,
    Publish,
}

/// <summary>
/// The pipeline's own metrics, on the "Vireo" meter that every process exports (OTLP and /metrics). Code that owns
/// a piece of work records into these instruments; code that owns a queue, a model or a consumer registers a
/// callback that the meter reads at collection time.
/// </summary>
public static class VireoMetrics
{
    public const string MeterName = "Vireo";

    public static readonly Meter Meter = new(MeterName);

    /// <summary>Frames whose analysis was published. Recorded by <see cref="EventPublisher"/>, which every frame result passes once.</summary>
    public static readonly Counter<long> FramesAnalyzed = Meter.CreateCounter<long>("vireo.frames.analyzed", "{frame}", "Frames analysed and published");

    /// <summary>Milliseconds a frame spent in a stage; tag "stage" is decode, vision, language or publish.</summary>
    public static readonly Histogram<double> StageDuration = Meter.CreateHistogram<double>("vireo.stage.duration", "ms", "Time a frame spent in a pipeline stage");

    /// <summary>Frames per model forward pass; tag "stage" is vision or language. Recorded by the batchers.</summary>
    public static readonly Histogram<int> InferenceBatchSize = Meter.CreateHistogram<int>("vireo.inference.batch.size", "{frame}", "Frames in one inference batch");

    /// <summary>Visual tokens a frame would have had without routing (256 per tile).</summary>
    public static readonly Counter<long> VisualTokensBefore = Meter.CreateCounter<long>("vireo.visual_tokens.before", "{token}", "Visual tokens before routing");

    /// <summary>Visual tokens the language model actually received after routing.</summary>
    public static readonly Counter<long> VisualTokensAfter = Meter.CreateCounter<long>("vireo.visual_tokens.after", "{token}", "Visual tokens after routing");

    /// <summary>Records written to Postgres by the sink, tagged by "kind" (frame or status).</summary>
    public static readonly Counter<long> SinkRecordsWritten = Meter.CreateCounter<long>("vireo.sink.records.written", "{record}", "Records the sink wrote to Postgres");

    /// <summary>Records in one sink transaction.</summary>
    public static readonly Histogram<int> SinkBatchSize = Meter.CreateHistogram<int>("vireo.sink.batch.size", "{record}", "Records in one sink batch");

    /// <summary>Milliseconds one sink batch took to reach Postgres, retries included.</summary>
    public static readonly Histogram<double> SinkBatchDuration = Meter.CreateHistogram<double>("vireo.sink.batch.duration", "ms", "Time to write one sink batch");

    /// <summary>Video runs stopped and started again from their checkpoint, tagged by "reason" (interrupted, stalled, retried).</summary>
    public static readonly Counter<long> VideoRunRestarts = Meter.CreateCounter<long>("vireo.video.run.restarts", "{run}", "Video runs restarted from their checkpoint");

    /// <summary>Offsets a consumer found missing between two records it read, tagged by "topic".</summary>
    public static readonly Counter<long> ConsumerOffsetGaps = Meter.CreateCounter<long>("vireo.kafka.consumer.offset_gaps", "{record}", "Offsets skipped between consecutive records of a partition");

    /// <summary>
    /// Frame thumbnails the media silo handled, tagged by "outcome": written, failed (the blob store refused or timed
    /// out) or dropped (too many waiting to be written). A thumbnail that is not written never fails its video.
    /// </summary>
    public static readonly Counter<long> Thumbnails = Meter.CreateCounter<long>("vireo.thumbnails", "{thumbnail}", "Frame thumbnails written, failed or dropped");

    /// <summary>Model requests dropped from a batcher's queue because their caller gave up first, tagged by "stage".</summary>
    public static readonly Counter<long> InferenceDropped = Meter.CreateCounter<long>("vireo.inference.dropped", "{frame}", "Model requests dropped because their caller gave up while they waited");

    private static readonly ConcurrentDictionary<object, (string Queue, Func<long> Depth)> Queues = new();
    private static readonly ConcurrentDictionary<string, IReadOnlyList<Measurement<long>>> Lag = new();
    private static readonly ConcurrentDictionary<object, Func<IEnumerable<Measurement<long>>>> GpuMemory = new();

    static VireoMetrics()
    {
        Meter.CreateObservableGauge("vireo.queue.depth", () => Queues.Values.Select(q => new Measurement<long>(q.Depth(), new KeyValuePair<string, object?>("queue", q.Queue))),
            "{item}", "Items waiting in a bounded queue");
        Meter.CreateObservableGauge("vireo.kafka.consumer.lag", () => Lag.Values.SelectMany(m => m),
            "{record}", "Records between a consumer group's position and the end of a partition");
        Meter.CreateObservableGauge("vireo.gpu.memory", () => GpuMemory.Values.SelectMany(read => read()),
            "By", "Memory of the GPU a model silo runs on");
    }

    public static void RecordStage(PipelineStage stage, double milliseconds) =>
        StageDuration.Record(milliseconds, new KeyValuePair<string, object?>("stage", StageTag(stage)));

    public static void RecordBatch(PipelineStage stage, int frames) =>
        InferenceBatchSize.Record(frames, new KeyValuePair<string, object?>("stage", StageTag(stage)));

    public static void RecordDropped(PipelineStage stage) =>
        InferenceDropped.Add(1, new KeyValuePair<string, object?>("stage", StageTag(stage)));

    /// <summary>Counts one published frame result: the frame, its routing and its stage timings.</summary>
    public static void RecordFrame(FrameAnalyzed frame)
    {
        FramesAnalyzed.Add(1);
        VisualTokensBefore.Add(frame.TokensBefore);
        VisualTokensAfter.Add(frame.TokensAfter);
        RecordStage(PipelineStage.Decode, frame.Timings.DecodeMs);
        RecordStage(PipelineStage.Vision, frame.Timings.VisionMs);
        RecordStage(PipelineStage.Language, frame.Timings.LanguageMs);
    }

    /// <summary>
    /// Reports a queue's depth on "vireo.queue.depth" (tag "queue") until the returned handle is disposed. The
    /// callback runs on the metrics collector's thread, so it must be cheap and thread-safe (e.g. a channel's Count).
    /// </summary>
    public static IDisposable ObserveQueue(string queue, Func<long> depth) => Register(Queues, (queue, depth));

    /// <summary>Reports GPU memory on "vireo.gpu.memory" (tags "device" and "state") until the returned handle is disposed.</summary>
    public static IDisposable ObserveGpuMemory(Func<IEnumerable<Measurement<long>>> read) => Register(GpuMemory, read);

    /// <summary>
    /// Takes the per-partition lag out of a librdkafka statistics document (see STATISTICS.md in librdkafka) and
    /// keeps it as the latest value for this consumer. Called by the consumer on its own thread, as statistics
    /// arrive with its polls.
    /// </summary>
    public static void RecordConsumerStatistics(string groupId, string statisticsJson)
    {
        using var document = JsonDocument.Parse(statisticsJson);
        var root = document.RootElement;
        var client = root.TryGetProperty("name", out var name) ? name.GetString() ?? groupId : groupId;
        var measurements = new List<Measurement<long>>();
        if (root.TryGetProperty("topics", out var topics))
        {
            foreach (var topic in topics.EnumerateObject())
            {
                if (!topic.Value.TryGetProperty("partitions", out var partitions))
                    continue;
                foreach (var partition in partitions.EnumerateObject())
                {
                    // -1 is librdkafka's internal "unassigned" partition; a lag of -1 means not known yet.
                    if (partition.Name == "-1" || !partition.Value.TryGetProperty("consumer_lag", out var lag) || lag.GetInt64() < 0)
                        continue;
                    measurements.Add(new Measurement<long>(lag.GetInt64(),
                        new KeyValuePair<string, object?>("group", groupId),
                        new KeyValuePair<string, object?>("topic", topic.Name),
                        new KeyValuePair<string, object?>("partition", partition.Name)));
                }
            }
        }
        Lag[client] = measurements;
    }

    /// <summary>Drops a closed consumer's lag, so that partitions it no longer owns are not reported.</summary>
    public static void ForgetConsumer(string clientName) => Lag.TryRemove(clientName, out _);

    private static string StageTag(PipelineStage stage) => stage switch
    {
        PipelineStage.Decode => "decode",
        PipelineStage.Vision => "vision",
        PipelineStage.Language => "language",
        PipelineStage.Publish => "publish",
        _ => throw new UnreachableException(),
    };

    private static IDisposable Register<T>(ConcurrentDictionary<object, T> registry, T value)
    {
        var handle = new Registration(registry);
        registry[handle] = value;
        return handle;
    }

    private sealed class Registration(System.Collections.IDictionary registry) : IDisposable
    {
        public void Dispose() => registry.Remove(this);
    }
}
