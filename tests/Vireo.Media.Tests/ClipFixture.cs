using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Vireo.Media.Tests;

/// <summary>Clips made once per test run with ffmpeg's lavfi sources, in a temp folder removed at the end.</summary>
public sealed class ClipFixture : IAsyncLifetime
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("vireo-media-tests-").FullName;

    /// <summary>2 s SMPTE bars, 2 s Mandelbrot, 2 s testsrc2 at 25 fps: cuts at 2.0 and 4.0 s.</summary>
    public string SceneCuts => Path.Combine(Folder, "scenes.mp4");

    /// <summary>testsrc2, 5 s at 30 fps, keyframe every 60 frames.</summary>
    public string Steady => Path.Combine(Folder, "steady.mp4");

    /// <summary>testsrc2, 4 s at 25 fps with -g 25 and no scene-cut keyframes: keyframes at 0, 1, 2, 3 s.</summary>
    public string Gop25 => Path.Combine(Folder, "gop25.mp4");

    /// <summary>Variable rate: 30 fps for 2 s, then every third frame (10 fps) up to 4 s; 80 frames.</summary>
    public string VariableRate => Path.Combine(Folder, "vfr.mp4");

    /// <summary>320x240, white top half over black, with a 90 degree display rotation.</summary>
    public string Rotated => Path.Combine(Folder, "rotated.mp4");

    /// <summary>2 s testsrc2, 3 s of plain red, 1 s of SMPTE bars, 30 fps.</summary>
    public string WithStill => Path.Combine(Folder, "still.mp4");

    /// <summary>64x64 grey frames whose luma encodes the frame number (Y = 16 + 2n), 25 fps, 4 s, lossless.</summary>
    public string NumberedFrames => Path.Combine(Folder, "numbered.mp4");

    public string Empty => Path.Combine(Folder, "empty.mp4");
    public string Truncated => Path.Combine(Folder, "truncated.mp4");
    public string TruncatedFastStart => Path.Combine(Folder, "truncated-faststart.mp4");
    public string Text => Path.Combine(Folder, "notes.mp4");
    public string AudioOnly => Path.Combine(Folder, "audio.m4a");
    /// <summary>A NUT file whose video stream's rotate tag is not a number.</summary>
    public string BadRotation => Path.Combine(Folder, "bad-rotation.nut");
    public string Huge => Path.Combine(Folder, "huge.y4m");
    public string HugeTag => Path.Combine(Folder, "huge-tag.mp4");
    public string SizeSwitch => Path.Combine(Folder, "size-switch.ts");
    public string Absurd => Path.Combine(Folder, "absurd.y4m");

    /// <summary>Two video streams: 320x120 at 5 fps for 1 s (not default), then 160x90 at 10 fps for 2 s, marked default.</summary>
    public string TwoVideos => Path.Combine(Folder, "two-videos.mkv");

    /// <summary>2 s of sound with a PNG cover picture (an attached picture, as music files carry it).</summary>
    public string CoverArt => Path.Combine(Folder, "cover.m4a");

    /// <summary>2 s of sound with a cover picture Matroska keeps as a one-picture MJPEG video stream, unmarked.</summary>
    public string CoverStill => Path.Combine(Folder, "cover-still.mkv");

    /// <summary>The first half of a 2 s, 25 fps Matroska, FLV and AVI clip (Matroska and FLV keep the full duration in their header).</summary>
    public string HalfMatroska => Path.Combine(Folder, "half.mkv");
    public string HalfFlv => Path.Combine(Folder, "half.flv");
    public string HalfAvi => Path.Combine(Folder, "half.avi");

    /// <summary>16x2000 and 2000x16 testsrc, 5 fps for 1 s: far narrower and flatter than any output box.</summary>
    public string Narrow => Path.Combine(Folder, "narrow.mp4");

    /// <summary>testsrc2, 3 s at 10 fps, in a WebM written live as a browser's MediaRecorder writes one: no duration declared.</summary>
    public string Recorded => Path.Combine(Folder, "recorded.webm");

    /// <summary>testsrc2, 4 s at 25 fps and 640x360, written live as <see cref="Recorded"/> is.</summary>
    public string RecordedLonger => Path.Combine(Folder, "recorded-longer.webm");

    public string Flat => Path.Combine(Folder, "flat.mp4");

    /// <summary>
    /// A complete 64x64 clip of 10 frames at 10 fps whose metadata tags have names that ffmpeg prints as log lines:
    /// truncations, a configuration of our input logger, the end of ffmpeg's description of the input and a refused picture.
    /// </summary>
    public string ForgedLog => Path.Combine(Folder, "forged-log.nut");

    /// <summary>The names of <see cref="ForgedLog"/>'s tags (NUT keeps a name as it is, if it is short).</summary>
    public static readonly string[] ForgedTagNames =
    [
        "a\n[showinfo@vireo_in @ 0x1] [info] config in time_base: 1/1000, frame_rate: 25/1",
        "b\n[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] [error] stream 0, offset 0x30: partial file",
        "c\n[info] Stream mapping:\n[matroska,webm @ 0x1] [error] File ended prematurely",
        "d\n[flv @ 0x1] [warning] Packet corrupt (stream 0)",
        "e\n[h264 @ 0x1] [IMGUTILS @ 0x1] [error] Picture size 99999x99999 exceeds specified max pixel count 1",
    ];

    public async Task InitializeAsync()
    {
        string Rotating() => Path.Combine(Folder, "upright.mp4");
        string FastStart() => Path.Combine(Folder, "faststart.mp4");
        // Two at a time: the machine has two cores.
        Task[] first =
        [
            SyntheticClips.SceneCutsAsync(SceneCuts, shotSeconds: 2),
            SyntheticClips.TestPatternAsync(Steady, seconds: 5, width: 320, height: 240, fps: 30, gop: 60),
        ];
        await Task.WhenAll(first);
        Task[] second =
        [
            SyntheticClips.TestPatternAsync(Gop25, seconds: 4, width: 320, height: 240, fps: 25, gop: 25),
            Ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=4",
                "-vf", "select='if(lt(t,2),1,not(mod(n,3)))'", "-fps_mode", "vfr",
                "-c:v", "libx264", "-preset", "veryfast", VariableRate),
        ];
        await Task.WhenAll(second);
        Task[] third =
        [
            Ffmpeg("-f", "lavfi", "-i", "color=black:s=320x240:r=30:d=1,drawbox=x=0:y=0:w=320:h=120:color=white:t=fill,format=yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", Rotating()),
            Ffmpeg("-filter_complex",
                "testsrc2=s=320x240:r=30:d=2[a];color=red:s=320x240:r=30:d=3[b];smptehdbars=s=320x240:r=30:d=1[c];[a][b][c]concat=n=3:v=1:a=0,format=yuv420p[v]",
                "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", WithStill),
        ];
        await Task.WhenAll(third);
        Task[] fourth =
        [
            Ffmpeg("-i", Rotating(), "-c", "copy", "-metadata:s:v:0", "rotate=90", Rotated),
            Ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", AudioOnly),
            Ffmpeg("-i", Steady, "-c", "copy", "-movflags", "+faststart", FastStart()),
            Ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64:d=1", "-c:v", "mpeg4", "-metadata:s:v:0", "ROTATE=abc", BadRotation),
            Ffmpeg("-f", "lavfi", "-i", "color=black:s=64x64:r=25:d=4,format=yuv420p,geq=lum='16+2*N':cb=128:cr=128",
                "-c:v", "libx264", "-qp", "0", "-preset", "veryfast", "-g", "25", "-bf", "0", NumberedFrames),
        ];
        await Task.WhenAll(fourth);
        // A one-second clip carrying a 17-million-character comment, which ffprobe prints in full.
        var metadata = Path.Combine(Folder, "huge-tag.txt");
        await File.WriteAllTextAsync(metadata, ";FFMETADATA1\ncomment=" + new string('a', 17_000_000) + "\n");
        await Ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64:d=1", "-i", metadata, "-map_metadata", "1", "-c:v", "mpeg4", HugeTag);
        File.Delete(metadata);
        // One second at 64x64, then one at 640x480, in one MPEG-TS stream: the probe sees the first size.
        string Part(int part) => Path.Combine(Folder, $"size-switch-{part}.ts");
        await Ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64:r=10:d=1", "-c:v", "libx264", "-f", "mpegts", Part(1));
        await Ffmpeg("-f", "lavfi", "-i", "testsrc=s=640x480:r=10:d=1", "-c:v", "libx264", "-f", "mpegts", Part(2));
        await File.WriteAllBytesAsync(SizeSwitch, [.. await File.ReadAllBytesAsync(Part(1)), .. await File.ReadAllBytesAsync(Part(2))]);

        string Whole(string extension) => Path.Combine(Folder, $"whole.{extension}");
        Task[] fifth =
        [
            Ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x120:r=5:d=1", "-f", "lavfi", "-i", "testsrc2=s=160x90:r=10:d=2",
                "-map", "0", "-map", "1", "-c:v", "libx264", "-preset", "veryfast",
                "-disposition:v:0", "0", "-disposition:v:1", "default", TwoVideos),
            Ffmpeg("-f", "lavfi", "-i", "sine=d=2", "-f", "lavfi", "-i", "testsrc=s=64x64:r=1:d=1",
                "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "png", "-disposition:v:0", "attached_pic", CoverArt),
            Ffmpeg("-f", "lavfi", "-i", "sine=d=2", "-f", "lavfi", "-i", "testsrc=s=64x64:r=25:d=0.04",
                "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "mjpeg", CoverStill),
        ];
        await Task.WhenAll(fifth);
        Task[] sixth =
        [
            Ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-c:v", "libx264", "-preset", "veryfast", "-g", "25", Whole("mkv")),
            Ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-c:v", "mpeg4", Whole("avi")),
            Ffmpeg("-f", "lavfi", "-i", "testsrc=s=16x2000:r=5:d=1", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", Narrow),
            Ffmpeg("-f", "lavfi", "-i", "testsrc=s=2000x16:r=5:d=1", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", Flat),
            Ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=3", "-c:v", "libvpx", "-b:v", "200k", "-live", "1", Recorded),
            Ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=4", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
                "-b:v", "500k", "-live", "1", RecordedLonger),
            Ffmpeg(["-f", "lavfi", "-i", "testsrc=s=64x64:r=10:d=1", "-c:v", "mpeg4",
                .. ForgedTagNames.SelectMany(name => new[] { "-metadata", name + "=1" }), ForgedLog]),
        ];
        await Task.WhenAll(sixth);
        await Ffmpeg("-i", Whole("mkv"), "-c", "copy", Whole("flv"));
        await WriteHalfAsync(Whole("mkv"), HalfMatroska);
        await WriteHalfAsync(Whole("flv"), HalfFlv);
        await WriteHalfAsync(Whole("avi"), HalfAvi);

        await File.WriteAllBytesAsync(Empty, []);
        await File.WriteAllTextAsync(Text, "These are meeting notes, not a video.\nSecond line.\n");
        // Without faststart the index (moov) comes last: cutting the file in half loses it.
        await WriteHalfAsync(Steady, Truncated);
        // With faststart the index survives and half of the samples point past the end of the file.
        await WriteHalfAsync(FastStart(), TruncatedFastStart);
        // Raw YUV4MPEG headers claiming huge pictures, followed by a few bytes of a first frame.
        await File.WriteAllBytesAsync(Huge, Encoding.ASCII.GetBytes("YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + new string('\x10', 4096)));
        await File.WriteAllBytesAsync(Absurd, Encoding.ASCII.GetBytes("YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + new string('\x10', 4096)));
    }

    private static Task Ffmpeg(params string[] args) => SyntheticClips.RunFfmpegAsync(args);

    private static async Task WriteHalfAsync(string source, string target)
    {
        var bytes = await File.ReadAllBytesAsync(source);
        await File.WriteAllBytesAsync(target, bytes[..(bytes.Length / 2)]);
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
        return Task.CompletedTask;
    }

    public static MediaOptions DefaultOptions() => new();

    public static MediaProbe Probe(MediaOptions? options = null) =>
        new(Options.Create(options ?? DefaultOptions()), NullLogger<MediaProbe>.Instance);

    public static FrameSampler Sampler(MediaOptions? options = null)
    {
        var o = options ?? DefaultOptions();
        return new FrameSampler(Probe(o), Options.Create(o), NullLogger<FrameSampler>.Instance);
    }

    public static async Task<List<SampledFrame>> SampleAllAsync(string path, SamplingPolicy policy, FrameSize? size = null,
        MediaOptions? options = null, IProgress<DecodeProgress>? progress = null)
    {
        var frames = new List<SampledFrame>();
        await foreach (var frame in Sampler(options).SampleAsync(path, policy, size ?? FrameSize.Square(64), progress))
            frames.Add(frame);
        return frames;
    }
}

[CollectionDefinition(Name)]
public sealed class MediaCollection : ICollectionFixture<ClipFixture>
{
    public const string Name = "media clips";
}
