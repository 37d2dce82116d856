namespace Vireo.Media.Tests;

/// <summary>The log parser on ffmpeg's lines as ffmpeg 5.1 writes them, for orders a real clip cannot be made to give.</summary>
public sealed class FfmpegLogTests
{
    private static readonly FilterNames Names = new("showinfo@vireo_in_t", "metadata@vireo_scene_t", "showinfo@vireo_out_t");

    private static FfmpegLogParser Parse(params string[] lines)
    {
        var parser = new FfmpegLogParser(Names, framesPerSecond: null, everyFrameIsOutput: true,
            new MediaOptions { MaxWidth = 640, MaxDuration = TimeSpan.FromSeconds(10) });
        foreach (var line in lines) parser.Feed(line);
        parser.Complete();
        return parser;
    }

    private const string Description = "[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/media/a.mp4':";
    private const string Mapping = "[info] Stream mapping:";
    private const string Configured = "[showinfo@vireo_in_t @ 0x55d0] [info] config in time_base: 1/25, frame_rate: 25/1";
    private const string PartialFile = "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55c0] [error] stream 0, offset 0x5e1: partial file";

    [Fact]
    public void What_ffmpeg_says_after_describing_the_input_counts_even_before_the_first_frame()
    {
        Assert.True(Parse(Description, Mapping, PartialFile).SawTruncation);
        Assert.True(Parse(Description, Mapping, PartialFile, Configured).SawTruncation);
        Assert.True(Parse(PartialFile, Description, Mapping).SawTruncation);
    }

    [Fact]
    public void What_a_tag_writes_inside_the_description_does_not()
    {
        // A tag can write any line there, a "Stream mapping:" line included, but not one after ffmpeg's own.
        Assert.False(Parse(Description, PartialFile, Mapping, Configured).SawTruncation);
        Assert.False(Parse(Description, Mapping, PartialFile, Mapping, Configured).SawTruncation);
        Assert.False(Parse(Description, PartialFile).SawTruncation);
        Assert.False(Parse(Description, "[showinfo@vireo_in @ 0x1] [info] config in time_base: 1/25, frame_rate: 25/1", PartialFile, Mapping).SawTruncation);
    }

    [Fact]
    public void A_picture_the_decoder_refuses_or_one_past_the_limits_is_out_of_limits()
    {
        var refused = Parse(Description, Mapping, Configured,
            "[h264 @ 0x55a0] [IMGUTILS @ 0x7f00] [error] Picture size 8000x8000 exceeds specified max pixel count 33177600, see the documentation if you wish to increase it");
        var wide = Parse(Description, Mapping, Configured,
            "[showinfo@vireo_in_t @ 0x55d0] [info] n:   0 pts:      0 pts_time:0       pos:   48 fmt:yuv420p sar:1/1 s:640x480 i:P iskey:1 type:I",
            "[showinfo@vireo_in_t @ 0x55d1] [info] config in time_base: 1/25, frame_rate: 25/1",
            "[showinfo@vireo_in_t @ 0x55d1] [info] n:   0 pts:      1 pts_time:0.04    pos:  948 fmt:yuv420p sar:1/1 s:1280x480 i:P iskey:1 type:I");

        Assert.Equal(MediaErrorKind.DimensionsOutOfRange, refused.OutOfLimits?.Kind);
        Assert.Contains("8000x8000", refused.OutOfLimits!.Reason);
        Assert.Equal(MediaErrorKind.DimensionsOutOfRange, wide.OutOfLimits?.Kind);
        Assert.Contains("frame 1 is 1280x480", wide.OutOfLimits!.Reason);
        Assert.Null(Parse(Description, Mapping, Configured,
            "[showinfo@vireo_in_t @ 0x55d0] [info] n:   0 pts:      0 pts_time:0       pos:   48 fmt:yuv420p sar:1/1 s:640x480 i:P iskey:1 type:I").OutOfLimits);
    }

    [Fact]
    public void Frames_that_last_past_the_duration_limit_are_out_of_limits_whatever_the_file_declares()
    {
        static string Frame(int n, long pts) =>
            $"[showinfo@vireo_in_t @ 0x55d0] [info] n:{n,4} pts:{pts,7} pts_time:{pts / 25.0}  pos:   48 fmt:yuv420p sar:1/1 s:640x480 i:P iskey:1 type:I";

        // At 1/25 s a tick: the second frame 12 s after the first, past the 10 s limit.
        var longer = Parse(Description, Mapping, Configured, Frame(0, 0), Frame(1, 300));
        Assert.Equal(MediaErrorKind.DurationOutOfRange, longer.OutOfLimits?.Kind);
        Assert.Contains("frame 1 is 00:00:12 after the first", longer.OutOfLimits!.Reason);
        // What counts is the time from the first frame, not the first frame's own timestamp: 8 s from 40 s.
        Assert.Null(Parse(Description, Mapping, Configured, Frame(0, 1000), Frame(1, 1200)).OutOfLimits);
    }
}
