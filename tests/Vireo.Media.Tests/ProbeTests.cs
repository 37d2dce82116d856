namespace Vireo.Media.Tests;

[Collection(MediaCollection.Name)]
public sealed class ProbeTests(ClipFixture clips)
{
    [Fact]
    public async Task Reads_duration_size_rate_codec_and_file_size()
    {
        var info = await ClipFixture.Probe().ProbeAsync(clips.Steady);

        Assert.Equal(5.0, info.Duration.TotalSeconds, 0.05);
        Assert.Equal((320, 240), (info.Width, info.Height));
        Assert.Equal(30.0, info.FrameRate, 0.01);
        Assert.Equal("h264", info.Codec);
        Assert.Equal(0, info.Rotation);
        Assert.False(info.IsVariableFrameRate);
        Assert.Equal(new FileInfo(clips.Steady).Length, info.FileSizeBytes);
    }

    [Fact]
    public async Task Detects_variable_frame_rate()
    {
        var info = await ClipFixture.Probe().ProbeAsync(clips.VariableRate);

        Assert.True(info.IsVariableFrameRate, $"nominal {info.NominalFrameRate}, average {info.FrameRate}");
        Assert.InRange(info.FrameRate, 18.0, 23.0); // 80 frames in about 4 s, against a nominal 30
    }

    [Fact]
    public async Task Rotation_swaps_displayed_dimensions()
    {
        var info = await ClipFixture.Probe().ProbeAsync(clips.Rotated);

        Assert.Contains(info.Rotation, new[] { 90, 270 });
        Assert.Equal((320, 240), (info.CodedWidth, info.CodedHeight));
        Assert.Equal((240, 320), (info.Width, info.Height));
    }

    [Theory]
    [InlineData("empty", MediaErrorKind.EmptyFile)]
    [InlineData("truncated", MediaErrorKind.Truncated)]
    [InlineData("text", MediaErrorKind.NotAVideo)]
    [InlineData("audio", MediaErrorKind.NoVideoStream)]
    [InlineData("huge", MediaErrorKind.DimensionsOutOfRange)]
    [InlineData("absurd", MediaErrorKind.DimensionsOutOfRange)]
    [InlineData("missing", MediaErrorKind.NotFound)]
    [InlineData("bad-rotation", MediaErrorKind.Corrupt)]
    [InlineData("huge-tag", MediaErrorKind.Corrupt)]
    [InlineData("cover", MediaErrorKind.NoVideoStream)]
    [InlineData("cover-still", MediaErrorKind.NoVideoStream)]
    public async Task Bad_input_gets_a_typed_error(string name, MediaErrorKind expected)
    {
        var path = PathOf(name);

        var error = await Assert.ThrowsAsync<MediaException>(() => ClipFixture.Probe().ProbeAsync(path));

        Assert.Equal(expected, error.Kind);
        Assert.Equal(path, error.Path);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        // The reason reaches clients: it names ffmpeg's components, not where they lay in its memory.
        Assert.DoesNotMatch(@"\b0x[0-9a-fA-F]{6,}\b", error.Message);
    }

