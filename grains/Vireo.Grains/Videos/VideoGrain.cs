using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Vireo.Grains.Ingest;
using Vireo.Grains.Placement;
using Vireo.Media;
using Vireo.Messaging;

namespace Vireo.Grains.Videos;

/// <summary>
/// Analyses one video on a media silo: probes it, streams its sampled frames to the vision workers (a bounded number
/// in flight; each vision worker hands its visual tokens to a language worker), publishes each frame's result in
/// index order, and checkpoints a constant-size state after every frame. A reminder wakes the grain on another
/// silo if this one dies; it resumes after the last published frame.
/// </summary>
[MediaPlacement]
public sealed class VideoGrain(
    [PersistentState("video", VideoGrain.StorageName)] IPersistentState<VideoGrainState> state,
    IMediaProbe probe,
    IFrameSampler sampler,
    SourceResolver sources,
    IEventPublisher publisher,
    WorkerDirectory workers,
    IOptions<PipelineOptions> options,
    ILocalSiloDetails silo,
    ILogger<VideoGrain> logger) : Grain, IVideoGrain, IRemindable
{
    public const string StorageName = "videos";
    private const string ResumeReminder = "resume";

    private readonly PipelineOptions _options = options.Value;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _run;

    /// <summary>The grain's key in text form, "tenant/video", as logs and Kafka keys name the video.</summary>
    private string VideoId => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Job is not null && !state.State.IsFinished)
        {
            logger.LogInformation("Resuming video {VideoId} after frame {Frame} on {Silo}", VideoId, state.State.LastFrameIndex, silo.Name);
            StartRun();
        }
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_run is not null)
            await Task.WhenAny(_run, Task.Delay(TimeSpan.FromSeconds(10), cancellationToken));
    }

    public async Task<SubmitOutcome> Submit(VideoJob job)
    {
        if (job.Key.ToString() != VideoId)
            throw new ArgumentException($"job for {job.Key} submitted to video grain {VideoId}", nameof(job));
        if (state.State.Job is not null)
            return SubmitOutcome.AlreadyKnown;
        // Nothing is kept in memory until the reminder guards the job and the job is saved: a failure of either
        // leaves the grain as it was, so the ingest consumer's retry submits the video again instead of being told
        // that it is already known.
        var reminderPeriod = TimeSpan.FromSeconds(_options.ResumeCheckSeconds);
        await this.RegisterOrUpdateReminder(ResumeReminder, reminderPeriod, reminderPeriod);
        var previous = state.State;
        state.State = new VideoGrainState { Job = job, State = VideoState.Accepted, Sequence = 2 };
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State = previous;
            throw;
        }
        await PublishStatusAsync(CancellationToken.None);
        StartRun();
        return SubmitOutcome.Accepted;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.State.Job is null || state.State.IsFinished)
        {
            await StopReminderAsync();
            return;
        }
        if (_run is null || _run.IsCompleted)
            StartRun();
    }

    private void StartRun() => _run = RunAsync(_stopping.Token);

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var job = state.State.Job!;
        using var activity = Tracing.Source.StartActivity("video.analyze", ActivityKind.Internal,
            ActivityContext.TryParse(job.TraceParent, null, out var parent) ? parent : default);
        activity?.SetTag("vireo.video_id", job.VideoId);
        activity?.SetTag("vireo.tenant_id", job.TenantId);
        try
        {
            var path = await LocalPathAsync(job, cancellationToken);
            var info = await probe.ProbeAsync(path, cancellationToken);
            var settings = job.Settings;
            state.State.DurationSeconds = info.Duration.TotalSeconds;
            state.State.FramesExpected = ExpectedFrames(info, settings);
            await AdvanceAsync(VideoState.Processing, cancellationToken);
            await AnalyzeFramesAsync(info, settings, cancellationToken);

            var (last, result) = state.State.Tally.Finish(state.State.DurationSeconds);
            state.State.FramesExpected = result.Frames;
            await AdvanceAsync(VideoState.Completed, cancellationToken, segment: last, result: result);
            logger.LogInformation("Video {VideoId} completed: {Frames} frames, {Segments} segments, visual tokens {Before} → {After}",
                VideoId, result.Frames, result.Segments, result.TokensBefore, result.TokensAfter);
            await StopReminderAsync();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogInformation("Video {VideoId} paused after frame {Frame}: the grain is deactivating", VideoId, state.State.LastFrameIndex);
        }
        catch (MediaException e) when (!e.IsTransient)
        {
            await FailAsync($"{e.Kind}: {e.Message}");
        }
        catch (SourceRejectedException e)
        {
            await FailAsync(e.Message);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogError(e, "Video {VideoId} failed", VideoId);
            await FailAsync($"analysis failed: {e.Message}");
        }
    }

    private async Task AnalyzeFramesAsync(VideoInfo info, AnalysisSettings settings, CancellationToken cancellationToken)
    {
        var resumeAfter = state.State.LastFrameIndex;
        var policy = new SamplingPolicy
        {
            FramesPerSecond = settings.Fps > 0 ? settings.Fps : null,
            SceneThreshold = settings.SceneThreshold,
            Keyframes = settings.Keyframes,
            DedupMaxDistance = settings.DedupDistance,
            MaxFrames = settings.MaxFrames,
        };
        var size = new FrameSize(_options.FrameLongSide, _options.FrameLongSide, ResizeMode.Fit);
        var inFlight = Channel.CreateBounded<Task<FrameOutcome>>(new BoundedChannelOptions(_options.FramesInFlight) { SingleReader = true, SingleWriter = true });
        // When publishing fails, decoding must stop too: otherwise it would wait forever on a channel nobody reads.
        using var publishingFailed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var publishing = PublishOutcomesAsync(inFlight.Reader, publishingFailed, cancellationToken);
        var retry = ModelCallRetry();
        try
        {
            var decodeClock = Stopwatch.StartNew();
            await foreach (var frame in sampler.SampleAsync(info, policy, size, null, publishingFailed.Token))
            {
                using (frame)
                {
                    var decodeMs = decodeClock.Elapsed.TotalMilliseconds;
                    if (frame.Index > resumeAfter)
                    {
                        var request = new FrameRequest(VideoId, frame.Index, frame.Width, frame.Height, frame.CopyRgb(),
                            settings.MinTiles, settings.MaxTiles, settings.Routing, settings.RouterThreshold);
                        var meta = new FrameMeta(frame.Index, frame.Timestamp.TotalSeconds, Describe(frame.Reasons), decodeMs);
                        await inFlight.Writer.WriteAsync(AnalyzeFrameAsync(meta, request, retry, cancellationToken), publishingFailed.Token);
                        DelayDeactivation(TimeSpan.FromMinutes(10));
                    }
                }
                decodeClock.Restart();
            }
        }
        catch (OperationCanceledException) when (publishingFailed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Publishing's own exception, awaited below, says what went wrong.
        }
        finally
        {
            inFlight.Writer.TryComplete();
        }
        await publishing;
    }

    private async Task<FrameOutcome> AnalyzeFrameAsync(FrameMeta meta, FrameRequest request, ResiliencePipeline retry, CancellationToken cancellationToken)
    {
        // Retries must resume on the grain's scheduler: grain calls are only allowed from the activation.
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true, cancellationToken);
        try
        {
            var analysis = await retry.ExecuteAsync(
                async _ => await GrainFactory.GetGrain<IVisionWorker>(workers.Next(SiloRoles.Vision)).Analyze(request), context);
            return new FrameOutcome(meta, analysis);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Retries a frame's model call with exponential backoff; a refused request (ArgumentException) is not retried.</summary>
    private ResiliencePipeline ModelCallRetry() => _options.ModelCallAttempts <= 1 ? ResiliencePipeline.Empty : RetryPipelines.Create(
        new RetrySettings { DelayMs = 250, MaxRetries = _options.ModelCallAttempts - 1 },
        e => e is not ArgumentException,
        args =>
        {
            logger.LogWarning("Model call for video {VideoId} failed (attempt {Attempt}): {Message}", VideoId, args.AttemptNumber + 1, args.Outcome.Exception?.Message);
            return ValueTask.CompletedTask;
        });

    private async Task PublishOutcomesAsync(ChannelReader<Task<FrameOutcome>> outcomes, CancellationTokenSource failed, CancellationToken cancellationToken)
    {
        try
        {
            await PublishOutcomesAsync(outcomes, cancellationToken);
        }
        catch
        {
            await failed.CancelAsync();
            throw;
        }
    }

    private async Task PublishOutcomesAsync(ChannelReader<Task<FrameOutcome>> outcomes, CancellationToken cancellationToken)
    {
        var job = state.State.Job!;
        await foreach (var pending in outcomes.ReadAllAsync(cancellationToken))
        {
            var (meta, analysis) = await pending;
            var language = analysis.Language;
            var frame = new FrameAnalyzed
            {
                VideoId = job.VideoId,
                TenantId = job.TenantId,
                FrameIndex = meta.Index,
                TimestampSeconds = meta.TimestampSeconds,
                Reasons = meta.Reasons,
                Caption = language.Caption,
                Text = language.Text,
                Tiles = analysis.Tiles,
                TokensBefore = analysis.TokensBefore,
                TokensAfter = analysis.TokensAfter,
                Timings = new StageTimings(meta.DecodeMs, analysis.VisionMs, language.LanguageMs),
                Placement = new WorkPlacement(silo.Name, analysis.VisionSilo, language.Silo),
            };
            var started = Stopwatch.GetTimestamp();
            await publisher.PublishAsync(VireoTopics.FramesAnalyzed, VideoId, frame, cancellationToken);
            VireoMetrics.RecordStage(PipelineStage.Publish, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            VireoMetrics.RecordFrame(frame);
            var closed = state.State.Tally.Add(new FrameSummary(meta.Index, meta.TimestampSeconds, language.Caption, language.Text, analysis.TokensBefore, analysis.TokensAfter));
            state.State.LastFrameIndex = meta.Index;
            if (state.State.FramesExpected is { } expected && state.State.Tally.Frames > expected)
                state.State.FramesExpected = state.State.Tally.Frames;
            await AdvanceAsync(VideoState.Processing, cancellationToken, segment: closed);
        }
    }

    private async Task<string> LocalPathAsync(VideoJob job, CancellationToken cancellationToken)
    {
        if (state.State.DownloadedPath is { } downloaded && File.Exists(downloaded))
            return downloaded;
        switch (sources.Check(job.SourcePath))
        {
            case CheckedSource.Url url:
                state.State.DownloadedPath = await sources.DownloadAsync(url.Address, job.Key, cancellationToken);
                await state.WriteStateAsync(cancellationToken);
                return state.State.DownloadedPath;
            case CheckedSource.LocalFile file:
                return file.Path;
            default:
                throw new SourceRejectedException("unknown source kind");
        }
    }

    /// <summary>Moves to the next state, checkpoints it, then publishes the status event.</summary>
    private async Task AdvanceAsync(VideoState next, CancellationToken cancellationToken, TimelineSegment? segment = null, VideoResult? result = null, string? reason = null)
    {
        var s = state.State;
        s.State = next;
        s.Sequence = Math.Max(s.Sequence, 1) + 1;
        s.Reason = reason;
        await state.WriteStateAsync(cancellationToken);
        await PublishStatusAsync(cancellationToken, segment, result);
    }

    private Task PublishStatusAsync(CancellationToken cancellationToken, TimelineSegment? segment = null, VideoResult? result = null)
    {
        var s = state.State;
        var done = s.Tally.Frames;
        return publisher.PublishAsync(VireoTopics.VideoStatus, VideoId, new VideoStatusChanged
        {
            VideoId = s.Job!.VideoId,
            TenantId = s.Job.TenantId,
            State = s.State,
            Sequence = s.Sequence,
            Source = s.Job.SourceLabel,
            FramesDone = done,
            FramesExpected = s.FramesExpected,
            Progress = s.State == VideoState.Completed ? 1 : s.FramesExpected is > 0 and var expected ? Math.Min(1, (double)done / expected) : 0,
            Reason = s.Reason,
            Segment = segment,
            Result = result,
            At = DateTimeOffset.UtcNow,
        }, cancellationToken);
    }

    private async Task FailAsync(string reason)
    {
        logger.LogWarning("Video {VideoId} failed: {Reason}", VideoId, reason);
        await AdvanceAsync(VideoState.Failed, CancellationToken.None, reason: reason);
        await StopReminderAsync();
    }

    private async Task StopReminderAsync()
    {
        var reminder = await this.GetReminder(ResumeReminder);
        if (reminder is not null)
            await this.UnregisterReminder(reminder);
    }

    private static int? ExpectedFrames(VideoInfo info, AnalysisSettings settings)
    {
        if (settings.Fps <= 0 || settings.SceneThreshold is not null || settings.Keyframes || settings.DedupDistance is not null)
            return null;
        return Math.Min(settings.MaxFrames, (int)Math.Ceiling(info.Duration.TotalSeconds * settings.Fps));
    }

    private static string Describe(FrameReasons reasons) =>
        reasons == FrameReasons.None ? "none" : string.Join(',', Enum.GetValues<FrameReasons>()
            .Where(r => r != FrameReasons.None && reasons.HasFlag(r)).Select(r => r.ToString().ToLowerInvariant()));

    private sealed record FrameMeta(int Index, double TimestampSeconds, string Reasons, double DecodeMs);

    private sealed record FrameOutcome(FrameMeta Meta, FrameAnalysis Analysis);
}
