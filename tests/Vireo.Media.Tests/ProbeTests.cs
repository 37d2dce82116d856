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
    public async Task Bad_input_gets_a_typed_error(string name, MediaErrorKind expected)
    {
        var path = PathOf(name);

        var error = await Assert.ThrowsAsync<MediaException>(() => ClipFixture.Probe().ProbeAsync(path));

        Assert.Equal(expected, error.Kind);
        Assert.Equal(path, error.Path);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
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
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };
}