    [Fact]
    public async Task Links_that_loop_are_not_found()
    {
        var folder = Directory.CreateTempSubdirectory("vireo-loop-").FullName;
        try
        {
            var a = Path.Combine(folder, "a.mp4");
            var b = Path.Combine(folder, "b.mp4");
            File.CreateSymbolicLink(a, b);
            File.CreateSymbolicLink(b, a);

            var error = await Assert.ThrowsAsync<MediaException>(() => ClipFixture.Probe().ProbeAsync(a));

            Assert.Equal(MediaErrorKind.NotFound, error.Kind);
            Assert.Equal(a, error.Path);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task The_default_video_stream_is_described_and_named_by_its_index()
    {
        // Stream 0 is 320x120 and not marked default; stream 1, 160x90, is.
        var info = await ClipFixture.Probe().ProbeAsync(clips.TwoVideos);

        Assert.Equal(1, info.StreamIndex);
        Assert.Equal((160, 90), (info.Width, info.Height));
        Assert.Equal(10.0, info.FrameRate, 0.01);
    }

    [Theory]
    [InlineData(89.6, true)]
    [InlineData(90.4, true)]
    [InlineData(89.2, false)]
    public async Task A_rotation_ffmpeg_rounds_to_a_quarter_turn_is_one(double degrees, bool quarterTurn)
    {
        // ffmpeg rounds the display matrix's angle to whole degrees and turns the picture only at exactly 90;
        // ffprobe prints the angle cut to an integer (89.6 as 89).
        var path = Path.Combine(clips.Folder, $"rotated-{degrees.ToString(System.Globalization.CultureInfo.InvariantCulture)}.mp4");
        await File.WriteAllBytesAsync(path, WithRotation(await File.ReadAllBytesAsync(clips.Rotated), degrees));

        var info = await ClipFixture.Probe().ProbeAsync(path);
        var frame = Assert.Single(await ClipFixture.SampleAllAsync(path, SamplingPolicy.FixedRate(1), new FrameSize(160, 160, ResizeMode.Fit)));

        Assert.Equal(quarterTurn, info.IsQuarterTurn);
        Assert.Equal(quarterTurn ? (240, 320) : (320, 240), (info.Width, info.Height));
        Assert.Equal(quarterTurn ? (120, 160) : (160, 120), (frame.Width, frame.Height));
        // The coded picture is white on top: turned a quarter, the white half is on the left or the right, and the
        // picture is not squeezed into the wrong shape, so both columns are plainly one colour or the other.
        var rgb = frame.CopyRgb();
        double Column(int x)
        {
            long sum = 0;
            for (var y = 0; y < frame.Height; y++) sum += rgb[(y * frame.Width + x) * 3];
            return (double)sum / frame.Height;
        }
        if (quarterTurn) Assert.True(Math.Abs(Column(10) - Column(frame.Width - 10)) > 200, $"columns {Column(10)} and {Column(frame.Width - 10)}");
    }

    /// <summary>The MP4 with its track header's matrix set to a rotation of <paramref name="degrees"/>, the way the rotate=90 tag writes it.</summary>
    private static byte[] WithRotation(byte[] mp4, double degrees)
    {
        var tkhd = mp4.AsSpan().IndexOf("tkhd"u8);
        Assert.True(tkhd > 0);
        // Version, flags, times, track id and duration (32 or 64 bits wide by version), then layer, group, volume.
        var matrix = tkhd + (mp4[tkhd + 4] == 1 ? 56 : 44);
        var radians = degrees * Math.PI / 180;
        var cos = (int)Math.Round(Math.Cos(radians) * 65536);
        var sin = (int)Math.Round(Math.Sin(radians) * 65536);
        int[] values = [cos, -sin, 0, sin, cos];
        for (var i = 0; i < values.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(mp4.AsSpan(matrix + 4 * i), values[i]);
        return mp4;
    }

    [Fact]
    public async Task A_file_reached_through_its_open_descriptor_is_sized_as_itself()
    {
        // How a media silo probes an upload: through /proc/PID/fd/N of the file it opened, a link whose own size is not the file's.
        using var empty = File.OpenHandle(PathOf("empty"));
        var viaDescriptor = $"/proc/{Environment.ProcessId}/fd/{empty.DangerousGetHandle()}";
        var error = await Assert.ThrowsAsync<MediaException>(() => ClipFixture.Probe().ProbeAsync(viaDescriptor));
        Assert.Equal(MediaErrorKind.EmptyFile, error.Kind);

        using var clip = File.OpenHandle(clips.Steady);
        var tooLarge = await Assert.ThrowsAsync<MediaException>(() =>
            ClipFixture.Probe(new MediaOptions { MaxFileSizeBytes = 1000 }).ProbeAsync($"/proc/{Environment.ProcessId}/fd/{clip.DangerousGetHandle()}"));
        Assert.Equal(MediaErrorKind.FileTooLarge, tooLarge.Kind);
    }

    [Theory]
    [InlineData("huge", MediaErrorKind.DimensionsOutOfRange)]
    [InlineData("text", MediaErrorKind.NotAVideo)]
    [InlineData("empty", MediaErrorKind.EmptyFile)]
    public async Task Sampler_refuses_bad_input_before_decoding(string name, MediaErrorKind expected)
    {
        var path = PathOf(name);

        var error = await Assert.ThrowsAsync<MediaException>(async () =>
            await ClipFixture.SampleAllAsync(path, SamplingPolicy.FixedRate(1)));

        Assert.Equal(expected, error.Kind);
        Assert.Empty(ProcessProbe.WithArgument(path));
    }

    [Fact]
    public async Task Limits_on_size_duration_and_file_size_are_enforced()
    {
        var narrow = await Assert.ThrowsAsync<MediaException>(() =>
            ClipFixture.Probe(new MediaOptions { MaxWidth = 300 }).ProbeAsync(clips.Steady));
        var fewPixels = await Assert.ThrowsAsync<MediaException>(() =>
            ClipFixture.Probe(new MediaOptions { MaxPixels = 320 * 200 }).ProbeAsync(clips.Steady));
        var shorter = await Assert.ThrowsAsync<MediaException>(() =>
            ClipFixture.Probe(new MediaOptions { MaxDuration = TimeSpan.FromSeconds(2) }).ProbeAsync(clips.Steady));
        var smaller = await Assert.ThrowsAsync<MediaException>(() =>
            ClipFixture.Probe(new MediaOptions { MaxFileSizeBytes = 1000 }).ProbeAsync(clips.Steady));

        Assert.Equal(MediaErrorKind.DimensionsOutOfRange, narrow.Kind);
        Assert.Equal(MediaErrorKind.DimensionsOutOfRange, fewPixels.Kind);
        Assert.Equal(MediaErrorKind.DurationOutOfRange, shorter.Kind);
        Assert.Equal(MediaErrorKind.FileTooLarge, smaller.Kind);
    }

    [Fact]
    public async Task A_hanging_ffprobe_times_out_and_is_killed()
    {
        // The one place a stand-in binary is needed: real ffprobe does not hang on demand.
        var folder = Directory.CreateTempSubdirectory("vireo-hang-").FullName;
        try
        {
            var marker = "29.4242";
            var script = Path.Combine(folder, "ffprobe");
            await File.WriteAllTextAsync(script, $"#!/bin/sh\nexec sleep {marker}\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var options = new MediaOptions { BinaryFolder = folder, ProbeTimeout = TimeSpan.FromSeconds(1) };

            var clock = System.Diagnostics.Stopwatch.StartNew();

            var error = await Assert.ThrowsAsync<MediaException>(() => ClipFixture.Probe(options).ProbeAsync(clips.Steady));

            Assert.Equal(MediaErrorKind.Timeout, error.Kind);
            Assert.True(error.IsTransient);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
            Assert.Empty(ProcessProbe.WithArgument(marker));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private string PathOf(string name) => name switch
    {
        "empty" => clips.Empty,
        "truncated" => clips.Truncated,
        "text" => clips.Text,
        "audio" => clips.AudioOnly,
        "huge" => clips.Huge,
        "absurd" => clips.Absurd,
        "missing" => Path.Combine(clips.Folder, "does-not-exist.mp4"),
        "bad-rotation" => clips.BadRotation,
        "huge-tag" => clips.HugeTag,
        "cover" => clips.CoverArt,
        "cover-still" => clips.CoverStill,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };
}
