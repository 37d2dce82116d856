using SkiaSharp;
using Vireo.Model.Imaging;

namespace Vireo.Model.Training.Data;

/// <summary>Writes frames as PNG files, to look at what the generators draw.</summary>
public static class FramePng
{
    public static void Write(RgbFrame frame, string path)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(frame.Width, frame.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = bitmap.GetPixelSpan();
        for (int i = 0, o = 0; i < frame.Pixels.Length; i += 3, o += 4)
        {
            rgba[o] = frame.Pixels[i];
            rgba[o + 1] = frame.Pixels[i + 1];
            rgba[o + 2] = frame.Pixels[i + 2];
            rgba[o + 3] = 255;
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        png.SaveTo(file);
    }
}
