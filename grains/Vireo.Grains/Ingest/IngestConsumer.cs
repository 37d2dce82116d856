using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Vireo.Messaging;

namespace Vireo.Grains.Ingest;

/// <summary>Settings of the upload consumer (section "Ingest").</summary>
public sealed class IngestOptions
{
    public const string Section = "Ingest";

    [System.ComponentModel.DataAnnotations.Required]
    public string GroupId { get; set; } = "vireo-ingest";
}

/// <summary>
/// Consumes video.uploaded on media silos. Each event is checked, then handed to its VideoGrain; the offset is
/// stored only once the grain has accepted it. Malformed events go to the dead-letter topic and refused sources
/// get a failed status, and in both cases the consumer moves on to the next event.
/// </summary>
public sealed class IngestConsumer(
    KafkaConsumers consumers,
    EventPublisher publisher,
    SourceResolver sources,
    IGrainFactory grains,
    IOptions<IngestOptions> ingestOptions,
    IOptions<KafkaOptions> kafkaOptions,
    IOptions<PipelineOptions> pipelineOptions,
    ILogger<IngestConsumer> logger)
    : ConsumerService(consumers, "Ingest", ingestOptions.Value.GroupId, [VireoTopics.VideoUploaded], logger)
{
    protected override async Task ConsumeAsync(IConsumer<string, byte[]> consumer, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var record = consumer.ConsumeOrNull(TimeSpan.FromMilliseconds(500), Logger, stoppingToken);
            if (record?.Message is null)
                continue;
            await HandleAsync(record, stoppingToken);
            consumer.StoreOffset(record);
        }
    }

    private async Task HandleAsync(ConsumeResult<string, byte[]> record, CancellationToken stoppingToken)
    {
        using var activity = Tracing.StartConsume("ingest.upload", record.Message.Headers);
        var decoded = EventCodec.DecodeUpload(record.Message.Value ?? [], kafkaOptions.Value.MaxEventBytes);
        if (!decoded.Ok)
        {
            Logger.LogWarning("Dead-lettering upload at {Partition}@{Offset}: {Reason}", record.Partition.Value, record.Offset.Value, decoded.Error);
            await publisher.DeadLetterAsync(record, decoded.Error!, stoppingToken);
            return;
        }
        var upload = decoded.Event!;
        activity?.SetTag("vireo.video_id", upload.VideoId);
        string sourcePath;
        try
        {
            sourcePath = sources.Check(upload.Source) switch
            {
                CheckedSource.LocalFile file => file.Path,
                _ => upload.Source,
            };
        }
        catch (SourceRejectedException e)
        {
            Logger.LogWarning("Refusing video {VideoId}: {Reason}", upload.VideoId, e.Message);
            await publisher.PublishAsync(VireoTopics.VideoStatus, upload.VideoId, new VideoStatusChanged
            {
                VideoId = upload.VideoId,
                TenantId = upload.TenantId,
                State = VideoState.Failed,
                Sequence = 1,
                Source = upload.Source,
                Reason = e.Message,
                At = DateTimeOffset.UtcNow,
            }, stoppingToken);
            return;
        }

        var job = new VideoJob(upload.VideoId, upload.TenantId, sourcePath, upload.Source,
            AnalysisSettingsFactory.From(upload.Options, pipelineOptions.Value), Tracing.TraceParentOf(record.Message.Headers));
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var outcome = await grains.GetGrain<IVideoGrain>(upload.VideoId).Submit(job);
                Logger.LogInformation("Upload {VideoId}: {Outcome}", upload.VideoId, outcome);
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // The offset stays unstored until a grain accepts the job; retrying keeps the order of the partition.
                Logger.LogWarning("Handing video {VideoId} to its grain failed (attempt {Attempt}): {Message}", upload.VideoId, attempt, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10_000, 200 * Math.Pow(2, Math.Min(attempt, 6)))), stoppingToken);
            }
        }
    }
}

/// <summary>Turns a client's options into settings, applying defaults and the service's limits.</summary>
public static class AnalysisSettingsFactory
{
    public static AnalysisSettings From(AnalysisRequestOptions? request, PipelineOptions defaults)
    {
        var sampling = request?.Sampling;
        var minTiles = request?.MinTiles ?? defaults.DefaultMinTiles;
        var maxTiles = Math.Max(minTiles, request?.MaxTiles ?? defaults.DefaultMaxTiles);
        return new AnalysisSettings(
            Fps: sampling?.Fps ?? (sampling?.SceneThreshold is not null || sampling?.Keyframes == true ? 0 : defaults.DefaultFps),
            SceneThreshold: sampling?.SceneThreshold,
            Keyframes: sampling?.Keyframes ?? false,
            DedupDistance: sampling?.DedupDistance,
            MaxFrames: Math.Min(sampling?.MaxFrames ?? defaults.DefaultMaxFrames, defaults.MaxFramesLimit),
            MinTiles: minTiles,
            MaxTiles: maxTiles,
            Routing: request?.Routing ?? RoutingMode.Auto,
            RouterThreshold: request?.RouterThreshold);
    }
}
