namespace Vireo.Media.Tests;

[Collection(MediaCollection.Name)]
public sealed class SamplingTests(ClipFixture clips)
{
    private static double Seconds(SampledFrame f) => f.Timestamp.TotalSeconds;

    [Fact]
    public async Task Scene_changes_are_found_at_the_cuts_within_one_frame()
    {
        var frames = await ClipFixture.SampleAllAsync(clips.SceneCuts, SamplingPolicy.SceneChanges(0.3));

        var cuts = frames.Where(f => f.Reasons.HasFlag(FrameReasons.SceneChange)).Select(Seconds).ToArray();
        Assert.Equal(2, cuts.Length);
        Assert.Equal(2.0, cuts[0], 1.0 / 25);
        Assert.Equal(4.0, cuts[1], 1.0 / 25);
        Assert.All(frames.Where(f => f.Reasons.HasFlag(FrameReasons.SceneChange)), f => Assert.True(f.SceneScore > 0.3));
        // The first frame is always kept, and only the cuts besides it.
        Assert.Equal(FrameReasons.First, frames[0].Reasons);
        Assert.Equal(3, frames.Count);
    }

    [Fact]
    public async Task Fixed_rate_keeps_the_frame_at_each_grid_point_with_its_exact_timestamp()
    {
        var frames = await ClipFixture.SampleAllAsync(clips.Steady, SamplingPolicy.FixedRate(2));

        Assert.Equal(10, frames.Count);
        for (var i = 0; i < frames.Count; i++)
        {
            Assert.Equal(i, frames[i].Index);
            Assert.Equal(TimeSpan.FromSeconds(i * 0.5), frames[i].Timestamp);
            Assert.Equal(i * 15, frames[i].SourceFrameNumber);
            Assert.True(frames[i].Reasons.HasFlag(FrameReasons.Interval));
            Assert.Equal(64 * 64 * 3, frames[i].Rgb.Length);
        }
        Assert.True(frames[0].Reasons.HasFlag(FrameReasons.First));
    }

    [Theory]
    [InlineData(3.0, null, false)]
    [InlineData(null, null, true)]
    [InlineData(7.0, 0.5, true)]
    public async Task Each_frame_is_paired_with_its_own_timestamp_and_number(double? fps, double? scene, bool keyframes)
    {
        // The picture itself says which frame it is, so a frame paired with another frame's log line shows.
        var policy = new SamplingPolicy { FramesPerSecond = fps, SceneThreshold = scene, Keyframes = keyframes };

        var frames = await ClipFixture.SampleAllAsync(clips.NumberedFrames, policy, FrameSize.Square(16));

        Assert.NotEmpty(frames);
        foreach (var frame in frames)
        {
            var rgb = frame.Rgb.Span;
            var meanRed = 0.0;
            for (var i = 0; i < rgb.Length; i += 3) meanRed += rgb[i];
            meanRed /= rgb.Length / 3;
            var numberFromPixels = (int)Math.Round(meanRed / 255.0 * 219 / 2);
            Assert.Equal(frame.SourceFrameNumber, numberFromPixels);
            Assert.Equal(TimeSpan.FromSeconds(frame.SourceFrameNumber / 25.0), frame.Timestamp);
        }
        if (keyframes) Assert.Contains(frames, f => f.SourceFrameNumber == 75 && f.Reasons.HasFlag(FrameReasons.Keyframe));
    }

    [Fact]
    public async Task A_probed_video_samples_without_probing_again()
    {
        var info = await ClipFixture.Probe().ProbeAsync(clips.Steady);
        var frames = new List<SampledFrame>();

        await foreach (var frame in ClipFixture.Sampler().SampleAsync(info, SamplingPolicy.FixedRate(1), FrameSize.Square(32)))
            frames.Add(frame);

        Assert.Equal(new[] { 0.0, 1.0, 2.0, 3.0, 4.0 }, frames.Select(Seconds));
    }

    [Fact]
    public async Task Keyframes_only_returns_the_gop_starts()
    {
        var frames = await ClipFixture.SampleAllAsync(clips.Gop25, SamplingPolicy.KeyframesOnly);

        Assert.Equal(new[] { 0.0, 1.0, 2.0, 3.0 }, frames.Select(Seconds));
        Assert.Equal(new long[] { 0, 25, 50, 75 }, frames.Select(f => f.SourceFrameNumber));
        Assert.All(frames, f => Assert.True(f.IsKeyframe && f.Reasons.HasFlag(FrameReasons.Keyframe)));
    }

