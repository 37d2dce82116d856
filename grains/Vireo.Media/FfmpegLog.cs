using System.Globalization;
using System.Security.Cryptography;

namespace Vireo.Media;

/// <summary>
/// A decoded frame as the first showinfo saw it, before selection. OpensGraph: the frame is the first through a
/// filter graph ffmpeg built again (the pictures changed size or format); the select filter's own frame count starts
/// again there, so the frame passes its first-frame term whatever the policy.
/// </summary>
internal readonly record struct DecodedFrame(long Number, long Pts, bool IsKey, bool OnInterval, bool OpensGraph);

/// <summary>A frame the select filter let through, joined with what we know of it.</summary>
internal readonly record struct SelectedFrame(long Number, long Pts, TimeSpan Timestamp, bool IsKey, bool OnInterval, double? SceneScore, bool OpensGraph = false);

/// <summary>
/// The names our filters log under in one run. The tag is random per run: ffmpeg prints a file's metadata in its log
/// as it stands, newlines included, so a tag in the file can write whole log lines, but not under a name it cannot know.
/// </summary>
/// <summary>Why the decoded stream is beyond the configured limits, though its probe was not.</summary>
internal sealed record LimitBreach(MediaErrorKind Kind, string Reason);

internal sealed record FilterNames(string Input, string Scene, string Output)
{
    public static FilterNames ForRun()
    {
        var tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        return new($"showinfo@vireo_in_{tag}", $"metadata@vireo_scene_{tag}", $"showinfo@vireo_out_{tag}");
    }
}

/// <summary>
/// Reads ffmpeg's log (at level info, with level tags) as our filter graph writes it: the showinfo before
/// the select filter sees every decoded frame (its n is the source frame number), the metadata filter prints
/// the scene score of selected frames, and the showinfo after the select filter sees the kept ones.
/// Lines of one frame arrive in that order, since the graph runs frame by frame on one thread.
/// When the pictures change size or format, ffmpeg builds the graph again and each filter counts from 0 again;
/// frame numbers here go on counting across.
/// </summary>
internal sealed class FfmpegLogParser(FilterNames names, double? framesPerSecond, bool everyFrameIsOutput, MediaOptions limits)
{
    private const int KeptErrorLines = 12;

    // Demuxers that mark a packet corrupt only when the file ends in the middle of it (a short read); the MPEG-TS
    // demuxer also does on continuity errors, and the Ogg one on damaged audio, so theirs say nothing of an end.
    private static readonly string[] ShortReadDemuxers = ["avi", "flv", "mpeg", "mxf", "ivf"];

    // Where the log is: ffmpeg's lines while it opens the input; its description of the input, which prints the
    // file's metadata as it stands, so that a tag can write lines of its choosing there; the lines after a "Stream
    // mapping:" line, ffmpeg's own once the last such line is ffmpeg's; and the run, from our input logger's first
    // configuration on.
    private enum Phase { Opening, Describing, Mapping, Running }

    private readonly Queue<DecodedFrame> _pending = new();
    private readonly Queue<string> _errors = new();
    private long _tbNum = 1, _tbDen = 1;
    private double _prevT = double.NaN;
    private long _scenePts = long.MinValue;
    private double? _sceneScore;
    private bool _awaitScoreLine;
    private Phase _phase;
    private int _graphs;
    private long _numberBase;
    private bool _pendingTruncation;
    private LimitBreach? _pendingOutOfLimits;
    private volatile LimitBreach? _outOfLimits;
    private TimeSpan? _firstPosition;

    /// <summary>Frames decoded so far.</summary>
    public long FramesDecoded { get; private set; }

    /// <summary>Timestamp of the last decoded frame.</summary>
    public TimeSpan Position { get; private set; }

    /// <summary>Whether ffmpeg said the input ends early.</summary>
    public bool SawTruncation { get; private set; }

