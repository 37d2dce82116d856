using SkiaSharp;

namespace Vireo.Grains.Thumbnails;

/// <summary>
/// A small JPEG of a sampled frame: scaled (never up) so that its longer side is at most <see cref="LongSide"/>
/// pixels, with mipmapped filtering so that fine detail does not alias, at quality <see cref="Quality"/>.
/// </summary>
public static class ThumbnailEncoder
{
    public const int LongSide = 320;
    public const int Quality = 80;

    /// <summary>The size a <paramref name="width"/>×<paramref name="height"/> frame's thumbnail has.</summary>
    public static (int Width, int Height) SizeFor(int width, int height)
    {
        var scale = Math.Min(1.0, (double)LongSide / Math.Max(width, height));
        return (Math.Max(1, (int)Math.Round(width * scale)), Math.Max(1, (int)Math.Round(height * scale)));
    }

    /// <summary>Encodes RGB24 pixels (row-major, no padding) as a JPEG thumbnail.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"{width}x{height} RGB24 pixels are {width * height * 3} bytes, not {rgb.Length}", nameof(rgb));

        // Skia has no 3-byte pixel format, so the frame is widened to opaque RGBA once, straight into the bitmap.
        using var frame = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = frame.GetPixelSpan();
        for (int source = 0, target = 0; source < rgb.Length; source += 3, target += 4)
        {
            pixels[target] = rgb[source];
            pixels[target + 1] = rgb[source + 1];
            pixels[target + 2] = rgb[source + 2];
            pixels[target + 3] = 255;
        }
        var (thumbWidth, thumbHeight) = SizeFor(width, height);
        using var scaled = thumbWidth == width && thumbHeight == height
            ? frame.Copy()
            : frame.Resize(new SKImageInfo(thumbWidth, thumbHeight, SKColorType.Rgba8888, SKAlphaType.Opaque), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        using var data = scaled.Encode(SKEncodedImageFormat.Jpeg, Quality);
        return data.ToArray();
    }
}