    [Theory]
    // Past MaxPixels the decoder refuses the pictures (-max_pixels); past MaxWidth alone it decodes them.
    [InlineData(64 * 64 * 4, 7680)]
    [InlineData(7680L * 4320, 320)]
    public async Task A_stream_that_changes_to_pictures_past_the_limits_is_out_of_range_after_the_frames_within_them(long maxPixels, int maxWidth)
    {
        // One second at 64x64, then one at 640x480: the probe sees the first size.
        var limited = new MediaOptions { MaxPixels = maxPixels, MaxWidth = maxWidth };
        var info = await ClipFixture.Probe(limited).ProbeAsync(clips.SizeSwitch);
        Assert.Equal((64, 64), (info.Width, info.Height));
        var frames = new List<SampledFrame>();

        var error = await Assert.ThrowsAsync<MediaException>(async () =>
        {
            await foreach (var f in ClipFixture.Sampler(limited).SampleAsync(clips.SizeSwitch, SamplingPolicy.EveryFrame, FrameSize.Square(32)))
                frames.Add(f);
        });

        Assert.Equal(MediaErrorKind.DimensionsOutOfRange, error.Kind);
        Assert.InRange(frames.Count, 1, 10);
        Assert.All(frames, f => Assert.True(Seconds(f) < 1.0, $"frame at {Seconds(f)} s"));
        Assert.Empty(ProcessProbe.WithArgument(clips.SizeSwitch));
    }

    [Fact]
    public async Task Frame_numbers_go_on_across_a_change_of_picture_size()
    {
        // ffmpeg builds its filter graph again at the change to 640x480 (at 1.0 s), and its filters count from 0 again.
        var every = await ClipFixture.SampleAllAsync(clips.SizeSwitch, SamplingPolicy.EveryFrame, FrameSize.Square(32));
        var sparse = await ClipFixture.SampleAllAsync(clips.SizeSwitch, SamplingPolicy.FixedRate(0.5), FrameSize.Square(32));
        var twice = await ClipFixture.SampleAllAsync(clips.SizeSwitch, SamplingPolicy.FixedRate(2), FrameSize.Square(32));

        Assert.Equal(20, every.Count);
        Assert.All(every, f => Assert.Equal(f.Index, f.SourceFrameNumber));
        Assert.Single(every, f => f.Reasons.HasFlag(FrameReasons.First));
        // At 0.5 fps only the frame at 0 s is on the grid: the first frame of the rebuilt graph is no sample.
        Assert.Equal(new[] { 0.0 }, sparse.Select(Seconds));
        Assert.Equal(new long[] { 0, 5, 10, 15 }, twice.Select(f => f.SourceFrameNumber));
        Assert.Equal(new[] { FrameReasons.First | FrameReasons.Interval, FrameReasons.Interval, FrameReasons.Interval, FrameReasons.Interval },
            twice.Select(f => f.Reasons));
    }

    [Fact]
    public async Task The_stream_decoded_is_the_stream_probed()
    {
        // Stream 0 (320x120, 5 fps, 1 s) is not marked default; stream 1 (160x90, 10 fps, 2 s) is, and the probe describes it.
        var frames = await ClipFixture.SampleAllAsync(clips.TwoVideos, SamplingPolicy.EveryFrame, new FrameSize(160, 160, ResizeMode.Fit));

        Assert.Equal(20, frames.Count);
        Assert.Equal(1.9, Seconds(frames[^1]), 1e-6);
        Assert.All(frames, f => Assert.Equal((160, 90), (f.Width, f.Height)));
    }

    [Theory]
    [InlineData("mkv")]
    [InlineData("flv")]
    [InlineData("avi")]
    public async Task A_cut_off_file_yields_what_it_can_then_says_truncated(string container)
    {
        var path = container switch
        {
            "mkv" => clips.HalfMatroska,
            "flv" => clips.HalfFlv,
            _ => clips.HalfAvi,
        };
        var frames = new List<SampledFrame>();

        var error = await Assert.ThrowsAsync<MediaException>(async () =>
        {
            await foreach (var f in ClipFixture.Sampler().SampleAsync(path, SamplingPolicy.FixedRate(5), FrameSize.Square(32)))
                frames.Add(f);
        });

        Assert.Equal(MediaErrorKind.Truncated, error.Kind);
        Assert.InRange(frames.Count, 1, 9);
    }