    /// <summary>
    /// Why the stream is beyond the configured limits, or null: a decoded picture larger than them, one the decoder
    /// refused to allocate past -max_pixels, or a frame later than Media:MaxDuration after the first. The probe
    /// checked only the first picture and the duration the file declares.
    /// </summary>
    public LimitBreach? OutOfLimits => _outOfLimits;

    /// <summary>The last error and warning lines, for messages.</summary>
    public string Errors => string.Join('\n', _errors);

    /// <summary>Parses one log line; returns a selected frame when the line completes one.</summary>
    public SelectedFrame? Feed(string line)
    {
        var logger = LoggerName(line, out var body);
        if (body.StartsWith("[error]") || body.StartsWith("[fatal]") || body.StartsWith("[panic]") || body.StartsWith("[warning]"))
        {
            RememberError(logger, body, line);
            return null;
        }
        if (!body.StartsWith("[info] ")) return null;
        body = body[7..];

        if (logger.IsEmpty)
        {
            NotePhase(body);
        }
        else if (logger.SequenceEqual(names.Input))
        {
            if (body.StartsWith("config in time_base:")) OnConfigured(body);
            else if (body.StartsWith("n:"))
            {
                var decoded = OnDecoded(body);
                // No frame is handed out once one is past the limits, that one included.
                if (_outOfLimits is not null) return null;
                // Without a select filter there is no output logger: every decoded frame is an output frame.
                if (everyFrameIsOutput) return new SelectedFrame(decoded.Number, decoded.Pts, ToTimeSpan(decoded.Pts), decoded.IsKey, decoded.OnInterval, null, decoded.OpensGraph);
                _pending.Enqueue(decoded);
                // Frames the select filter drops never reach the output logger; keep the queue short regardless.
                while (_pending.Count > 4096) _pending.Dequeue();
            }
        }
        else if (logger.SequenceEqual(names.Scene))
        {
            if (body.StartsWith("frame:"))
            {
                _scenePts = LongAfter(body, "pts:");
                _awaitScoreLine = true;
            }
            else if (_awaitScoreLine && body.StartsWith("lavfi.scene_score="))
            {
                _sceneScore = double.Parse(body["lavfi.scene_score=".Length..].Trim(), CultureInfo.InvariantCulture);
                _awaitScoreLine = false;
            }
        }
        else if (logger.SequenceEqual(names.Output) && body.StartsWith("n:") && _outOfLimits is null)
        {
            return OnSelected(LongAfter(body, "pts:"));
        }
        return null;
    }

    /// <summary>Called at the end of the log: what ffmpeg said after its description of the input counts even if no frame followed.</summary>
    public void Complete()
    {
        if (_phase == Phase.Mapping) Trust();
    }

    private void NotePhase(ReadOnlySpan<char> body)
    {
        // "Input #0, mov,mp4,..., from '...':" opens the description; "Stream mapping:" follows it. A tag can write a
        // "Stream mapping:" line of its own, but only inside the description, before ffmpeg's: what was said before
        // the last one is forgotten, what comes after it is ffmpeg's.
        if (_phase == Phase.Opening && body.StartsWith("Input #")) _phase = Phase.Describing;
        else if (_phase is (Phase.Describing or Phase.Mapping) && body.StartsWith("Stream mapping:"))
        {
            _phase = Phase.Mapping;
            _pendingTruncation = false;
            _pendingOutOfLimits = null;
        }
    }

    private void Trust()
    {
        _phase = Phase.Running;
        if (_pendingTruncation) SawTruncation = true;
        if (_pendingOutOfLimits is { } reason) _outOfLimits ??= reason;
        _pendingTruncation = false;
        _pendingOutOfLimits = null;
    }

    private void OnConfigured(ReadOnlySpan<char> body)
    {
        // Our input logger configured: the filter graph runs, so ffmpeg's description of the input is over.
        if (_phase != Phase.Running) Trust();
        // A graph built again starts its frame count at 0: number its frames after those already decoded.
        if (_graphs++ > 0) _numberBase = FramesDecoded;
        ParseTimeBase(body);
    }

