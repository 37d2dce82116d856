using SkiaSharp;

namespace Vireo.Grains.Thumbnails;

/// <summary>
/// A small JPEG of a sampled frame: scaled (never up) so that its longer side is at most <see cref="LongSide"/>
/// pixels, averaged rather than sampled so that fine detail does not alias, at quality <see cref="Quality"/>.
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

        // Skia has no 3-byte pixel format, so the frame is widened to opaque RGBA straight into a bitmap, averaging k×k
        // blocks on the way when it is k or more times the thumbnail's size. What is left to scale is less than 2×, which
        // bilinear filtering does without aliasing; Skia's mipmaps would do the same at four times the cost.
        var (thumbWidth, thumbHeight) = SizeFor(width, height);
        var k = Math.Clamp(Math.Max(width, height) / LongSide, 1, Math.Min(width, height));
        using var reduced = new SKBitmap(new SKImageInfo(width / k, height / k, SKColorType.Rgba8888, SKAlphaType.Opaque));
        BoxReduce(rgb, width, k, reduced.Width, reduced.Height, reduced.GetPixelSpan());
        using var scaled = reduced.Width == thumbWidth && reduced.Height == thumbHeight
            ? reduced.Copy()
            : reduced.Resize(new SKImageInfo(thumbWidth, thumbHeight, SKColorType.Rgba8888, SKAlphaType.Opaque), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None));
        using var data = scaled.Encode(SKEncodedImageFormat.Jpeg, Quality);
        return data.ToArray();
    }

    /// <summary>Averages each k×k block of RGB24 pixels into one opaque RGBA pixel.</summary>
    private static void BoxReduce(ReadOnlySpan<byte> rgb, int width, int k, int outWidth, int outHeight, Span<byte> rgba)
    {
        var area = k * k;
        var sums = new int[outWidth * 3];
        for (var oy = 0; oy < outHeight; oy++)
        {
            Array.Clear(sums);
            for (var y = oy * k; y < (oy + 1) * k; y++)
            {
                var row = rgb.Slice(y * width * 3, outWidth * k * 3);
                for (int ox = 0, i = 0; ox < outWidth; ox++)
                {
                    for (var x = 0; x < k; x++, i += 3)
                    {
                        sums[ox * 3] += row[i];
                        sums[ox * 3 + 1] += row[i + 1];
                        sums[ox * 3 + 2] += row[i + 2];
                    }
                }
            }
            var target = rgba.Slice(oy * outWidth * 4, outWidth * 4);
            for (var ox = 0; ox < outWidth; ox++)
            {
                target[ox * 4] = (byte)((sums[ox * 3] + area / 2) / area);
                target[ox * 4 + 1] = (byte)((sums[ox * 3 + 1] + area / 2) / area);
                target[ox * 4 + 2] = (byte)((sums[ox * 3 + 2] + area / 2) / area);
                target[ox * 4 + 3] = 255;
            }
        }
    }
}
