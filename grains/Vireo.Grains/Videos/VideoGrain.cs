using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Vireo.Grains.Ingest;
using Vireo.Grains.Placement;
using Vireo.Media;
using Vireo.Messaging;

namespace Vireo.Grains.Videos;

/// <summary>
/// Analyses one video on a media silo: probes it, streams its sampled frames through the vision and language
/// workers (a bounded number in flight), publishes each frame's result, and checkpoints after every frame. A
/// reminder wakes the grain on another silo if this one dies; it resumes after the last finished frame.
/// </summary>
[MediaPlacement]
public sealed class VideoGrain(
    [PersistentState("video", VideoGrain.StorageName)] IPersistentState<VideoGrainState> state,
    IMediaProbe probe,
    IFrameSampler sampler,
    SourceResolver sources,
    EventPublisher publisher,
    IOptions<PipelineOptions> options,
    ILocalSiloDetails silo,
    ILogger<VideoGrain> logger) : Grain, IVideoGrain, IRemindable
{
    public const string StorageName = "videos";
    private const string ResumeReminder = "resume";

    private readonly PipelineOptions _options = options.Value;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _run;
    private int _nextWorker;

    private string VideoId => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _nextWorker = VideoId.GetHashCode(StringComparison.Ordinal) & int.MaxValue;
        if (state.State.Job is not null && !state.State.IsFinished)
        {
            logger.LogInformation("Resuming video {VideoId} after frame {Frames} on {Silo}", VideoId, state.State.Frames.Count, silo.Name);
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
        if (state.State.Job is not null)
            return SubmitOutcome.AlreadyKnown;
        state.State.Job = job;
        state.State.State = VideoState.Accepted;
        await this.RegisterOrUpdateReminder(ResumeReminder, TimeSpan.FromSeconds(_options.ResumeCheckSeconds), TimeSpan.FromSeconds(_options.ResumeCheckSeconds));
        await PublishStatusAsync(VideoState.Accepted, CancellationToken.None);
        StartRun();
        return SubmitOutcome.Accepted;
    }

    public Task<VideoProgress> GetProgress() =>
        Task.FromResult(new VideoProgress(state.State.State, state.State.Frames.Count, state.State.Reason, silo.Name));

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.State.Job is null || state.State.IsFinished)
        {
            var reminder = await this.GetReminder(reminderName);
            if (reminder is not null)
                await this.UnregisterReminder(reminder);
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
        try
        {
            var path = await LocalPathAsync(job, cancellationToken);
            var info = await probe.ProbeAsync(path, cancellationToken);
            var settings = job.Settings;
            state.State.DurationSeconds = info.Duration.TotalSeconds;
            state.State.FramesExpected = ExpectedFrames(info, settings);
            await PublishStatusAsync(VideoState.Processing, cancellationToken);
            await AnalyzeFramesAsync(info, settings, cancellationToken);

            var result = Timeline.Build(state.State.Frames, state.State.DurationSeconds);
            state.State.FramesExpected = state.State.Frames.Count;
            await PublishStatusAsync(VideoState.Completed, cancellationToken, result);
            logger.LogInformation("Video {VideoId} completed: {Frames} frames, {Segments} segments, visual tokens {Before} → {After}",
                VideoId, result.Frames, result.Segments.Count, result.TokensBefore, result.TokensAfter);
            await StopReminderAsync();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogInformation("Video {VideoId} paused at frame {Frames}: the grain is deactivating", VideoId, state.State.Frames.Count);
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
        var done = state.State.Frames.Select(f => f.Index).ToHashSet();
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
        var publishing = PublishOutcomesAsync(inFlight.Reader, cancellationToken);
        try
        {
            var decodeClock = Stopwatch.StartNew();
            await foreach (var frame in sampler.SampleAsync(info, policy, size, null, cancellationToken))
            {
                using (frame)
                {
                    var decodeMs = decodeClock.Elapsed.TotalMilliseconds;
                    if (!done.Contains(frame.Index))
                    {
                        var request = new VisionRequest(VideoId, frame.Index, frame.Width, frame.Height, frame.CopyRgb(),
                            settings.MinTiles, settings.MaxTiles, settings.Routing, settings.RouterThreshold);
                        var meta = new FrameMeta(frame.Index, frame.Timestamp.TotalSeconds, Describe(frame.Reasons), decodeMs);
                        await inFlight.Writer.WriteAsync(AnalyzeFrameAsync(meta, request, cancellationToken), cancellationToken);
                        DelayDeactivation(TimeSpan.FromMinutes(10));
                    }
                }
                decodeClock.Restart();
            }
        }
        finally
        {
            inFlight.Writer.TryComplete();
        }
        await publishing;
    }

    private async Task<FrameOutcome> AnalyzeFrameAsync(FrameMeta meta, VisionRequest request, CancellationToken cancellationToken)
    {
        var vision = await CallWithRetryAsync(() => GrainFactory.GetGrain<IVisionWorker>(NextWorker(_options.VisionWorkers)).Encode(request), cancellationToken);
        var language = await CallWithRetryAsync(() => GrainFactory.GetGrain<ILanguageWorker>(NextWorker(_options.LanguageWorkers))
            .Generate(new LanguageRequest(VideoId, meta.Index, vision.Tiles.Select(t => t.Compressed).ToArray(), vision.VisualTokens)), cancellationToken);
        return new FrameOutcome(meta, vision, language);
    }

    private async Task PublishOutcomesAsync(ChannelReader<Task<FrameOutcome>> outcomes, CancellationToken cancellationToken)
    {
        var job = state.State.Job!;
        await foreach (var pending in outcomes.ReadAllAsync(cancellationToken))
        {
            var (meta, vision, language) = await pending;
            var frame = new FrameAnalyzed
            {
                VideoId = job.VideoId,
                TenantId = job.TenantId,
                FrameIndex = meta.Index,
                TimestampSeconds = meta.TimestampSeconds,
                Reasons = meta.Reasons,
                Caption = language.Caption,
                Text = language.Text,
                Tiles = vision.Tiles.Select(t => t.ToEvent()).ToArray(),
                TokensBefore = vision.TokensBefore,
                TokensAfter = vision.TokensAfter,
                Timings = new StageTimings(meta.DecodeMs, vision.VisionMs, language.LanguageMs),
                Placement = new WorkPlacement(silo.Name, vision.Silo, language.Silo),
            };
            await publisher.PublishAsync(VireoTopics.FramesAnalyzed, job.VideoId, frame, cancellationToken);
            state.State.Frames.Add(new FrameSummary(meta.Index, meta.TimestampSeconds, language.Caption, language.Text, vision.TokensBefore, vision.TokensAfter));
            state.State.Frames.Sort((a, b) => a.Index.CompareTo(b.Index));
            var expected = state.State.FramesExpected;
            if (expected is not null && state.State.Frames.Count > expected)
                state.State.FramesExpected = state.State.Frames.Count;
            await PublishStatusAsync(VideoState.Processing, cancellationToken);
        }
    }

    private async Task<T> CallWithRetryAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (attempt < _options.ModelCallAttempts && !cancellationToken.IsCancellationRequested && e is not ArgumentException)
            {
                logger.LogWarning("Model call for video {VideoId} failed (attempt {Attempt}): {Message}", VideoId, attempt, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(250 * Math.Pow(2, attempt - 1)), cancellationToken);
            }
        }
    }

    private long NextWorker(int workers) => (uint)Interlocked.Increment(ref _nextWorker) % (uint)workers;

    private async Task<string> LocalPathAsync(VideoJob job, CancellationToken cancellationToken)
    {
        if (state.State.DownloadedPath is { } downloaded && File.Exists(downloaded))
            return downloaded;
        switch (sources.Check(job.SourcePath))
        {
            case CheckedSource.Url url:
                state.State.DownloadedPath = await sources.DownloadAsync(url.Address, job.VideoId, cancellationToken);
                await state.WriteStateAsync(cancellationToken);
                return state.State.DownloadedPath;
            case CheckedSource.LocalFile file:
                return file.Path;
            default:
                throw new SourceRejectedException("unknown source kind");
        }
    }

    /// <summary>Advances the state, checkpoints it, then publishes the status event.</summary>
    private async Task PublishStatusAsync(VideoState next, CancellationToken cancellationToken, VideoResult? result = null, string? reason = null)
    {
        var s = state.State;
        s.State = next;
        s.Sequence = Math.Max(s.Sequence, 1) + 1;
        s.Reason = reason;
        await state.WriteStateAsync(cancellationToken);
        var expected = s.FramesExpected;
        await publisher.PublishAsync(VireoTopics.VideoStatus, VideoId, new VideoStatusChanged
        {
            VideoId = VideoId,
            TenantId = s.Job!.TenantId,
            State = next,
            Sequence = s.Sequence,
            Source = s.Job.SourceLabel,
            FramesDone = s.Frames.Count,
            FramesExpected = expected,
            Progress = next == VideoState.Completed ? 1 : expected is > 0 ? Math.Min(1, (double)s.Frames.Count / expected.Value) : 0,
            Reason = reason,
            Result = result,
            At = DateTimeOffset.UtcNow,
        }, cancellationToken);
    }

    private async Task FailAsync(string reason)
    {
        logger.LogWarning("Video {VideoId} failed: {Reason}", VideoId, reason);
        await PublishStatusAsync(VideoState.Failed, CancellationToken.None, reason: reason);
        await StopReminderAsync();
    }

    private async Task StopReminderAsync()
    {
        var reminder = await this.GetReminder(ResumeReminder);
        if (reminder is not null)
            await this.UnregisterReminder(reminder);
    }

    private int? ExpectedFrames(VideoInfo info, AnalysisSettings settings)
    {
        if (settings.Fps <= 0 || settings.SceneThreshold is not null || settings.Keyframes || settings.DedupDistance is not null)
            return null;
        return Math.Min(settings.MaxFrames, (int)Math.Ceiling(info.Duration.TotalSeconds * settings.Fps));
    }

    private static string Describe(FrameReasons reasons) =>
        reasons == FrameReasons.None ? "none" : string.Join(',', Enum.GetValues<FrameReasons>()
            .Where(r => r != FrameReasons.None && reasons.HasFlag(r)).Select(r => r.ToString().ToLowerInvariant()));

    private sealed record FrameMeta(int Index, double TimestampSeconds, string Reasons, double DecodeMs);

    private sealed record FrameOutcome(FrameMeta Meta, VisionResult Vision, LanguageResult Language);
}
