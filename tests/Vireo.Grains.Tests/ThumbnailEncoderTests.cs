using SkiaSharp;
using Vireo.Grains.Thumbnails;

namespace Vireo.Grains.Tests;

/// <summary>Thumbnails of sampled frames: their size, and that they show the frame.</summary>
public sealed class ThumbnailEncoderTests
{
    [Theory]
    [InlineData(896, 504, 320, 180)]
    [InlineData(504, 896, 180, 320)]
    [InlineData(1920, 1080, 320, 180)]
    [InlineData(320, 240, 320, 240)]
    [InlineData(64, 36, 64, 36)]
    [InlineData(2000, 3, 320, 1)]
    public void AThumbnailIsAJpegOfAtMost320PixelsThatKeepsTheFramesShape(int width, int height, int thumbWidth, int thumbHeight)
    {
        var rgb = new byte[width * height * 3];
        using var image = SKBitmap.Decode(ThumbnailEncoder.Encode(rgb, width, height));
        Assert.Equal((thumbWidth, thumbHeight), (image.Width, image.Height));
        Assert.Equal((thumbWidth, thumbHeight), ThumbnailEncoder.SizeFor(width, height));
    }

    [Fact]
    public void ItShowsTheFramesColoursWhereTheyWere()
    {
        // Left half red, right half blue, with a one-pixel checkerboard in the blue half that must average out, not alias.
        const int width = 896, height = 504;
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = (y * width + x) * 3;
                if (x < width / 2)
                    rgb[i] = 220;
                else
                    (rgb[i + 1], rgb[i + 2]) = ((x + y) % 2 == 0 ? (byte)0 : (byte)200, (byte)200);
            }
        }
        using var image = SKBitmap.Decode(ThumbnailEncoder.Encode(rgb, width, height));
        var left = image.GetPixel(40, 90);
        var right = image.GetPixel(280, 90);
        Assert.True(left.Red > 180 && left.Blue < 40, $"left {left}");
        Assert.True(right.Blue > 160 && right.Red < 40 && right.Green is > 70 and < 130, $"right {right}");
    }
}
