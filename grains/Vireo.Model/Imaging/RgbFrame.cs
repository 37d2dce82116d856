using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Vireo.Model.Imaging;

/// <summary>An RGB24 frame: <paramref name="Pixels"/> holds width*height*3 bytes, row-major, R G B.</summary>
public sealed record RgbFrame(byte[] Pixels, int Width, int Height)
{
    public static RgbFrame Create(int width, int height)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), "Frame dimensions must be positive.");
        return new RgbFrame(new byte[checked(width * height * 3)], width, height);
    }

    /// <summary>
    /// The RGB of <paramref name="rgba"/> (RGBA, 4 bytes a pixel, rows unpadded), alpha dropped: four pixels at a time
    /// with one byte shuffle where the CPU has one, the rest one by one.
    /// </summary>
    public static RgbFrame FromRgba(ReadOnlySpan<byte> rgba, int width, int height)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), "Frame dimensions must be positive.");
        var pixels = checked(width * height);
        if (rgba.Length < 4L * pixels) throw new ArgumentException($"RGBA of {width}x{height} needs {4L * pixels} bytes, got {rgba.Length}.", nameof(rgba));
        // Every byte is written below, so the array need not be zeroed first.
        var rgb = GC.AllocateUninitializedArray<byte>(checked(pixels * 3));
        var p = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            var order = Vector128.Create((byte)0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0, 0, 0, 0);
            ref var source = ref MemoryMarshal.GetReference(rgba);
            ref var target = ref MemoryMarshal.GetArrayDataReference(rgb);
            // Each step stores 16 bytes, of which the next step overwrites the last 4; staying six pixels from the end
            // keeps both the 16-byte load and the 16-byte store inside the buffers.
            for (; p + 6 <= pixels; p += 4)
                Vector128.Shuffle(Vector128.LoadUnsafe(ref source, 4 * (nuint)p), order).StoreUnsafe(ref target, 3 * (nuint)p);
        }
        for (; p < pixels; p++)
            rgba.Slice(4 * p, 3).CopyTo(rgb.AsSpan(3 * p, 3));
        return new RgbFrame(rgb, width, height);
    }

    /// <summary>Throws when the buffer does not match the dimensions.</summary>
    public void Validate()
    {
        if (Width <= 0 || Height <= 0 || Pixels.Length != (long)Width * Height * 3)
            throw new ArgumentException($"RGB24 frame of {Width}x{Height} needs {(long)Width * Height * 3} bytes, got {Pixels.Length}.");
    }
}