    [Fact]
    public async Task A_recording_that_declares_no_duration_is_sampled_to_its_end_and_held_to_the_duration_limit()
    {
        var info = await ClipFixture.Probe().ProbeAsync(clips.Recorded);
        Assert.Equal(TimeSpan.Zero, info.Duration);

        var frames = await ClipFixture.SampleAllAsync(clips.Recorded, SamplingPolicy.FixedRate(2));
        Assert.Equal([0.0, 0.5, 1.0, 1.5, 2.0, 2.5], frames.Select(f => Math.Round(f.Timestamp.TotalSeconds, 1)));

        // With nothing declared to refuse up front, the frames' own timestamps meet the limit.
        var kept = await SampleUntilPastDurationAsync(clips.Recorded, TimeSpan.FromSeconds(1.2), SamplingPolicy.FixedRate(2));
        Assert.Equal([0.0, 0.5, 1.0], kept.Select(f => Math.Round(Seconds(f), 1)));
    }

    [Fact]
    public async Task A_frame_sampled_before_the_duration_limit_is_handed_out_even_when_ffmpeg_writes_it_after_the_limit_is_met()
    {
        // 4 s at 25 fps, no declared duration, one frame every 2 s: the frame at 2.0 s is sampled, the one at 2.04 s
        // passes the limit, and ffmpeg may write the sampled picture only when it samples the next or, as here,
        // reaches the end, 48 frames after the one past the limit.
        var kept = await SampleUntilPastDurationAsync(clips.RecordedLonger, TimeSpan.FromSeconds(2.02), SamplingPolicy.FixedRate(0.5));
        Assert.Equal([0.0, 2.0], kept.Select(f => Math.Round(Seconds(f), 2)));
    }

    /// <summary>Samples a clip under a duration limit it passes: the frames handed out before the out-of-range error.</summary>
    private static async Task<List<SampledFrame>> SampleUntilPastDurationAsync(string path, TimeSpan maxDuration, SamplingPolicy policy)
    {
        var kept = new List<SampledFrame>();
        var error = await Assert.ThrowsAsync<MediaException>(async () =>
        {
            await foreach (var f in ClipFixture.Sampler(new MediaOptions { MaxDuration = maxDuration }).SampleAsync(path, policy, FrameSize.Square(32)))
                kept.Add(f);
        });
        Assert.Equal(MediaErrorKind.DurationOutOfRange, error.Kind);
        return kept;
    }

    [Theory]
    [InlineData("narrow", 9, 448)]
    [InlineData("flat", 448, 8)]
    public async Task A_source_far_narrower_or_flatter_than_the_box_comes_out_at_least_as_large_as_the_hash_grid(string clip, int width, int height)
    {
        // 16x2000 fitted into 448x448 would be 4x448, and 2000x16 448x4: too small for the perceptual hash.
        var path = clip == "narrow" ? clips.Narrow : clips.Flat;
        var size = new FrameSize(448, 448, ResizeMode.Fit);

        var deduped = await ClipFixture.SampleAllAsync(path, SamplingPolicy.FixedRate(5) with { DedupMaxDistance = 4 }, size);
        var all = await ClipFixture.SampleAllAsync(path, SamplingPolicy.FixedRate(5), size);

        Assert.NotEmpty(deduped);
        Assert.Equal(5, all.Count);
        Assert.All(all, f => Assert.Equal((width, height), (f.Width, f.Height)));
        Assert.All(all, f => _ = f.PerceptualHash);
    }

