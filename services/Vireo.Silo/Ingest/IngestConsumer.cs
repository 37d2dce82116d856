using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Vireo.Grains;
using Vireo.Grains.Ingest;
using Vireo.Messaging;

namespace Vireo.Silo.Ingest;

/// <summary>Settings of the upload consumer (section "Ingest"); the retry delays are those of a hand-off to a grain that cannot take it yet.</summary>
public sealed class IngestOptions : ConsumerRetryOptions
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
    private readonly ResiliencePipeline _handOff = RetryPipelines.Create(ingestOptions.Value.Retry, _ => true, args =>
    {
        logger.LogWarning("Handing an upload to its video grain failed (attempt {Attempt}): {Message}", args.AttemptNumber + 1, args.Outcome.Exception?.Message);
        return ValueTask.CompletedTask;
    });

    protected override async Task ConsumeAsync(IConsumer<string, byte[]> consumer, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var record = consumer.ConsumeOrNull(TimeSpan.FromMilliseconds(500), Logger, stoppingToken);
            if (record?.Message is null)
                continue;
            await HandleAsync(consumer, record, stoppingToken);
            // Moved to another member during a long hand-off, the event is handed over again there; a grain takes a
            // job it already has as a repeat.
            consumer.StoreOffsetIfAssigned(record);
        }
    }

    private async Task HandleAsync(IConsumer<string, byte[]> consumer, ConsumeResult<string, byte[]> record, CancellationToken stoppingToken)
    {
        using var activity = Tracing.StartConsume("ingest.upload", record.Message.Headers);
        var decoded = EventCodec.DecodeUpload(record.Message.Value ?? [], kafkaOptions.Value.MaxEventBytes);
        if (!decoded.Ok)
        {
            await consumer.DeadLetterInGroupAsync(publisher, record, decoded.Error!, Logger, stoppingToken);
            return;
        }
        var upload = decoded.Event!;
        activity?.SetTag("vireo.video_id", upload.VideoId);
        activity?.SetTag("vireo.tenant_id", upload.TenantId);
        string sourcePath;
        string? refusal = null;
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
            Logger.LogWarning("Refusing video {VideoId}: {Reason}", upload.Key, e.Message);
            (sourcePath, refusal) = (upload.Source, e.Message);
        }

        var job = new VideoJob(upload.VideoId, upload.TenantId, sourcePath, upload.Source,
            AnalysisSettingsFactory.From(upload.Options, pipelineOptions.Value), activity?.Id ?? Tracing.TraceParentOf(record.Message.Headers));
        // The offset stays unstored until a grain accepts the job; retrying (for as long as it takes, with the
        // partitions paused and the consumer still in its group) keeps the order of the partition.
        var outcome = await consumer.RetryInGroupAsync(_handOff, async _ =>
        {
            var grain = grains.GetGrain<IVideoGrain>(upload.Key.ToString());
            // A refusal goes through the grain too, which numbers the video's statuses and attempts.
            return refusal is not null ? await grain.Refuse(job, refusal) : upload.Retry ? await grain.Retry(job) : await grain.Submit(job);
        }, Logger, stoppingToken);
        Logger.LogInformation("Upload {VideoId}: {Outcome}", upload.Key, outcome);
    }
}
