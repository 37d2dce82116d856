namespace Vireo.Media.Tests;

/// <summary>
/// Files that make ffmpeg open other files (playlists, concat lists) are refused with a typed error, so that a file
/// inside the media root never leads ffmpeg to one outside it. Each test has its own root and an outside folder.
/// </summary>
[Collection(MediaCollection.Name)]
public sealed class IndirectionTests(ClipFixture clips) : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("vireo-root-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("vireo-outside-").FullName;

    private string Secret => Path.Combine(_outside, "secret.ts");

    public async Task InitializeAsync()
    {
        // A readable video outside the root: before the whitelists, every playlist below probed successfully.
        await SyntheticClips.RunFfmpegAsync(["-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=1", "-c:v", "libx264",
            "-preset", "veryfast", "-f", "mpegts", Secret]);
    }

    [Fact]
    public async Task An_hls_playlist_naming_a_file_outside_the_root_is_refused()
    {
        var playlist = Write("list.m3u8", $"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{Secret}\n#EXT-X-ENDLIST\n");

        await AssertRefusedAsync(playlist, "hls");
    }

    [Fact]
    public async Task A_file_url_inside_a_playlist_is_refused()
    {
        var playlist = Write("file.m3u8", $"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\nfile:{Secret}\n#EXT-X-ENDLIST\n");

        await AssertRefusedAsync(playlist, "hls");
    }

    [Fact]
    public async Task A_concat_list_is_refused()
    {
        // ffmpeg's concat demuxer refuses absolute names by itself, but not a relative one through a folder link.
        Directory.CreateSymbolicLink(Path.Combine(_root, "elsewhere"), _outside);
        var list = Write("list.ffconcat", "ffconcat version 1.0\nfile 'elsewhere/secret.ts'\n");

        await AssertRefusedAsync(list, "concat");
    }

    [Fact]
    public async Task A_video_under_the_root_is_still_read()
    {
        var clip = Path.Combine(_root, "clip.mp4");
        File.Copy(clips.Steady, clip);
        var inside = Path.Combine(_root, "clip.ts");
        File.Copy(Secret, inside);

        var info = await ClipFixture.Probe().ProbeAsync(clip);
        var frames = await ClipFixture.SampleAllAsync(clip, SamplingPolicy.FixedRate(1));
        var ts = await ClipFixture.Probe().ProbeAsync(inside);

        Assert.Equal((320, 240), (info.Width, info.Height));
        Assert.Equal(5, frames.Count);
        Assert.Equal("mpegts", ts.ContainerFormat);
        foreach (var frame in frames) frame.Dispose();
    }

    private async Task AssertRefusedAsync(string path, string format)
    {
        var probed = await Assert.ThrowsAsync<MediaException>(() => ClipFixture.Probe().ProbeAsync(path));
        Assert.Equal(MediaErrorKind.NotAVideo, probed.Kind);
        Assert.Contains($"the {format} format", probed.Message);

        // A VideoInfo made by hand skips the probe: ffmpeg itself must refuse the file too.
        var forged = new VideoInfo(path, new FileInfo(path).Length, TimeSpan.FromSeconds(1), 64, 48, 0, 10, 10, false,
            "h264", "yuv420p", "mpegts", false);
        var sampled = await Assert.ThrowsAsync<MediaException>(async () =>
        {
            await foreach (var frame in ClipFixture.Sampler().SampleAsync(forged, SamplingPolicy.FixedRate(1), FrameSize.Square(64)))
                frame.Dispose();
        });
        Assert.Equal(MediaErrorKind.NotAVideo, sampled.Kind);
        Assert.Contains($"the {format} format", sampled.Message);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, text);
        return path;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
        return Task.CompletedTask;
    }
}