    [Fact]
    public async Task Log_lines_written_by_a_metadata_tag_change_nothing()
    {
        // The clip is whole; its tags' names print as truncations, a refused picture and lines of our input logger.
        var tags = await ProcessRunner.RunAsync("ffprobe", ["-v", "error", "-show_entries", "format_tags", "-of", "json", clips.ForgedLog],
            TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Contains(@"\n[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] [error] stream 0, offset 0x30: partial file", tags.StandardOutput);

        var every = await ClipFixture.SampleAllAsync(clips.ForgedLog, SamplingPolicy.EveryFrame, FrameSize.Square(16));
        var sampled = await ClipFixture.SampleAllAsync(clips.ForgedLog, SamplingPolicy.FixedRate(5), FrameSize.Square(16));

        Assert.Equal(Enumerable.Range(0, 10).Select(n => n / 10.0), every.Select(f => Math.Round(Seconds(f), 6)));
        Assert.Equal(Enumerable.Range(0, 10).Select(n => (long)n), every.Select(f => f.SourceFrameNumber));
        Assert.Equal(new[] { 0.0, 0.2, 0.4, 0.6, 0.8 }, sampled.Select(f => Math.Round(Seconds(f), 6)));
    }

    [Fact]
    public async Task Every_frame_when_no_rule_is_set()
    {
        var frames = await ClipFixture.SampleAllAsync(clips.Steady, SamplingPolicy.EveryFrame, FrameSize.Square(32));

        Assert.Equal(150, frames.Count);
        Assert.All(frames, f => Assert.Equal(f.Index, f.SourceFrameNumber));
        Assert.All(frames, f => Assert.True(f.Reasons.HasFlag(FrameReasons.EveryFrame)));
        Assert.Equal(149 / 30.0, Seconds(frames[^1]), 1e-6);
    }

    [Fact]
    public async Task Rules_combine_and_each_frame_carries_all_its_reasons()
    {
        var policy = new SamplingPolicy { FramesPerSecond = 1, SceneThreshold = 0.3 };

        var frames = await ClipFixture.SampleAllAsync(clips.SceneCuts, policy);

        Assert.Equal(new[] { 0.0, 1.0, 2.0, 3.0, 4.0, 5.0 }, frames.Select(f => Math.Round(Seconds(f), 3)));
        Assert.Equal(FrameReasons.First | FrameReasons.Interval, frames[0].Reasons);
        Assert.Equal(FrameReasons.Interval | FrameReasons.SceneChange, frames[2].Reasons);
        Assert.Equal(FrameReasons.Interval | FrameReasons.SceneChange, frames[4].Reasons);
        Assert.Equal(FrameReasons.Interval, frames[3].Reasons);
    }

    [Fact]
    public async Task Max_frames_budget_stops_early_and_ffmpeg_is_gone()
    {
        var policy = SamplingPolicy.FixedRate(2) with { MaxFrames = 3 };

        var frames = await ClipFixture.SampleAllAsync(clips.Steady, policy);

        Assert.Equal(new[] { 0.0, 0.5, 1.0 }, frames.Select(Seconds));
        Assert.Empty(ProcessProbe.WithArgument(clips.Steady));
    }

    [Fact]
    public async Task Near_duplicates_of_a_still_segment_are_suppressed()
    {
        var all = await ClipFixture.SampleAllAsync(clips.WithStill, SamplingPolicy.FixedRate(2));
        var deduped = await ClipFixture.SampleAllAsync(clips.WithStill, SamplingPolicy.FixedRate(2) with { DedupMaxDistance = 4 });

        static int InStill(IEnumerable<SampledFrame> frames) => frames.Count(f => Seconds(f) >= 2.0 && Seconds(f) < 5.0);
        Assert.Equal(12, all.Count);
        Assert.Equal(6, InStill(all));
        Assert.Equal(1, InStill(deduped));
        Assert.Equal(2.0, Seconds(deduped.Single(f => Seconds(f) >= 2.0 && Seconds(f) < 5.0)), 1e-6);
        Assert.Contains(deduped, f => Seconds(f) >= 5.0); // the bars after the still are new content
        Assert.Equal(Enumerable.Range(0, deduped.Count), deduped.Select(f => f.Index));
        // Without suppression the still frames are there, with (nearly) the same hash.
        var still = all.Where(f => Seconds(f) >= 2.0 && Seconds(f) < 5.0).Select(f => f.PerceptualHash).ToArray();
        Assert.All(still, h => Assert.True(PerceptualHash.Distance(h, still[0]) <= 4));
        Assert.True(PerceptualHash.Distance(all[0].PerceptualHash, still[0]) > 4);
    }

    [Fact]
    public async Task Variable_rate_timestamps_and_frame_numbers_come_from_ffmpeg()
    {
        var every = await ClipFixture.SampleAllAsync(clips.VariableRate, SamplingPolicy.EveryFrame, FrameSize.Square(16));
        var sampled = await ClipFixture.SampleAllAsync(clips.VariableRate, SamplingPolicy.FixedRate(2));

        Assert.Equal(80, every.Count);
        var afterTwo = every.Where(f => Seconds(f) >= 2.0).Select(Seconds).ToArray();
        Assert.All(afterTwo.Zip(afterTwo.Skip(1)), pair => Assert.Equal(0.1, pair.Second - pair.First, 1e-3));
        Assert.Equal(new[] { 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5 }, sampled.Select(f => Math.Round(Seconds(f), 3)));
        // At 3.0 s a constant-rate guess would say frame 90; 60 frames in the first 2 s and 10 after make it 70.
        Assert.Equal(70, sampled.Single(f => Math.Round(Seconds(f), 3) == 3.0).SourceFrameNumber);
    }

    [Fact]
    public async Task Rotated_video_comes_out_upright_in_its_displayed_shape()
    {
        var frames = await ClipFixture.SampleAllAsync(clips.Rotated, SamplingPolicy.FixedRate(1),
            new FrameSize(160, 160, ResizeMode.Fit));

        var frame = frames[0];
        Assert.Equal((120, 160), (frame.Width, frame.Height));
        // The coded picture is white on top; turned a quarter, the white half is on the left or the right.
        var rgb = frame.CopyRgb();
        double Mean(int x0, int x1, int y0, int y1)
        {
            long sum = 0;
            for (var y = y0; y < y1; y++)
                for (var x = x0; x < x1; x++)
                    sum += rgb[(y * frame.Width + x) * 3];
            return (double)sum / ((x1 - x0) * (y1 - y0));
        }
        var leftRight = Math.Abs(Mean(0, 60, 0, 160) - Mean(60, 120, 0, 160));
        var topBottom = Math.Abs(Mean(0, 120, 0, 80) - Mean(0, 120, 80, 160));
        Assert.True(leftRight > 200, $"left/right contrast {leftRight}");
        Assert.True(topBottom < 20, $"top/bottom contrast {topBottom}");
    }

    [Fact]
    public async Task Pad_mode_letterboxes_to_the_exact_size()
    {
        var frames = await ClipFixture.SampleAllAsync(clips.Steady, SamplingPolicy.FixedRate(1) with { MaxFrames = 1 },
            new FrameSize(64, 64, ResizeMode.Pad));

        var frame = Assert.Single(frames);
        Assert.Equal((64, 64), (frame.Width, frame.Height));
        // 320x240 fitted into 64x64 is 64x48: 8 black rows above.
        Assert.All(frame.Rgb.Span[..(64 * 3 * 4)].ToArray(), b => Assert.True(b < 20));
    }

    [Fact]
    public async Task Progress_reaches_the_end()
    {
        var reports = new List<DecodeProgress>();
        var progress = new SynchronousProgress<DecodeProgress>(reports.Add);

        var frames = await ClipFixture.SampleAllAsync(clips.Steady, SamplingPolicy.FixedRate(2), progress: progress);

        var last = Assert.IsType<DecodeProgress>(reports[^1]);
        Assert.Equal(150, last.FramesDecoded);
        Assert.Equal(frames.Count, last.FramesKept);
        Assert.True(last.Fraction > 0.95, $"fraction {last.Fraction}");
        Assert.Equal(5.0, last.Duration.TotalSeconds, 0.05);
    }

    [Fact]
    public async Task Truncated_file_with_its_index_first_yields_what_it_can_then_says_truncated()
    {
        var frames = new List<SampledFrame>();

        var error = await Assert.ThrowsAsync<MediaException>(async () =>
        {
            await foreach (var f in ClipFixture.Sampler().SampleAsync(clips.TruncatedFastStart, SamplingPolicy.FixedRate(2), FrameSize.Square(32)))
                frames.Add(f);
        });

        Assert.Equal(MediaErrorKind.Truncated, error.Kind);
        Assert.InRange(frames.Count, 1, 9);
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value)
        {
            lock (this) report(value);
        }
    }
}