    private DecodedFrame OnDecoded(ReadOnlySpan<char> body)
    {
        var n = LongAfter(body, "n:");
        var number = _numberBase + n;
        var pts = LongAfter(body, "pts:");
        var isKey = body.Contains("iskey:1", StringComparison.Ordinal);
        // The same arithmetic as ffmpeg's select filter (t = pts * time base as a double), so both agree on
        // which frame opens each interval.
        var t = pts * ((double)_tbNum / _tbDen);
        var onInterval = framesPerSecond is { } f && (number == 0 || Math.Floor(t * f + 1e-6) > Math.Floor(_prevT * f + 1e-6));
        _prevT = t;
        FramesDecoded = number + 1;
        Position = ToTimeSpan(pts);
        CheckSize(body, number);
        CheckDuration(number);
        return new DecodedFrame(number, pts, isKey, onInterval, OpensGraph: n == 0 && _graphs > 1);
    }

    /// <summary>Checks the picture size showinfo printed ("s:640x480") against the limits.</summary>
    private void CheckSize(ReadOnlySpan<char> body, long number)
    {
        if (_outOfLimits is not null) return;
        var at = body.IndexOf(" s:", StringComparison.Ordinal);
        if (at < 0) return;
        var size = body[(at + 3)..];
        var end = size.IndexOf(' ');
        if (end >= 0) size = size[..end];
        var x = size.IndexOf('x');
        if (x <= 0 || !long.TryParse(size[..x], CultureInfo.InvariantCulture, out var width)
            || !long.TryParse(size[(x + 1)..], CultureInfo.InvariantCulture, out var height))
            return;
        if (width > limits.MaxWidth || height > limits.MaxHeight || width * height > limits.MaxPixels)
            _outOfLimits = new(MediaErrorKind.DimensionsOutOfRange,
                $"the stream changes to pictures beyond the limits: frame {number} is {width}x{height}, beyond {limits.MaxWidth}x{limits.MaxHeight} and {limits.MaxPixels} pixels");
    }

    /// <summary>
    /// Checks how far the decoded frames reach past the first against Media:MaxDuration: a file may declare a duration
    /// far shorter than its frames last, and only its timestamps tell.
    /// </summary>
    private void CheckDuration(long number)
    {
        _firstPosition ??= Position;
        if (_outOfLimits is null && Position - _firstPosition.Value > limits.MaxDuration)
            _outOfLimits = new(MediaErrorKind.DurationOutOfRange,
                $"frame {number} is {Position - _firstPosition.Value} after the first, past the limit of {limits.MaxDuration}, whatever the file declares");
    }

    private SelectedFrame? OnSelected(long pts)
    {
        double? score = _scenePts == pts ? _sceneScore : null;
        while (_pending.TryDequeue(out var decoded))
        {
            if (decoded.Pts == pts)
                return new SelectedFrame(decoded.Number, pts, ToTimeSpan(pts), decoded.IsKey, decoded.OnInterval, score, decoded.OpensGraph);
        }
        // Not seen before selection: cannot happen with our graph, but never invent a frame number.
        return new SelectedFrame(-1, pts, ToTimeSpan(pts), false, false, score);
    }

    private TimeSpan ToTimeSpan(long pts) =>
        TimeSpan.FromTicks((long)((Int128)pts * _tbNum * TimeSpan.TicksPerSecond / _tbDen));

    private void ParseTimeBase(ReadOnlySpan<char> body)
    {
        // "config in time_base: 1/15360, frame_rate: 30/1"
        var rest = body["config in time_base:".Length..].Trim();
        var slash = rest.IndexOf('/');
        var comma = rest.IndexOf(',');
        if (slash < 0) return;
        var den = comma > slash ? rest[(slash + 1)..comma] : rest[(slash + 1)..];
        if (long.TryParse(rest[..slash], CultureInfo.InvariantCulture, out var num) &&
            long.TryParse(den.Trim(), CultureInfo.InvariantCulture, out var d) && num > 0 && d > 0)
        {
            (_tbNum, _tbDen) = (num, d);
        }
    }

