namespace Vireo.Media.Tests;

[Collection(MediaCollection.Name)]
public sealed class LifecycleTests(ClipFixture clips)
{
    [Fact]
    public async Task Cancellation_stops_ffmpeg()
    {
        using var cts = new CancellationTokenSource();
        var seen = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var frame in ClipFixture.Sampler().SampleAsync(clips.Steady, SamplingPolicy.EveryFrame, FrameSize.Tile448, null, cts.Token))
            {
                using (frame)
                {
                    seen++;
                    // ffmpeg is running (the consumer holds it back); cancel while it is.
                    Assert.NotEmpty(ProcessProbe.WithArgument(clips.Steady));
                    cts.Cancel();
                }
            }
        });

        Assert.Equal(1, seen);
        Assert.Empty(ProcessProbe.WithArgument(clips.Steady));
    }

    [Fact]
    public void The_process_finder_sees_a_live_child()
    {
        // The "ffmpeg is gone" assertions mean something only if a live process would be found.
        using var sleeper = System.Diagnostics.Process.Start("sleep", "27.4242")!;
        var found = ProcessProbe.WithArgument("27.4242");
        sleeper.Kill();
        Assert.Equal(sleeper.Id, Assert.Single(found));
    }

    [Fact]
    public async Task A_consumer_that_holds_back_holds_ffmpeg_back()
    {
        // Bounded memory: with the consumer sitting on its first frame, ffmpeg must end up blocked on the pipe
        // (a handful of frames ahead) rather than decode the whole clip into our memory.
        var options = new MediaOptions { FrameQueueCapacity = 2 };
        var reports = new List<DecodeProgress>();
        var progress = new RecordingProgress(reports);
        await using var frames = ClipFixture.Sampler(options)
            .SampleAsync(clips.Steady, SamplingPolicy.EveryFrame, FrameSize.Tile448, progress)
            .GetAsyncEnumerator();

        Assert.True(await frames.MoveNextAsync());
        var ffmpeg = Assert.Single(ProcessProbe.WithArgument(clips.Steady));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!ProcessProbe.IsBlockedWritingToPipe(ffmpeg))
        {
            Assert.True(DateTime.UtcNow < deadline, "ffmpeg never blocked on its output pipe");
            await Task.Delay(10);
        }

        Assert.NotEmpty(ProcessProbe.WithArgument(clips.Steady));
        lock (reports) Assert.All(reports, r => Assert.True(r.FramesDecoded < 30, $"{r.FramesDecoded} frames decoded ahead"));
        frames.Current.Dispose();
    }

    private sealed class RecordingProgress(List<DecodeProgress> reports) : IProgress<DecodeProgress>
    {
        public void Report(DecodeProgress value)
        {
            lock (reports) reports.Add(value);
        }
    }

    [Fact]
    public async Task Stopping_the_enumeration_early_stops_ffmpeg()
    {
        await foreach (var frame in ClipFixture.Sampler().SampleAsync(clips.Steady, SamplingPolicy.EveryFrame, FrameSize.Tile448))
        {
            frame.Dispose();
            break;
        }

        Assert.Empty(ProcessProbe.WithArgument(clips.Steady));
    }

    [Fact]
    public async Task A_stalled_ffmpeg_times_out_and_is_killed()
    {
        // The stand-in ffmpeg never writes; the real ffprobe still probes the clip.
        var folder = Directory.CreateTempSubdirectory("vireo-stall-").FullName;
        try
        {
            var marker = "28.4242";
            File.CreateSymbolicLink(Path.Combine(folder, "ffprobe"), "/usr/bin/ffprobe");
            var script = Path.Combine(folder, "ffmpeg");
            await File.WriteAllTextAsync(script, $"#!/bin/sh\nexec sleep {marker}\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var options = new MediaOptions { BinaryFolder = folder, StallTimeout = TimeSpan.FromSeconds(1) };

            var error = await Assert.ThrowsAsync<MediaException>(async () =>
                await ClipFixture.SampleAllAsync(clips.Steady, SamplingPolicy.EveryFrame, options: options));

            Assert.Equal(MediaErrorKind.Timeout, error.Kind);
            Assert.Empty(ProcessProbe.WithArgument(marker));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Decoding_long_without_keeping_a_frame_is_not_a_stall_while_ffmpeg_logs_its_progress()
    {
        // ffmpeg held to the clip's own pace (-re): about 5 s of decoding that keeps only the frame at 0 s, five times
        // the stall timeout without a frame on stdout, while the log names every decoded frame.
        var folder = Directory.CreateTempSubdirectory("vireo-sparse-").FullName;
        try
        {
            File.CreateSymbolicLink(Path.Combine(folder, "ffprobe"), "/usr/bin/ffprobe");
            var script = Path.Combine(folder, "ffmpeg");
            await File.WriteAllTextAsync(script, "#!/bin/sh\nexec /usr/bin/ffmpeg -re \"$@\"\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var options = new MediaOptions { BinaryFolder = folder, StallTimeout = TimeSpan.FromSeconds(1) };

            var frames = await ClipFixture.SampleAllAsync(clips.Steady, SamplingPolicy.FixedRate(0.1), options: options);

            Assert.Equal(TimeSpan.Zero, Assert.Single(frames).Timestamp);
            frames.ForEach(f => f.Dispose());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Perceptual_hash_separates_different_pictures_and_matches_equal_ones()
    {
        const int w = 64, h = 48;
        var gradient = new byte[w * h * 3];
        var inverse = new byte[w * h * 3];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                for (var c = 0; c < 3; c++)
                {
                    gradient[(y * w + x) * 3 + c] = (byte)(x * 4 + y % 3);
                    inverse[(y * w + x) * 3 + c] = (byte)(255 - x * 4);
                }
        var brighter = gradient.Select(b => (byte)Math.Min(255, b + 10)).ToArray();

        var a = PerceptualHash.DifferenceHash(gradient, w, h);

        Assert.Equal(0, PerceptualHash.Distance(a, PerceptualHash.DifferenceHash(gradient, w, h)));
        Assert.True(PerceptualHash.Distance(a, PerceptualHash.DifferenceHash(brighter, w, h)) <= 4);
        Assert.True(PerceptualHash.Distance(a, PerceptualHash.DifferenceHash(inverse, w, h)) >= 48);
    }

    [Fact]
    public void Invalid_policies_are_refused()
    {
        Assert.Throws<ArgumentException>(() => SamplingPolicy.FixedRate(0).Validate());
        Assert.Throws<ArgumentException>(() => SamplingPolicy.SceneChanges(1.5).Validate());
        Assert.Throws<ArgumentException>(() => (SamplingPolicy.EveryFrame with { DedupMaxDistance = 65 }).Validate());
        Assert.Throws<ArgumentException>(() => (SamplingPolicy.EveryFrame with { MaxFrames = 0 }).Validate());
    }
}
