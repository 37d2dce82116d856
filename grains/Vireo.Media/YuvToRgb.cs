using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vireo.Media;

/// <summary>The YCbCr matrix of a limited-range 4:2:0 picture, as ffmpeg's swscale would apply it.</summary>
internal enum YuvMatrix
{
    /// <summary>ITU-R BT.601 (also swscale's choice for an unspecified matrix).</summary>
    Bt601,
    /// <summary>ITU-R BT.709.</summary>
    Bt709,
}

/// <summary>
/// Limited-range yuv420p (planes packed as ffmpeg's rawvideo writes them) to RGB24, computed exactly as swscale's
/// x86 yuv2rgb (yuv_2_rgb.asm, which ffmpeg uses for the unscaled yuv420p to rgb24 conversion): samples times 8,
/// offsets removed, multiplied by coefficients in 16-bit fixed point keeping the high halves (pmulhw), summed and
/// saturated, each chroma sample serving its 2x2 block. On the benchmark and test clips that is bit-exact with
/// ffmpeg's own rgb24 output. The SSSE3 path and the scalar path compute the same integers.
/// Having ffmpeg write YUV halves the bytes through the pipe and drops its rgb pass (see `vireo bench media`).
/// </summary>
internal static class YuvToRgb
{
    private readonly record struct Coefficients(short Y, short RV, short GU, short GV, short BU);

    // swscale's ff_yuv2rgb_coeffs rows (crv, cbu, cgu, cgv in 16.16, limited range) and its derivation of the
    // SIMD coefficients: luma 255/219, everything scaled by 2^13 and rounded to 16 bits; the green terms negative.
    private static readonly Coefficients Bt601 = Make(104597, 132201, 25675, 53279);
    private static readonly Coefficients Bt709 = Make(117489, 138438, 13975, 34925);

    private static Coefficients Make(long crv, long cbu, long cgu, long cgv)
    {
        const long cy = (1L << 16) * 255 / 219;
        static short Round16(long value) => checked((short)((value * (1 << 13) + (1 << 15)) >> 16));
        return new Coefficients(Round16(cy), Round16(crv), Round16(-cgu), Round16(-cgv), Round16(cbu));
    }

    /// <summary>Whether the vector path runs here; the scalar one only finishes rows.</summary>
    public static bool IsAccelerated => Ssse3.IsSupported;

    /// <summary>Bytes of a packed yuv420p picture (rawvideo): full-size luma, then two chroma planes rounded up.</summary>
    public static int Yuv420Bytes(int width, int height) => checked(width * height + 2 * ((width + 1) / 2) * ((height + 1) / 2));

    /// <summary>Converts one packed limited-range yuv420p picture to RGB24 (width * height * 3 bytes).</summary>
    public static void Convert(ReadOnlySpan<byte> yuv, Span<byte> rgb, int width, int height, YuvMatrix matrix)
    {
        var chromaWidth = (width + 1) / 2;
        var chromaPlane = chromaWidth * ((height + 1) / 2);
        if (yuv.Length < width * height + 2 * chromaPlane) throw new ArgumentException("The YUV buffer is too small.", nameof(yuv));
        if (rgb.Length < width * height * 3) throw new ArgumentException("The RGB buffer is too small.", nameof(rgb));
        var c = matrix == YuvMatrix.Bt709 ? Bt709 : Bt601;
        var lumaPlane = yuv[..(width * height)];
        var uPlane = yuv.Slice(width * height, chromaPlane);
        var vPlane = yuv.Slice(width * height + chromaPlane, chromaPlane);
        for (var row = 0; row < height; row++)
        {
            var chromaOffset = (row >> 1) * chromaWidth;
            ConvertRow(lumaPlane.Slice(row * width, width), uPlane.Slice(chromaOffset, chromaWidth), vPlane.Slice(chromaOffset, chromaWidth),
                rgb.Slice(row * width * 3, width * 3), c, Ssse3.IsSupported);
        }
    }

