using System.Globalization;

namespace Vireo.Media;

/// <summary>A decoded frame as the first showinfo saw it, before selection.</summary>
internal readonly record struct DecodedFrame(long Number, long Pts, bool IsKey, bool OnInterval);

/// <summary>A frame the select filter let through, joined with what we know of it.</summary>
internal readonly record struct SelectedFrame(long Number, long Pts, TimeSpan Timestamp, bool IsKey, bool OnInterval, double? SceneScore);

/// <summary>
/// Reads ffmpeg's log (at level info, with level tags) as our filter graph writes it: the showinfo before
/// the select filter sees every decoded frame (its n is the source frame number), the metadata filter prints
/// the scene score of selected frames, and the showinfo after the select filter sees the kept ones.
/// Lines of one frame arrive in that order, since the graph runs frame by frame on one thread.
/// </summary>
internal sealed class FfmpegLogParser(double? framesPerSecond, bool everyFrameIsOutput)
{
    public const string InputLogger = "showinfo@vireo_in";
    public const string SceneLogger = "metadata@vireo_scene";
    public const string OutputLogger = "showinfo@vireo_out";
    private const int KeptErrorLines = 12;

    private readonly Queue<DecodedFrame> _pending = new();
    private readonly Queue<string> _errors = new();
    private long _tbNum = 1, _tbDen = 1;
    private double _prevT = double.NaN;
    private long _scenePts = long.MinValue;
    private double? _sceneScore;
    private bool _awaitScoreLine;

    /// <summary>Frames decoded so far.</summary>
    public long FramesDecoded { get; private set; }

    /// <summary>Timestamp of the last decoded frame.</summary>
    public TimeSpan Position { get; private set; }

    /// <summary>Whether ffmpeg said the input ends early.</summary>
    public bool SawTruncation { get; private set; }

    /// <summary>Whether ffmpeg reported damaged packets or decoding errors.</summary>
    public bool SawCorruption { get; private set; }

    /// <summary>The last error and warning lines, for messages.</summary>
    public string Errors => string.Join('\n', _errors);

    /// <summary>Parses one log line; returns a selected frame when the line completes one.</summary>
    public SelectedFrame? Feed(string line)
    {
        var logger = LoggerName(line, out var body);
        if (body.StartsWith("[error]") || body.StartsWith("[fatal]") || body.StartsWith("[panic]") || body.StartsWith("[warning]"))
        {
            RememberError(line);
            return null;
        }
        if (!body.StartsWith("[info] ")) return null;
        body = body[7..];

        if (logger.SequenceEqual(InputLogger))
        {
            if (body.StartsWith("config in time_base:")) ParseTimeBase(body);
            else if (body.StartsWith("n:"))
            {
                var decoded = OnDecoded(body);
                // Without a select filter there is no output logger: every decoded frame is an output frame.
                if (everyFrameIsOutput) return new SelectedFrame(decoded.Number, decoded.Pts, ToTimeSpan(decoded.Pts), decoded.IsKey, decoded.OnInterval, null);
                _pending.Enqueue(decoded);
                // Frames the select filter drops never reach the output logger; keep the queue short regardless.
                while (_pending.Count > 4096) _pending.Dequeue();
            }
        }
        else if (logger.SequenceEqual(SceneLogger))
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
        else if (logger.SequenceEqual(OutputLogger) && body.StartsWith("n:"))
        {
            return OnSelected(LongAfter(body, "pts:"));
        }
        return null;
    }

    private DecodedFrame OnDecoded(ReadOnlySpan<char> body)
    {
        var n = LongAfter(body, "n:");
        var pts = LongAfter(body, "pts:");
        var isKey = body.Contains("iskey:1", StringComparison.Ordinal);
        // The same arithmetic as ffmpeg's select filter (t = pts * time base as a double), so both agree on
        // which frame opens each interval.
        var t = pts * ((double)_tbNum / _tbDen);
        var onInterval = framesPerSecond is { } f && (n == 0 || Math.Floor(t * f + 1e-6) > Math.Floor(_prevT * f + 1e-6));
        _prevT = t;
        FramesDecoded = n + 1;
        Position = ToTimeSpan(pts);
        return new DecodedFrame(n, pts, isKey, onInterval);
    }

    private SelectedFrame? OnSelected(long pts)
    {
        double? score = _scenePts == pts ? _sceneScore : null;
        while (_pending.TryDequeue(out var decoded))
        {
            if (decoded.Pts == pts)
                return new SelectedFrame(decoded.Number, pts, ToTimeSpan(pts), decoded.IsKey, decoded.OnInterval, score);
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

    private void RememberError(string line)
    {
        if (line.Contains("partial file", StringComparison.Ordinal) || line.Contains("moov atom not found", StringComparison.Ordinal))
            SawTruncation = true;
        else if (line.Contains("[error]", StringComparison.Ordinal) || line.Contains("corrupt", StringComparison.OrdinalIgnoreCase))
            SawCorruption = true;
        _errors.Enqueue(line.Length > 300 ? line[..300] : line);
        while (_errors.Count > KeptErrorLines) _errors.Dequeue();
    }

    /// <summary>"[name @ 0x55...] [info] body" gives name and "[info] body"; lines of ffmpeg itself have no name.</summary>
    private static ReadOnlySpan<char> LoggerName(string line, out ReadOnlySpan<char> body)
    {
        var span = line.AsSpan();
        if (span.StartsWith("[") && !span.StartsWith("[info]") && !span.StartsWith("[error]") && !span.StartsWith("[warning]")
            && !span.StartsWith("[fatal]") && !span.StartsWith("[panic]") && !span.StartsWith("[verbose]") && !span.StartsWith("[debug]"))
        {
            var close = span.IndexOf("] ");
            if (close > 0)
            {
                var inside = span[1..close];
                var at = inside.IndexOf(" @ ");
                body = span[(close + 2)..];
                return at >= 0 ? inside[..at] : inside;
            }
        }
        body = span;
        return [];
    }

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
