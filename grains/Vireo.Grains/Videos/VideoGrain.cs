using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Polly;
using Vireo.Grains.Ingest;
using Vireo.Grains.Placement;
using Vireo.Grains.Thumbnails;
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
    ThumbnailWriter thumbnails,
    IOptions<PipelineOptions> options,
    ILocalSiloDetails silo,
    ILogger<VideoGrain> logger) : Grain, IVideoGrain, IRemindable
{
    public const string StorageName = "videos";
    private const string ResumeReminder = "resume";

    private readonly PipelineOptions _options = options.Value;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _run;
    private CancellationTokenSource? _currentRun;
    private long _lastProgress = Stopwatch.GetTimestamp();
    private string? _stopReason;
    private IGrainTimer? _watchdog;
    private long _framesPublished;
    private long _publishedAtLastInterruption;

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
        CheckKey(job);
        if (state.State.Job is not null)
            return SubmitOutcome.AlreadyKnown;
        // Nothing is kept in memory until the reminder guards the job and the job is saved: a failure of either
        // leaves the grain as it was, so the ingest consumer's retry submits the video again instead of being told
        // that it is already known.
        await GuardAsync();
        await SaveOrRestoreAsync(new VideoGrainState { Job = job, State = VideoState.Accepted, Sequence = 2 });
        await PublishStatusAsync(CancellationToken.None);
        StartRun();
        return SubmitOutcome.Accepted;
    }

    public async Task<SubmitOutcome> Retry(VideoJob job)
    {
        CheckKey(job);
        var current = state.State;
        if (current.Job is null)
            return await Submit(job);
        switch (current.State)
        {
            case VideoState.Completed:
                return SubmitOutcome.AlreadyKnown;
            case VideoState.Failed:
                // The run that failed the video may still be publishing that failure. The new attempt waits for it to
                // end: its last steps (dropping the reminder, forgetting its run) would otherwise undo the new
                // attempt's. If it does not end soon, the caller is told so and tries again.
                if (_run is { IsCompleted: false } ending)
                    await ending.WaitAsync(FailureEndWait);
                await GuardAsync();
                await SaveOrRestoreAsync(new VideoGrainState
                {
                    Job = current.Job, State = VideoState.Accepted, Sequence = current.Sequence + 1, Attempt = current.Attempt + 1,
                    FramesExpected = current.FramesExpected, DurationSeconds = current.DurationSeconds, DownloadedPath = current.DownloadedPath,
                    LastFrameIndex = current.LastFrameIndex, Tally = current.Tally,
                });
                logger.LogInformation("Video {VideoId} retried as attempt {Attempt} after frame {Frame}", VideoId, state.State.Attempt, state.State.LastFrameIndex);
                VireoMetrics.VideoRunRestarts.Add(1, new KeyValuePair<string, object?>("reason", "retried"));
                await PublishStatusAsync(CancellationToken.None);
                StartRun();
                return SubmitOutcome.Restarted;
            default:
                if (_currentRun is { } running)
                {
                    // A run that makes progress is left alone: a retry restarts only one that looks stuck.
                    if (Stopwatch.GetElapsedTime(_lastProgress) < RetryQuietPeriod)
                        return SubmitOutcome.AlreadyKnown;
                    // The supervisor sees a run stopped without a failure, and starts it again from the checkpoint.
                    logger.LogInformation("Video {VideoId} restarted on request from frame {Frame}", VideoId, state.State.LastFrameIndex);
                    _stopReason = "retried";
                    await running.CancelAsync();
                }
                else if (_run is null || _run.IsCompleted)
                {
                    StartRun();
                }
                return SubmitOutcome.Restarted;
        }
    }

    /// <summary>
    /// How long a running video must have shown no progress (no frame published or decoded) before a retry restarts it:
    /// a quarter of Pipeline:StallSeconds, the whole of which has the watchdog stop it on its own.
    /// </summary>
    private TimeSpan RetryQuietPeriod => TimeSpan.FromSeconds(Math.Max(1, _options.StallSeconds / 4.0));

    /// <summary>How long a retry waits for the run that failed the video to finish publishing that failure.</summary>
    private static readonly TimeSpan FailureEndWait = TimeSpan.FromSeconds(10);

    public async Task<SubmitOutcome> Refuse(VideoJob job, string reason)
    {
        CheckKey(job);
        if (state.State.Job is not null)
            return SubmitOutcome.AlreadyKnown;
        // Guarded like any final state: if the refusal is saved but not published, the reminder publishes it.
        await GuardAsync();
        await SaveOrRestoreAsync(new VideoGrainState { Job = job, State = VideoState.Failed, Sequence = 2, Reason = reason });
        await PublishStatusAsync(CancellationToken.None);
        await StopReminderAsync();
        return SubmitOutcome.Refused;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.State.Job is null)
        {
            await StopReminderAsync();
            return;
        }
        if (!state.State.IsFinished)
        {
            if (_run is null || _run.IsCompleted)
                StartRun();
            return;
        }
        // A final state is saved before its status is published, and the reminder is dropped only once it is: a
        // finished video that still has its reminder may never have been heard of (its activation ended while the
        // broker was away). Unless its run is still trying, the status is published again; the result store takes a
        // status it already has as a repeat.
        if (_run is { IsCompleted: false })
            return;
        logger.LogInformation("Publishing the {State} status of video {VideoId} again: it was saved but not known to be published", state.State.State, VideoId);
        await PublishFinalStatusAsync(_stopping.Token);
        await StopReminderAsync();
    }

    private void CheckKey(VideoJob job)
    {
        if (job.Key.ToString() != VideoId)
            throw new ArgumentException($"job for {job.Key} submitted to video grain {VideoId}", nameof(job));
    }

    private Task GuardAsync()
    {
        var period = TimeSpan.FromSeconds(_options.ResumeCheckSeconds);
        return this.RegisterOrUpdateReminder(ResumeReminder, period, period);
    }

    /// <summary>Replaces the state and saves it; if the save fails, the grain keeps the state it had and the caller sees the error.</summary>
    private async Task SaveOrRestoreAsync(VideoGrainState next)
    {
        var previous = state.State;
        state.State = next;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State = previous;
            throw;
        }
    }

    private void StartRun()
    {
        _watchdog ??= this.RegisterGrainTimer(WatchAsync, new GrainTimerCreationOptions
        {
            DueTime = TimeSpan.FromSeconds(Math.Max(1, _options.StallSeconds / 4.0)),
            Period = TimeSpan.FromSeconds(Math.Max(1, _options.StallSeconds / 4.0)),
            Interleave = true,
        });
        _run = SuperviseAsync(_stopping.Token);
    }

    /// <summary>
    /// Runs the video until it completes or fails. A run interrupted by the infrastructure (a state write, the broker
    /// or the cluster failing past their retries) or stopped for making no progress starts again from the last
    /// checkpoint, after a growing delay; after <see cref="PipelineOptions.MaxInterruptions"/> interruptions in a
    /// row the video fails with the last error as its reason.
    /// </summary>
    private async Task SuperviseAsync(CancellationToken stopping)
    {
        var interruptions = 0;
        var reload = false;
        while (!stopping.IsCancellationRequested)
        {
            Exception? interruption;
            using (var run = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                _currentRun = run;
                _lastProgress = Stopwatch.GetTimestamp();
                _stopReason = null;
                try
                {
                    if (reload)
                        await state.ReadStateAsync(run.Token);
                    interruption = state.State.IsFinished ? null : await RunAsync(run.Token);
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    interruption = e;
                }
                finally
                {
                    _currentRun = null;
                }
            }
            if (interruption is null || stopping.IsCancellationRequested)
                break;
            reload = true;
            var reason = _stopReason ?? "interrupted";
            VireoMetrics.VideoRunRestarts.Add(1, new KeyValuePair<string, object?>("reason", reason));
            if (reason == "retried")
                continue;
            if (_framesPublished > _publishedAtLastInterruption)
                interruptions = 0;
            _publishedAtLastInterruption = _framesPublished;
            if (++interruptions > _options.MaxInterruptions)
            {
                await TryFailAsync($"interrupted {interruptions - 1} times in a row; last: {interruption.Message}");
                break;
            }
            var delay = TimeSpan.FromMilliseconds(Math.Min(30_000, 500 * Math.Pow(2, interruptions - 1)));
            logger.LogError(interruption, "Video {VideoId} {Reason} after frame {Frame}; starting again from its checkpoint in {Delay:0.0} s",
                VideoId, reason, state.State.LastFrameIndex, delay.TotalSeconds);
            try
            {
                await Task.Delay(delay, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        if (state.State.IsFinished && _watchdog is not null)
        {
            _watchdog.Dispose();
            _watchdog = null;
        }
    }

    /// <summary>Stops a run that has published nothing for too long; the supervisor starts it again from its checkpoint.</summary>
    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        if (_currentRun is not { } run || Stopwatch.GetElapsedTime(_lastProgress) < TimeSpan.FromSeconds(_options.StallSeconds))
            return;
        logger.LogWarning("Video {VideoId} published nothing for {Seconds:0} s after frame {Frame}; stopping the run",
            VideoId, Stopwatch.GetElapsedTime(_lastProgress).TotalSeconds, state.State.LastFrameIndex);
        _stopReason = "stalled";
        await run.CancelAsync();
    }

    /// <summary>One run: null when the video reached a final state, else what interrupted it.</summary>
    private async Task<Exception?> RunAsync(CancellationToken cancellationToken)
    {
        var job = state.State.Job!;
        using var activity = Tracing.Source.StartActivity("video.analyze", ActivityKind.Internal,
            ActivityContext.TryParse(job.TraceParent, null, out var parent) ? parent : default);
        activity?.SetTag("vireo.video_id", job.VideoId);
        activity?.SetTag("vireo.tenant_id", job.TenantId);
        activity?.SetTag("vireo.attempt", state.State.Attempt);
        try
        {
            using var source = sources.Open(await LocalPathAsync(job, cancellationToken));
            var info = await probe.ProbeAsync(source.Path, cancellationToken);
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
            return null;
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            if (_stopping.IsCancellationRequested)
                logger.LogInformation("Video {VideoId} paused after frame {Frame}: the grain is deactivating", VideoId, state.State.LastFrameIndex);
            return e;
        }
        catch (Exception e) when (IsFaultOfTheVideo(e))
        {
            await TryFailAsync(e switch
            {
                // The decoder read the file through its descriptor; the reason names the source as the client gave it.
                MediaException media => media.Message.Replace(media.Path, job.SourceLabel, StringComparison.Ordinal),
                SourceRejectedException => e.Message,
                _ => $"analysis failed: {e.Message}",
            });
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>
    /// Whether an error says something about the video itself (unreadable, refused, rejected by the model), so that
    /// running it again would fail the same way; anything else is the infrastructure's, and the run starts again.
    /// </summary>
    private static bool IsFaultOfTheVideo(Exception e) =>
        e is MediaException { IsTransient: false } or SourceRejectedException or ArgumentException;

    /// <summary>
    /// Decoding is progress for the watchdog: a resume decodes again up to its checkpoint, and sparse sampling decodes
    /// long stretches it keeps nothing of, both without publishing. The decoder reports from its own thread.
    /// </summary>
    private sealed class DecodeActivity(VideoGrain grain) : IProgress<DecodeProgress>
    {
        public void Report(DecodeProgress value) => Volatile.Write(ref grain._lastProgress, Stopwatch.GetTimestamp());
    }

    private async Task AnalyzeFramesAsync(VideoInfo info, AnalysisSettings settings, CancellationToken cancellationToken)
    {
        var resumeAfter = state.State.LastFrameIndex;
        var video = state.State.Job!.Key;
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
        Exception? decodeError = null;
        try
        {
            var decodeClock = Stopwatch.StartNew();
            await foreach (var frame in sampler.SampleAsync(info, policy, size, new DecodeActivity(this), publishingFailed.Token))
            {
                using (frame)
                {
                    var decodeMs = decodeClock.Elapsed.TotalMilliseconds;
                    if (frame.Index > resumeAfter)
                    {
                        var request = new FrameRequest(VideoId, frame.Index, frame.Width, frame.Height, frame.CopyRgb(),
                            settings.MinTiles, settings.MaxTiles, settings.Routing, settings.RouterThreshold, settings.Prompt,
                            settings.TextThreshold, settings.ShapeThreshold);
                        var meta = new FrameMeta(frame.Index, frame.Timestamp.TotalSeconds, Describe(frame.Reasons), decodeMs);
                        // The thumbnail is made from the pixels the model gets, in the background: it costs the video nothing.
                        thumbnails.Offer(video, frame.Index, request.Rgb, frame.Width, frame.Height);
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
        catch (Exception e)
        {
            // Frames already in flight are published before the error ends the run, so no status of theirs can
            // follow the video's final one.
            decodeError = e;
        }
        finally
        {
            inFlight.Writer.TryComplete();
        }
        await publishing;
        if (decodeError is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(decodeError);
    }

    private async Task<FrameOutcome> AnalyzeFrameAsync(FrameMeta meta, FrameRequest request, ResiliencePipeline retry, CancellationToken cancellationToken)
    {
        // Retries must resume on the grain's scheduler: grain calls are only allowed from the activation.
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true, cancellationToken);
        try
        {
            var analysis = await retry.ExecuteAsync(
                async c => await GrainFactory.GetGrain<IVisionWorker>(workers.Next(SiloRoles.Vision)).Analyze(request, c.CancellationToken), context);
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
                TextConfidence = language.TextConfidence,
                Tiles = analysis.Tiles,
                TokensBefore = analysis.TokensBefore,
                TokensAfter = analysis.TokensAfter,
                Timings = new StageTimings(meta.DecodeMs, analysis.VisionMs, language.LanguageMs),
                Placement = new WorkPlacement(silo.Name, analysis.VisionSilo, language.Silo),
                Model = analysis.VisionModel is null && language.Model is null ? null : new FrameModel(analysis.VisionModel, language.Model),
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
            _lastProgress = Stopwatch.GetTimestamp();
            _framesPublished++;
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

    /// <summary>
    /// Moves to the next state, checkpoints it, then publishes the status event. A final state is final: nothing
    /// moves a video out of it except a retry, which starts a new attempt.
    /// </summary>
    private async Task AdvanceAsync(VideoState next, CancellationToken cancellationToken, TimelineSegment? segment = null, VideoResult? result = null, string? reason = null)
    {
        var s = state.State;
        if (s.IsFinished)
            throw new InvalidOperationException($"video {VideoId} is already {s.State}; it cannot become {next}");
        var (previous, previousReason) = (s.State, s.Reason);
        s.State = next;
        s.Sequence = Math.Max(s.Sequence, 1) + 1;
        s.Reason = reason;
        try
        {
            await SaveAsync(cancellationToken);
        }
        catch
        {
            // Memory must not claim a state the store lacks: a failure that was never saved would stop the reminder.
            (s.State, s.Reason) = (previous, previousReason);
            throw;
        }
        if (s.IsFinished) DropDownload();
        // The state is saved: the event must follow, or the video's last word (its final state, a closed segment) is
        // lost, since nothing after this saves or publishes it again. A final state waits for the broker for as long as
        // the grain lives, any other for as long as its run does; the retries run on the grain's scheduler, as
        // everything that reads the grain's state must.
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true, s.IsFinished ? _stopping.Token : cancellationToken);
        try
        {
            await StatusPublishes.ExecuteAsync(async c => await PublishStatusAsync(c.CancellationToken, segment, result), context);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private ResiliencePipeline? _statusPublishesPipeline;

    private ResiliencePipeline StatusPublishes => _statusPublishesPipeline ??= RetryPipelines.Create(
        new RetrySettings { DelayMs = 500, MaxDelayMs = 30_000 },
        e => e is Confluent.Kafka.KafkaException { Error: { IsFatal: false, Code: not Confluent.Kafka.ErrorCode.MsgSizeTooLarge } },
        args =>
        {
            logger.LogWarning("Publishing the status of video {VideoId} failed (attempt {Attempt}): {Message}", VideoId, args.AttemptNumber + 1, args.Outcome.Exception?.Message);
            return ValueTask.CompletedTask;
        });

    /// <summary>
    /// Deletes the downloaded copy of a URL source once its video is finished: up to Pipeline:MaxDownloadBytes a video,
    /// which would otherwise fill the media silo's disk. A retry downloads it again.
    /// </summary>
    private void DropDownload()
    {
        if (state.State.DownloadedPath is not { } path) return;
        try
        {
            File.Delete(path);
            state.State.DownloadedPath = null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("The download of finished video {VideoId} could not be deleted: {Message}", VideoId, e.Message);
        }
    }

    /// <summary>
    /// Checkpoints the state, retrying a failed write. A write refused for a stale version (one that reached the store
    /// although its answer was lost) is not retried: the run is interrupted and starts again from what was stored.
    /// </summary>
    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true, cancellationToken);
        try
        {
            await StateWrites.ExecuteAsync(async _ => await state.WriteStateAsync(cancellationToken), context);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private ResiliencePipeline? _stateWritesPipeline;

    private ResiliencePipeline StateWrites => _stateWritesPipeline ??= _options.StateWriteAttempts <= 1 ? ResiliencePipeline.Empty : RetryPipelines.Create(
        new RetrySettings { DelayMs = 250, MaxDelayMs = 2_000, MaxRetries = _options.StateWriteAttempts - 1 },
        e => e is not InconsistentStateException,
        args =>
        {
            logger.LogWarning("Saving the state of video {VideoId} failed (attempt {Attempt}): {Message}", VideoId, args.AttemptNumber + 1, args.Outcome.Exception?.Message);
            return ValueTask.CompletedTask;
        });

    /// <summary>A finished video's status as it was first published: a completed one's with its last segment and its result.</summary>
    private Task PublishFinalStatusAsync(CancellationToken cancellationToken)
    {
        if (state.State.State != VideoState.Completed)
            return PublishStatusAsync(cancellationToken);
        var (last, result) = state.State.Tally.Finish(state.State.DurationSeconds);
        return PublishStatusAsync(cancellationToken, last, result);
    }

    private Task PublishStatusAsync(CancellationToken cancellationToken, TimelineSegment? segment = null, VideoResult? result = null)
    {
        var s = state.State;
        var done = s.Tally.Frames;
        var status = new VideoStatusChanged
        {
            VideoId = s.Job!.VideoId,
            TenantId = s.Job.TenantId,
            State = s.State,
            Sequence = s.Sequence,
            Attempt = s.Attempt,
            Source = s.Job.SourceLabel,
            FramesDone = done,
            FramesExpected = s.FramesExpected,
            Progress = s.State == VideoState.Completed ? 1 : s.FramesExpected is > 0 and var expected ? Math.Min(1, (double)done / expected) : 0,
            Reason = s.Reason,
            Segment = segment,
            Result = result,
            At = DateTimeOffset.UtcNow,
        };
        var fitted = status.FittedTo(publisher.MaxRecordBytes);
        if (!ReferenceEquals(fitted, status))
            logger.LogWarning("The result of video {VideoId} lists {Kept} of its {Found} distinct texts: no more fit in one record of Kafka:MaxRecordBytes ({Limit})",
                VideoId, fitted.Result!.Texts.Count, result!.Texts.Count + result.TextsOmitted, publisher.MaxRecordBytes);
        return publisher.PublishAsync(VireoTopics.VideoStatus, VideoId, fitted, cancellationToken);
    }

    /// <summary>
    /// Fails the video for good. If the failure cannot be saved, the reminder runs the video again later, and it fails
    /// (or completes) then; if it is saved but cannot be published, the reminder publishes it.
    /// </summary>
    private async Task TryFailAsync(string reason)
    {
        logger.LogWarning("Video {VideoId} failed: {Reason}", VideoId, reason);
        try
        {
            await AdvanceAsync(VideoState.Failed, CancellationToken.None, reason: reason);
            await StopReminderAsync();
        }
        catch (Exception e)
        {
            logger.LogError(e, "Video {VideoId} could not be marked failed, or its failure not published; its reminder will try again", VideoId);
        }
    }

    private async Task StopReminderAsync()
    {
        var reminder = await this.GetReminder(ResumeReminder);
        if (reminder is not null)
            await this.UnregisterReminder(reminder);
    }

    private static int? ExpectedFrames(VideoInfo info, AnalysisSettings settings)
    {
        // A video that declares no duration (one written as it was recorded) has no count to expect until it ends.
        if (settings.Fps <= 0 || settings.SceneThreshold is not null || settings.Keyframes || settings.DedupDistance is not null || info.Duration <= TimeSpan.Zero)
            return null;
        return Math.Min(settings.MaxFrames, (int)Math.Ceiling(info.Duration.TotalSeconds * settings.Fps));
    }

    private static string Describe(FrameReasons reasons) =>
        reasons == FrameReasons.None ? "none" : string.Join(',', Enum.GetValues<FrameReasons>()
            .Where(r => r != FrameReasons.None && reasons.HasFlag(r)).Select(r => r.ToString().ToLowerInvariant()));

    private sealed record FrameMeta(int Index, double TimestampSeconds, string Reasons, double DecodeMs);

    private sealed record FrameOutcome(FrameMeta Meta, FrameAnalysis Analysis);
}
