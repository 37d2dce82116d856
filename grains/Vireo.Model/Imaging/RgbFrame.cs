namespace Vireo.Model.Imaging;

/// <summary>An RGB24 frame: <paramref name="Pixels"/> holds width*height*3 bytes, row-major, R G B.</summary>
public sealed record RgbFrame(byte[] Pixels, int Width, int Height)
{
    public static RgbFrame Create(int width, int height)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), "Frame dimensions must be positive.");
        return new RgbFrame(new byte[checked(width * height * 3)], width, height);
    }

    /// <summary>Throws when the buffer does not match the dimensions.</summary>
    public void Validate()
    {
        if (Width <= 0 || Height <= 0 || Pixels.Length != (long)Width * Height * 3)
            throw new ArgumentException($"RGB24 frame of {Width}x{Height} needs {(long)Width * Height * 3} bytes, got {Pixels.Length}.");
    }
}
