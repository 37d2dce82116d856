using System.Buffers;

namespace Vireo.Media;

/// <summary>
/// One kept frame: RGB24 pixels (row-major, 3 bytes per pixel, no row padding) at the requested size.
/// Ownership: the consumer owns the frame. <see cref="Rgb"/> is backed by a pooled buffer; call
/// <see cref="Dispose"/> when done with the pixels so the buffer is reused (after that, <see cref="Rgb"/>
/// must not be read). Not disposing is safe, the buffer is then left to the garbage collector.
/// Copy the pixels (<see cref="CopyRgb"/>) to keep them beyond disposal.
/// </summary>
public sealed class SampledFrame : IDisposable
{
    private byte[]? _buffer;
    private readonly int _length;
    private ulong? _hash;

    internal SampledFrame(byte[] pooledBuffer, int length, ulong? hash)
    {
        _buffer = pooledBuffer;
        _length = length;
        _hash = hash;
    }

    /// <summary>Ordinal among the kept frames of this sampling run, from 0.</summary>
    public required int Index { get; init; }

    /// <summary>Ordinal of the frame among all decoded frames of the video, from 0.</summary>
    public required long SourceFrameNumber { get; init; }

    /// <summary>Exact presentation timestamp from ffmpeg (frame pts times the stream time base, from the stream start).</summary>
    public required TimeSpan Timestamp { get; init; }

    /// <summary>Why the frame was kept.</summary>
    public required FrameReasons Reasons { get; init; }

    /// <summary>ffmpeg's scene score against the previous decoded frame (0..1), when scene detection ran; else null.</summary>
    public double? SceneScore { get; init; }

    /// <summary>Whether the frame is a keyframe of the source stream.</summary>
    public required bool IsKeyframe { get; init; }

    /// <summary>Width in pixels.</summary>
    public required int Width { get; init; }

    /// <summary>Height in pixels.</summary>
    public required int Height { get; init; }

    /// <summary>
    /// 64-bit difference hash of the frame (see <see cref="Media.PerceptualHash"/>). Computed during sampling when
    /// near-duplicate suppression is on, otherwise on first access (about 0.1 ms for 448x448), which must then
    /// come before <see cref="Dispose"/>.
    /// </summary>
    public ulong PerceptualHash => _hash ??= Media.PerceptualHash.DifferenceHash(Rgb.Span, Width, Height);

    /// <summary>RGB24 pixels, Width * Height * 3 bytes; valid until <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<byte> Rgb => _buffer is { } b
        ? b.AsMemory(0, _length)
        : throw new ObjectDisposedException(nameof(SampledFrame));

    /// <summary>A copy of the pixels that outlives the frame.</summary>
    public byte[] CopyRgb() => Rgb.ToArray();

    /// <summary>Returns the pixel buffer to the pool.</summary>
    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
    }
}

/// <summary>Decoding progress: position in the video against its duration.</summary>
/// <param name="Position">Timestamp of the last decoded frame.</param>
/// <param name="Duration">Duration of the video (from the probe).</param>
/// <param name="FramesDecoded">Frames decoded so far.</param>
/// <param name="FramesKept">Frames kept (and handed out) so far.</param>
public readonly record struct DecodeProgress(TimeSpan Position, TimeSpan Duration, long FramesDecoded, int FramesKept)
{
    /// <summary>Position over duration, clamped to [0, 1].</summary>
    public double Fraction => Duration <= TimeSpan.Zero ? 0 : Math.Clamp(Position / Duration, 0, 1);
}