    private void RememberError(ReadOnlySpan<char> logger, ReadOnlySpan<char> body, string line)
    {
        var truncated = body.Contains("partial file", StringComparison.Ordinal)
            || body.Contains("moov atom not found", StringComparison.Ordinal)
            || body.Contains(FfmpegErrors.EndedPrematurely, StringComparison.Ordinal)
            || (body.Contains("Packet corrupt", StringComparison.Ordinal) && IsShortReadDemuxer(logger));
        // "Picture size 640x480 exceeds specified max pixel count ...": -max_pixels at work, the picture is dropped.
        var refused = body.Contains(FfmpegErrors.MaxPixelRefusal, StringComparison.Ordinal)
            ? new LimitBreach(MediaErrorKind.DimensionsOutOfRange,
                $"the stream changes to pictures beyond the limits: the decoder refused a picture past Media:MaxPixels ({limits.MaxPixels}): {body[(body.IndexOf(']') + 1)..].Trim()}")
            : null;
        if (_phase == Phase.Mapping)
        {
            // Possibly a tag's text: it counts once ffmpeg shows that its description is over.
            _pendingTruncation |= truncated;
            _pendingOutOfLimits ??= refused;
        }
        else if (_phase != Phase.Describing)
        {
            if (truncated) SawTruncation = true;
            if (refused is not null) _outOfLimits ??= refused;
        }
        _errors.Enqueue(line.Length > 300 ? line[..300] : line);
        while (_errors.Count > KeptErrorLines) _errors.Dequeue();
    }

    private static bool IsShortReadDemuxer(ReadOnlySpan<char> logger)
    {
        foreach (var name in ShortReadDemuxers)
            if (logger.SequenceEqual(name)) return true;
        return false;
    }

    /// <summary>
    /// "[name @ 0x55...] [info] body" gives name and "[info] body"; lines of ffmpeg itself have no name. A context
    /// logging inside another writes both ("[h264 @ 0x...] [IMGUTILS @ 0x...] [error] ..."): the outer one names it.
    /// </summary>
    private static ReadOnlySpan<char> LoggerName(string line, out ReadOnlySpan<char> body)
    {
        var span = line.AsSpan();
        ReadOnlySpan<char> name = [];
        var first = true;
        while (span.StartsWith("[") && !IsLevelTag(span))
        {
            var close = span.IndexOf("] ");
            if (close <= 0) break;
            var inside = span[1..close];
            var at = inside.IndexOf(" @ ");
            // Only the first bracket may be a bare name; later ones are contexts, which always carry an address.
            if (!first && at < 0) break;
            if (first) name = at >= 0 ? inside[..at] : inside;
            first = false;
            span = span[(close + 2)..];
        }
        body = span;
        return name;
    }

    private static bool IsLevelTag(ReadOnlySpan<char> span) =>
        span.StartsWith("[info]") || span.StartsWith("[error]") || span.StartsWith("[warning]") || span.StartsWith("[fatal]")
        || span.StartsWith("[panic]") || span.StartsWith("[verbose]") || span.StartsWith("[debug]");

    private static long LongAfter(ReadOnlySpan<char> body, string key)
    {
        var i = body.IndexOf(key, StringComparison.Ordinal);
        if (i < 0) return long.MinValue;
        var rest = body[(i + key.Length)..].TrimStart();
        var end = 0;
        while (end < rest.Length && (char.IsAsciiDigit(rest[end]) || (end == 0 && rest[end] == '-'))) end++;
        return long.TryParse(rest[..end], CultureInfo.InvariantCulture, out var v) ? v : long.MinValue;
    }
}