    /// <summary>The scalar path only; the tests hold the SIMD path to it.</summary>
    internal static void ConvertScalar(ReadOnlySpan<byte> yuv, Span<byte> rgb, int width, int height, YuvMatrix matrix)
    {
        var chromaWidth = (width + 1) / 2;
        var chromaPlane = chromaWidth * ((height + 1) / 2);
        var c = matrix == YuvMatrix.Bt709 ? Bt709 : Bt601;
        for (var row = 0; row < height; row++)
        {
            var chromaOffset = (row >> 1) * chromaWidth;
            ConvertRow(yuv.Slice(row * width, width), yuv.Slice(width * height + chromaOffset, chromaWidth),
                yuv.Slice(width * height + chromaPlane + chromaOffset, chromaWidth), rgb.Slice(row * width * 3, width * 3), c, simd: false);
        }
    }

    private static void ConvertRow(ReadOnlySpan<byte> y, ReadOnlySpan<byte> u, ReadOnlySpan<byte> v, Span<byte> rgb, in Coefficients c, bool simd)
    {
        var x = 0;
        if (simd) x = ConvertRowSsse3(y, u, v, rgb, c);
        for (; x < y.Length; x++)
        {
            int yTerm = MulHigh((y[x] << 3) - (16 << 3), c.Y);
            int us = (u[x >> 1] << 3) - (128 << 3), vs = (v[x >> 1] << 3) - (128 << 3);
            var o = x * 3;
            rgb[o] = Clamp(yTerm + MulHigh(vs, c.RV));
            rgb[o + 1] = Clamp(yTerm + MulHigh(us, c.GU) + MulHigh(vs, c.GV));
            rgb[o + 2] = Clamp(yTerm + MulHigh(us, c.BU));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MulHigh(int a, short b) => (a * b) >> 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Clamp(int value) => (byte)Math.Clamp(value, 0, 255);

    /// <summary>16 pixels a step; returns how many pixels it converted (a multiple of 16).</summary>
    // Straight to optimized code: the unoptimized first tier of a vector loop is many times slower, and the first
    // frames of every run would pay for it until on-stack replacement.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ConvertRowSsse3(ReadOnlySpan<byte> y, ReadOnlySpan<byte> u, ReadOnlySpan<byte> v, Span<byte> rgb, in Coefficients c)
    {
        var width = y.Length;
        // The last step reads 8 chroma bytes and writes 48 RGB bytes: both fit whenever 16 luma bytes do.
        if (width < 16) return 0;
        ref var yRef = ref MemoryMarshal.GetReference(y);
        ref var uRef = ref MemoryMarshal.GetReference(u);
        ref var vRef = ref MemoryMarshal.GetReference(v);
        ref var outRef = ref MemoryMarshal.GetReference(rgb);

        var cy = Vector128.Create(c.Y);
        var crv = Vector128.Create(c.RV);
        var cgu = Vector128.Create(c.GU);
        var cgv = Vector128.Create(c.GV);
        var cbu = Vector128.Create(c.BU);
        var lumaOffset = Vector128.Create((short)(16 << 3));
        var chromaOffset = Vector128.Create((short)(128 << 3));

        // Byte interleave of 16 R, 16 G, 16 B into 48 bytes RGBRGB...: three shuffles per output block (0x80 gives 0).
        var r0 = Vector128.Create(0, 0x80, 0x80, 1, 0x80, 0x80, 2, 0x80, 0x80, 3, 0x80, 0x80, 4, 0x80, 0x80, 5).AsByte();
        var g0 = Vector128.Create(0x80, 0, 0x80, 0x80, 1, 0x80, 0x80, 2, 0x80, 0x80, 3, 0x80, 0x80, 4, 0x80, 0x80).AsByte();
        var b0 = Vector128.Create(0x80, 0x80, 0, 0x80, 0x80, 1, 0x80, 0x80, 2, 0x80, 0x80, 3, 0x80, 0x80, 4, 0x80).AsByte();
        var r1 = Vector128.Create(0x80, 0x80, 6, 0x80, 0x80, 7, 0x80, 0x80, 8, 0x80, 0x80, 9, 0x80, 0x80, 10, 0x80).AsByte();
        var g1 = Vector128.Create(5, 0x80, 0x80, 6, 0x80, 0x80, 7, 0x80, 0x80, 8, 0x80, 0x80, 9, 0x80, 0x80, 10).AsByte();
        var b1 = Vector128.Create(0x80, 5, 0x80, 0x80, 6, 0x80, 0x80, 7, 0x80, 0x80, 8, 0x80, 0x80, 9, 0x80, 0x80).AsByte();
        var r2 = Vector128.Create(0x80, 11, 0x80, 0x80, 12, 0x80, 0x80, 13, 0x80, 0x80, 14, 0x80, 0x80, 15, 0x80, 0x80).AsByte();
        var g2 = Vector128.Create(0x80, 0x80, 11, 0x80, 0x80, 12, 0x80, 0x80, 13, 0x80, 0x80, 14, 0x80, 0x80, 15, 0x80).AsByte();
        var b2 = Vector128.Create(10, 0x80, 0x80, 11, 0x80, 0x80, 12, 0x80, 0x80, 13, 0x80, 0x80, 14, 0x80, 0x80, 15).AsByte();

        var x = 0;
        for (; x + 16 <= width; x += 16)
        {
            var luma = Vector128.LoadUnsafe(ref yRef, (nuint)x);
            var yLo = Sse2.ShiftLeftLogical(Sse2.UnpackLow(luma, Vector128<byte>.Zero).AsInt16(), 3) - lumaOffset;
            var yHi = Sse2.ShiftLeftLogical(Sse2.UnpackHigh(luma, Vector128<byte>.Zero).AsInt16(), 3) - lumaOffset;
            yLo = Sse2.MultiplyHigh(yLo, cy);
            yHi = Sse2.MultiplyHigh(yHi, cy);

            // 8 chroma samples for 16 pixels.
            var uBytes = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref uRef, x >> 1))).AsByte();
            var vBytes = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref vRef, x >> 1))).AsByte();
            var us = Sse2.ShiftLeftLogical(Sse2.UnpackLow(uBytes, Vector128<byte>.Zero).AsInt16(), 3) - chromaOffset;
            var vs = Sse2.ShiftLeftLogical(Sse2.UnpackLow(vBytes, Vector128<byte>.Zero).AsInt16(), 3) - chromaOffset;
            var rv = Sse2.MultiplyHigh(vs, crv);
            var guv = Sse2.MultiplyHigh(us, cgu) + Sse2.MultiplyHigh(vs, cgv); // negative coefficients
            var bu = Sse2.MultiplyHigh(us, cbu);

            var red = Sse2.PackUnsignedSaturate(yLo + Sse2.UnpackLow(rv, rv), yHi + Sse2.UnpackHigh(rv, rv));
            var green = Sse2.PackUnsignedSaturate(yLo + Sse2.UnpackLow(guv, guv), yHi + Sse2.UnpackHigh(guv, guv));
            var blue = Sse2.PackUnsignedSaturate(yLo + Sse2.UnpackLow(bu, bu), yHi + Sse2.UnpackHigh(bu, bu));

            ref var o = ref Unsafe.Add(ref outRef, x * 3);
            (Ssse3.Shuffle(red, r0) | Ssse3.Shuffle(green, g0) | Ssse3.Shuffle(blue, b0)).StoreUnsafe(ref o);
            (Ssse3.Shuffle(red, r1) | Ssse3.Shuffle(green, g1) | Ssse3.Shuffle(blue, b1)).StoreUnsafe(ref o, 16);
            (Ssse3.Shuffle(red, r2) | Ssse3.Shuffle(green, g2) | Ssse3.Shuffle(blue, b2)).StoreUnsafe(ref o, 32);
        }
        return x;
    }
}
