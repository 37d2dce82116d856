using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Vireo.Media;

/// <summary>
/// Samples frames in a single ffmpeg pass: one filter graph decodes, logs every decoded frame, selects the
/// frames the policy keeps (fixed-rate grid, scene score, keyframe, first frame), logs those, and scales them,
/// which ffmpeg writes raw to stdout while the log goes to stderr. The pictures travel as yuv420p and become RGB24
/// here (<see cref="YuvToRgb"/>) wherever that is the conversion ffmpeg itself would make, else ffmpeg writes RGB24.
/// Perceptual hashing and near-duplicate suppression run here, on the small output frames.
/// </summary>
public sealed partial class FrameSampler(IMediaProbe probe, IOptions<MediaOptions> options, ILogger<FrameSampler> logger) : IFrameSampler
{
    private readonly MediaOptions _options = options.Value;

    /// <inheritdoc />
    public async IAsyncEnumerable<SampledFrame> SampleAsync(
        string path,
        SamplingPolicy policy,
        FrameSize size,
        IProgress<DecodeProgress>? progress = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ValidateRequest(policy, size);
        var info = await probe.ProbeAsync(path, cancellationToken).ConfigureAwait(false);
        await foreach (var frame in SampleAsync(info, policy, size, progress, cancellationToken).ConfigureAwait(false))
            yield return frame;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<SampledFrame> SampleAsync(
        VideoInfo video,
        SamplingPolicy policy,
        FrameSize size,
        IProgress<DecodeProgress>? progress = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(video);
        ValidateRequest(policy, size);
        // A VideoInfo can be made by hand: the limits hold whatever its origin.
        if (!Path.IsPathFullyQualified(video.Path))
            throw new ArgumentException("VideoInfo.Path must be a full local path, as the probe reports it.", nameof(video));
        MediaLimits.Check(video, _options);
        var info = video;
        var (width, height) = size.OutputFor(info.Width, info.Height);
        var names = FilterNames.ForRun();
        var arguments = FfmpegArguments.ForSampling(info, policy, size, _options, names);

        var transport = FfmpegArguments.YuvTransport(info, size);
        await using var run = new DecodeRun(this, info, policy, width, height, transport, arguments, names, progress, cancellationToken);
        run.Start();
        while (await run.Frames.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (run.Frames.TryRead(out var frame))
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    frame.Dispose();
                    cancellationToken.ThrowIfCancellationRequested();
                }
                yield return frame;
            }
        }
    }

    private void ValidateRequest(SamplingPolicy policy, FrameSize size)
    {
        ArgumentNullException.ThrowIfNull(policy);
        policy.Validate();
        if (size.Width < PerceptualHash.GridWidth || size.Height < PerceptualHash.GridHeight
            || size.Width > _options.MaxOutputSide || size.Height > _options.MaxOutputSide)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"Output sides must be between 9x8 and {_options.MaxOutputSide}.");
    }

    /// <summary>One ffmpeg process and the two tasks reading its stdout (frames) and stderr (frame log).</summary>
    private sealed class DecodeRun : IAsyncDisposable
    {
        private readonly FrameSampler _owner;
        private readonly VideoInfo _info;
        private readonly SamplingPolicy _policy;
        private readonly int _width, _height;
        private readonly YuvMatrix? _transport;
        private readonly IReadOnlyList<string> _arguments;
        private readonly IProgress<DecodeProgress>? _progress;
        private readonly CancellationToken _callerToken;
        private readonly CancellationTokenSource _decodeTimeout = new();
        private readonly CancellationTokenSource _stall = new();
        private readonly Lock _stallGate = new();
        private bool _awaitingFfmpeg;
        private readonly CancellationTokenSource _stop;
        private readonly Channel<SampledFrame> _frames;
        private readonly Channel<SelectedFrame> _selected = Channel.CreateUnbounded<SelectedFrame>(new() { SingleReader = true, SingleWriter = true });
        private readonly FfmpegLogParser _log;
        private readonly Stopwatch _clock = new();
        private Process? _process;
        private Task _stderrTask = Task.CompletedTask;
        private Task _stdoutTask = Task.CompletedTask;
        private int _kept;
        private long _lastProgressTicks = long.MinValue;

        public DecodeRun(FrameSampler owner, VideoInfo info, SamplingPolicy policy, int width, int height, YuvMatrix? transport,
            IReadOnlyList<string> arguments, FilterNames names, IProgress<DecodeProgress>? progress, CancellationToken callerToken)
        {
            _owner = owner;
            _info = info;
            _policy = policy;
            _width = width;
            _height = height;
            _transport = transport;
            _arguments = arguments;
            _progress = progress;
            _callerToken = callerToken;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(callerToken, _decodeTimeout.Token, _stall.Token);
            _frames = Channel.CreateBounded<SampledFrame>(new BoundedChannelOptions(owner._options.FrameQueueCapacity)
            {
                SingleReader = true,
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
            _log = new FfmpegLogParser(names, policy.FramesPerSecond, everyFrameIsOutput: policy.KeepsEveryFrame, owner._options);
        }

        public ChannelReader<SampledFrame> Frames => _frames.Reader;

        public void Start()
        {
            var startInfo = new ProcessStartInfo(FfmpegBinaries.FfmpegPath(_owner._options))
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
                CreateNoWindow = true,
            };
            foreach (var a in _arguments) startInfo.ArgumentList.Add(a);
            _owner.LogStarting(_info.Path, string.Join(' ', _arguments));
            _clock.Start();
            try
            {
                _process = Process.Start(startInfo) ?? throw new InvalidOperationException("Process.Start returned null");
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                throw new MediaException(MediaErrorKind.DecodeFailed, _info.Path, $"ffmpeg could not be started: {e.Message}", e);
            }
            _process.StandardInput.Close();
            PipeTuning.TryEnlarge(_process.StandardOutput.BaseStream);
            _decodeTimeout.CancelAfter(_owner._options.DecodeTimeout);
            // Killing ffmpeg is what makes every blocked read return, whatever stopped the run.
            _stop.Token.Register(static state => ((DecodeRun)state!).Kill(), this);
            // Two dedicated threads doing blocking reads: ffmpeg writes its log line by line and the frames in
            // pipe-sized pieces, and blocking reads cost far less CPU per wake-up than asynchronous ones (measured:
            // several seconds of CPU less over the 1800-frame benchmark). Killing ffmpeg unblocks both.
            _stderrTask = Task.Factory.StartNew(ReadLog, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            _stdoutTask = Task.Factory.StartNew(ReadFrames, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        private void ReadLog()
        {
            var stderr = _process!.StandardError;
            try
            {
                var refused = false;
                var linesSinceRefusal = 0;
                while (stderr.ReadLine() is { } line)
                {
                    // Every decoded frame logs a line: ffmpeg is busy even when it keeps no frame for a long while.
                    FfmpegSpoke();
                    if (_log.Feed(line) is { } selected) _selected.Writer.TryWrite(selected);
                    else ReportProgress(force: false);
                    if (!refused && _log.OutOfLimits is not null)
                    {
                        // A picture or a frame time past the limits: the frames selected before it are still handed
                        // out, then the error. ffmpeg may write a selected picture only once it selects the next or
                        // reaches the end, so it is stopped when the last of them has been read (here, if it already
                        // has), or when it has gone on for a while past the limits without writing it.
                        refused = true;
                        _selected.Writer.TryComplete(OutOfLimits());
                        KillIfRefusedAndDrained();
                    }
                    else if (refused && ++linesSinceRefusal == LogLinesAfterRefusal) Kill();
                }
                _log.Complete();
                _selected.Writer.TryComplete(_log.OutOfLimits is null ? null : OutOfLimits());
            }
            catch (Exception e)
            {
                _selected.Writer.TryComplete(e);
            }
        }

        /// <summary>
        /// Starts the stall clock while the reader waits on ffmpeg; <see cref="FfmpegSpoke"/> restarts it at each log
        /// line, and <see cref="StopAwaitingFfmpeg"/> stops it while a frame waits for the consumer, which is not
        /// ffmpeg's delay.
        /// </summary>
        private void AwaitFfmpeg()
        {
            lock (_stallGate)
            {
                _awaitingFfmpeg = true;
                _stall.CancelAfter(_owner._options.StallTimeout);
            }
        }

        private void StopAwaitingFfmpeg()
        {
            lock (_stallGate)
            {
                _awaitingFfmpeg = false;
                _stall.CancelAfter(Timeout.Infinite);
            }
        }

        private void FfmpegSpoke()
        {
            lock (_stallGate)
            {
                if (_awaitingFfmpeg) _stall.CancelAfter(_owner._options.StallTimeout);
            }
        }

        private void ReportProgress(bool force)
        {
            if (_progress is null) return;
            // At most about every 200 ms: a Progress<T> posts each report to a synchronization context.
            var now = _clock.Elapsed.Ticks;
            if (!force && now - _lastProgressTicks < TimeSpan.TicksPerMillisecond * 200) return;
            _lastProgressTicks = now;
            _progress.Report(new DecodeProgress(_log.Position, _info.Duration, _log.FramesDecoded, Volatile.Read(ref _kept)));
        }

        private void ReadFrames()
        {
            Exception? failure = null;
            try
            {
                PumpFrames();
            }
            catch (Exception e)
            {
                failure = e;
            }
            _frames.Writer.TryComplete(failure is null ? null : Translate(failure));
        }

        private void PumpFrames()
        {
            var stdout = _process!.StandardOutput.BaseStream;
            var frameBytes = _width * _height * 3;
            // With a YUV transport each picture lands in one reused buffer and is converted here, on this thread,
            // while ffmpeg decodes the next one; the consumer still gets RGB24.
            var transport = _transport;
            var wireBytes = transport is null ? frameBytes : YuvToRgb.Yuv420Bytes(_width, _height);
            var wire = transport is null ? null : ArrayPool<byte>.Shared.Rent(wireBytes);
            try
            {
                PumpFrames(stdout, transport, wire, wireBytes, frameBytes);
            }
            finally
            {
                if (wire is not null) ArrayPool<byte>.Shared.Return(wire);
            }
        }

        private void PumpFrames(Stream stdout, YuvMatrix? transport, byte[]? wire, int wireBytes, int frameBytes)
        {
            var index = 0;
            ulong? lastKeptHash = null;
            while (true)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(frameBytes);
                var handedOut = false;
                try
                {
                    AwaitFfmpeg();
                    var target = wire ?? buffer;
                    var read = stdout.ReadAtLeast(target.AsSpan(0, wireBytes), wireBytes, throwOnEndOfStream: false);
                    // A stop (cancellation, time limit) kills ffmpeg, which ends the read early.
                    _stop.Token.ThrowIfCancellationRequested();
                    if (read == 0) break;
                    if (read < wireBytes) throw new EndOfStreamException($"ffmpeg stopped in the middle of a frame ({read} of {wireBytes} bytes)");
                    if (!_selected.Reader.TryRead(out var selected)
                        && !(Wait(_selected.Reader.WaitToReadAsync(_stop.Token)) && _selected.Reader.TryRead(out selected)))
                        throw new InvalidDataException("ffmpeg wrote a frame it did not log");
                    KillIfRefusedAndDrained();
                    StopAwaitingFfmpeg();
                    var reasons = ReasonsFor(selected);
                    // The first frame through a rebuilt filter graph passes select as a "first" frame; unless the policy
                    // has a reason of its own to keep it, it is not kept.
                    if (reasons == FrameReasons.None && selected.OpensGraph) continue;
                    if (transport is { } matrix)
                        YuvToRgb.Convert(wire.AsSpan(0, wireBytes), buffer.AsSpan(0, frameBytes), _width, _height, matrix);

                    ulong? hash = null;
                    if (_policy.DedupMaxDistance is { } maxDistance)
                    {
                        hash = PerceptualHash.DifferenceHash(buffer.AsSpan(0, frameBytes), _width, _height);
                        if (lastKeptHash is { } last && PerceptualHash.Distance(hash.Value, last) <= maxDistance) continue;
                    }

                    var frame = new SampledFrame(buffer, frameBytes, hash)
                    {
                        Index = index,
                        SourceFrameNumber = selected.Number,
                        Timestamp = selected.Timestamp,
                        Reasons = reasons,
                        SceneScore = selected.SceneScore,
                        IsKeyframe = selected.IsKey,
                        Width = _width,
                        Height = _height,
                    };
                    if (!_frames.Writer.TryWrite(frame)) Wait(_frames.Writer.WriteAsync(frame, _stop.Token));
                    handedOut = true;
                    if (hash is not null) lastKeptHash = hash;
                    index++;
                    Volatile.Write(ref _kept, index);
                    // Budget spent: stop here; disposing the run kills ffmpeg.
                    if (_policy.MaxFrames is { } max && index >= max) return;
                }
                finally
                {
                    if (!handedOut) ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            // End of stream: ffmpeg is exiting; let it finish and judge how it went.
            AwaitFfmpeg();
            Wait(new ValueTask(_process!.WaitForExitAsync(_stop.Token)));
            Wait(new ValueTask(_stderrTask.WaitAsync(_stop.Token)));
            StopAwaitingFfmpeg();
            ReportProgress(force: true);
            var exitCode = _process.ExitCode;
            _owner.LogFinished(_info.Path, _log.FramesDecoded, index, exitCode, _clock.Elapsed);
            if (_log.OutOfLimits is not null) throw OutOfLimits();
            if (exitCode != 0 || _log.FramesDecoded == 0)
            {
                var kind = _log.SawTruncation ? MediaErrorKind.Truncated : FfmpegErrors.Classify(_log.Errors) ?? MediaErrorKind.DecodeFailed;
                throw new MediaException(kind, _info.Path,
                    $"ffmpeg exited with code {exitCode} after {_log.FramesDecoded} frames: {FfmpegErrors.Describe(_log.Errors)}");
            }
            if (_log.SawTruncation)
                throw new MediaException(MediaErrorKind.Truncated, _info.Path,
                    $"the file ends early; {_log.FramesDecoded} frames could be decoded: {FfmpegErrors.Summary(_log.Errors)}");
        }

        /// <summary>
        /// Once the log has refused the stream and every frame selected before that has been read from the pipe,
        /// ffmpeg has nothing more to give. Both threads call this, so whichever comes last stops it.
        /// </summary>
        private void KillIfRefusedAndDrained()
        {
            if (_selected.Reader.Completion.IsFaulted) Kill();
        }

        /// <summary>How far ffmpeg may go past a refusal (at least a line per decoded frame) to write what it selected before.</summary>
        private const int LogLinesAfterRefusal = 1000;

        private MediaException OutOfLimits() => new(_log.OutOfLimits!.Kind, _info.Path, _log.OutOfLimits.Reason);

        // This runs on a dedicated thread with no synchronization context: blocking on a wait is safe here.
        private static void Wait(ValueTask pending) => pending.AsTask().GetAwaiter().GetResult();

        private static T Wait<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

        private FrameReasons ReasonsFor(SelectedFrame frame)
        {
            if (_policy.KeepsEveryFrame) return frame.Number == 0 ? FrameReasons.EveryFrame | FrameReasons.First : FrameReasons.EveryFrame;
            var reasons = FrameReasons.None;
            if (frame.Number == 0) reasons |= FrameReasons.First;
            if (frame.OnInterval) reasons |= FrameReasons.Interval;
            if (_policy.Keyframes && frame.IsKey) reasons |= FrameReasons.Keyframe;
            if (_policy.SceneThreshold is { } threshold && frame.SceneScore > threshold) reasons |= FrameReasons.SceneChange;
            // ffmpeg compared the unrounded score; the log prints six decimals. It selected the frame, and the
            // scene rule is the only one whose verdict the rounding can hide. Not so for the first frame through a
            // filter graph ffmpeg built again (a change of picture size): the select filter counts frames from 0
            // there and keeps it as a "first" frame, with no score to compare; it gets no reason, and is skipped.
            if (reasons == FrameReasons.None && _policy.SceneThreshold is not null && !frame.OpensGraph) reasons = FrameReasons.SceneChange;
            return reasons;
        }

        private Exception Translate(Exception e)
        {
            if (e is MediaException) return e;
            if (_callerToken.IsCancellationRequested) return new OperationCanceledException("Sampling was cancelled.", e, _callerToken);
            if (_decodeTimeout.IsCancellationRequested)
                return new MediaException(MediaErrorKind.Timeout, _info.Path, $"decoding ran longer than {_owner._options.DecodeTimeout}", e);
            if (_stall.IsCancellationRequested)
                return new MediaException(MediaErrorKind.Timeout, _info.Path, $"ffmpeg produced nothing for {_owner._options.StallTimeout}", e);
            // Stopping ffmpeg for a picture past the limits may cut its last frame short.
            if (_log.OutOfLimits is not null) return OutOfLimits();
            var kind = _log.SawTruncation ? MediaErrorKind.Truncated : FfmpegErrors.Classify(_log.Errors) ?? MediaErrorKind.DecodeFailed;
            return new MediaException(kind, _info.Path, $"decoding failed: {e.Message} {FfmpegErrors.Summary(_log.Errors)}", e);
        }

        private void Kill()
        {
            try
            {
                if (_process is { HasExited: false } p)
                {
                    p.Kill(entireProcessTree: true);
                    _owner.LogKilled(_info.Path, p.Id);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }

        public async ValueTask DisposeAsync()
        {
            // Stopping early (consumer broke off, budget reached, error, cancellation) must not leave ffmpeg running.
            Kill();
            _stop.Cancel();
            await Task.WhenAll(_stdoutTask, _stderrTask).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
            if (_process is not null)
            {
                try
                {
                    await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    _owner.LogNotExited(_info.Path);
                }
                _process.Dispose();
            }
            while (_frames.Reader.TryRead(out var frame)) frame.Dispose();
            _stop.Dispose();
            _stall.Dispose();
            _decodeTimeout.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Decoding {Path}: ffmpeg {Arguments}")]
    private partial void LogStarting(string path, string arguments);

    [LoggerMessage(Level = LogLevel.Information, Message = "Decoded {Path}: {FramesDecoded} frames decoded, {FramesKept} kept, exit code {ExitCode}, {Elapsed}")]
    private partial void LogFinished(string path, long framesDecoded, int framesKept, int exitCode, TimeSpan elapsed);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Stopped ffmpeg (pid {ProcessId}) decoding {Path}")]
    private partial void LogKilled(string path, int processId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ffmpeg decoding {Path} did not exit within 10 s of being killed")]
    private partial void LogNotExited(string path);
}
