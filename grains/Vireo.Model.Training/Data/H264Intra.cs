namespace Vireo.Model.Training.Data;

/// <summary>
/// What an H.264 encoder's intra-coded pictures do to a frame, for training frames: 4:2:0 chroma; per macroblock (16×16
/// luma, 8×8 chroma) the best of vertical, horizontal and DC prediction from the already reconstructed neighbours; the
/// standard's 4×4 integer transform, quantiser (its multiplication and scaling tables, intra rounding) and inverse
/// transform at a QP; and its in-loop deblocking filter (strong on macroblock edges, normal on inner 4×4 edges, with
/// the standard's alpha, beta and clipping tables). Entropy coding is lossless and is left out; so are the 4×4 intra
/// and plane prediction modes, the Hadamard coding of DC coefficients, the 8×8 transform and inter pictures. The same
/// picture and QP give the same result.
/// </summary>
public static class H264Intra
{
    public const int MinQp = 0, MaxQp = 51;

    // Quantiser tables by QP % 6, for coefficient positions of class a ((0,0),(0,2),(2,0),(2,2)), b ((1,1),(1,3),(3,1),(3,3)) and c (the rest).
    private static readonly int[,] Multiplier = { { 13107, 5243, 8066 }, { 11916, 4660, 7490 }, { 10082, 4194, 6554 }, { 9362, 3647, 5825 }, { 8192, 3355, 5243 }, { 7282, 2893, 4559 } };
    private static readonly int[,] Rescale = { { 10, 16, 13 }, { 11, 18, 14 }, { 13, 20, 16 }, { 14, 23, 18 }, { 16, 25, 20 }, { 18, 29, 23 } };

    // Chroma QP from luma QP past 29.
    private static readonly int[] ChromaQpFrom30 = [29, 30, 31, 32, 32, 33, 34, 34, 35, 35, 36, 36, 37, 37, 37, 38, 38, 38, 39, 39, 39, 39];

    // Deblocking thresholds by QP, and the clipping value of an inner edge of intra blocks (boundary strength 3).
    private static readonly int[] Alpha =
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 5, 6, 7, 8, 9, 10, 12, 13, 15, 17, 20, 22, 25, 28,
        32, 36, 40, 45, 50, 56, 63, 71, 80, 90, 101, 113, 127, 144, 162, 182, 203, 226, 255, 255,
    ];
    private static readonly int[] Beta =
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 6, 6, 7, 7, 8, 8,
        9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17, 17, 18, 18,
    ];
    private static readonly int[] ClipInner =
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3,
        3, 3, 4, 4, 4, 5, 6, 6, 7, 8, 9, 10, 11, 13, 14, 16, 18, 20, 23, 25,
    ];

    /// <summary>Codes <paramref name="rgb"/> (RGB24, row after row) as an intra picture at <paramref name="qp"/> and writes back the decoded picture.</summary>
    public static void Recompress(Span<byte> rgb, int width, int height, int qp)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfLessThan(rgb.Length, width * height * 3);
        qp = Math.Clamp(qp, MinQp, MaxQp);
        var chromaQp = qp < 30 ? qp : ChromaQpFrom30[qp - 30];
        // Whole macroblocks, the picture's last row and column repeated as an encoder pads them.
        var (w, h) = ((width + 15) / 16 * 16, (height + 15) / 16 * 16);
        var (cw, ch) = (w / 2, h / 2);
        var luma = new int[w * h];
        var cb = new int[cw * ch];
        var cr = new int[cw * ch];
        for (var y = 0; y < h; y++)
        {
            var row = Math.Min(y, height - 1) * width;
            for (var x = 0; x < w; x++)
            {
                var i = (row + Math.Min(x, width - 1)) * 3;
                luma[y * w + x] = (int)Math.Round(0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2]);
            }
        }
        for (var y = 0; y < ch; y++)
        {
            for (var x = 0; x < cw; x++)
            {
                double sumB = 0, sumR = 0;
                for (var dy = 0; dy < 2; dy++)
                {
                    for (var dx = 0; dx < 2; dx++)
                    {
                        var i = (Math.Min(2 * y + dy, height - 1) * width + Math.Min(2 * x + dx, width - 1)) * 3;
                        sumB += 128 - 0.168736 * rgb[i] - 0.331264 * rgb[i + 1] + 0.5 * rgb[i + 2];
                        sumR += 128 + 0.5 * rgb[i] - 0.418688 * rgb[i + 1] - 0.081312 * rgb[i + 2];
                    }
                }
                cb[y * cw + x] = Math.Clamp((int)Math.Round(sumB / 4), 0, 255);
                cr[y * cw + x] = Math.Clamp((int)Math.Round(sumR / 4), 0, 255);
            }
        }

        Code(luma, w, h, 16, qp);
        Code(cb, cw, ch, 8, chromaQp);
        Code(cr, cw, ch, 8, chromaQp);
        Deblock(luma, w, h, 16, qp, isLuma: true);
        Deblock(cb, cw, ch, 8, chromaQp, isLuma: false);
        Deblock(cr, cw, ch, 8, chromaQp, isLuma: false);

        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                double yy = luma[y * w + x], u = cb[y / 2 * cw + x / 2] - 128, v = cr[y / 2 * cw + x / 2] - 128;
                var i = (y * width + x) * 3;
                rgb[i] = Clip(yy + 1.402 * v);
                rgb[i + 1] = Clip(yy - 0.344136 * u - 0.714136 * v);
                rgb[i + 2] = Clip(yy + 1.772 * u);
            }
        }
    }

    private static byte Clip(double value) => (byte)Math.Clamp((int)Math.Round(value), 0, 255);

    /// <summary>Predicts, transforms, quantises and reconstructs a plane macroblock by macroblock, in place.</summary>
    private static void Code(int[] plane, int w, int h, int mb, int qp)
    {
        Span<int> prediction = stackalloc int[mb * mb];
        Span<int> best = stackalloc int[mb * mb];
        Span<int> block = stackalloc int[16];
        for (var my = 0; my < h; my += mb)
        {
            for (var mx = 0; mx < w; mx += mb)
            {
                var bestCost = long.MaxValue;
                for (var mode = 0; mode < 3; mode++)
                {
                    if (!Predict(plane, w, mx, my, mb, mode, prediction))
                        continue;
                    long cost = 0;
                    for (var y = 0; y < mb; y++)
                        for (var x = 0; x < mb; x++)
                            cost += Math.Abs(plane[(my + y) * w + mx + x] - prediction[y * mb + x]);
                    if (cost < bestCost)
                    {
                        bestCost = cost;
                        prediction.CopyTo(best);
                    }
                }
                for (var by = 0; by < mb; by += 4)
                {
                    for (var bx = 0; bx < mb; bx += 4)
                    {
                        for (var i = 0; i < 16; i++)
                            block[i] = plane[(my + by + i / 4) * w + mx + bx + i % 4] - best[(by + i / 4) * mb + bx + i % 4];
                        Forward(block);
                        Quantise(block, qp);
                        Inverse(block);
                        for (var i = 0; i < 16; i++)
                            plane[(my + by + i / 4) * w + mx + bx + i % 4] = Math.Clamp(best[(by + i / 4) * mb + bx + i % 4] + block[i], 0, 255);
                    }
                }
            }
        }
    }

    /// <summary>Vertical (0), horizontal (1) or DC (2) prediction of a macroblock; false where its neighbours are missing.</summary>
    private static bool Predict(int[] plane, int w, int mx, int my, int mb, int mode, Span<int> prediction)
    {
        switch (mode)
        {
            case 0 when my == 0:
            case 1 when mx == 0:
                return false;
            case 0:
                for (var y = 0; y < mb; y++)
                    for (var x = 0; x < mb; x++)
                        prediction[y * mb + x] = plane[(my - 1) * w + mx + x];
                return true;
            case 1:
                for (var y = 0; y < mb; y++)
                    for (var x = 0; x < mb; x++)
                        prediction[y * mb + x] = plane[(my + y) * w + mx - 1];
                return true;
            default:
                int sum = 0, count = 0;
                if (my > 0)
                {
                    for (var x = 0; x < mb; x++)
                        sum += plane[(my - 1) * w + mx + x];
                    count += mb;
                }
                if (mx > 0)
                {
                    for (var y = 0; y < mb; y++)
                        sum += plane[(my + y) * w + mx - 1];
                    count += mb;
                }
                prediction[..(mb * mb)].Fill(count == 0 ? 128 : (sum + count / 2) / count);
                return true;
        }
    }

    /// <summary>The forward core transform, rows then columns.</summary>
    private static void Forward(Span<int> b)
    {
        for (var pass = 0; pass < 2; pass++)
        {
            var (step, next) = pass == 0 ? (1, 4) : (4, 1);
            for (var k = 0; k < 4; k++)
            {
                var o = k * next;
                int x0 = b[o], x1 = b[o + step], x2 = b[o + 2 * step], x3 = b[o + 3 * step];
                int s03 = x0 + x3, d03 = x0 - x3, s12 = x1 + x2, d12 = x1 - x2;
                b[o] = s03 + s12;
                b[o + step] = 2 * d03 + d12;
                b[o + 2 * step] = s03 - s12;
                b[o + 3 * step] = d03 - 2 * d12;
            }
        }
    }

    /// <summary>Quantises each coefficient and scales it back, as an encoder and then a decoder do.</summary>
    private static void Quantise(Span<int> b, int qp)
    {
        var (per, rem) = (qp / 6, qp % 6);
        var shift = 15 + per;
        var rounding = (1 << shift) / 3;
        for (var i = 0; i < 16; i++)
        {
            var (row, col) = (i / 4, i % 4);
            var kind = row % 2 == 0 && col % 2 == 0 ? 0 : row % 2 == 1 && col % 2 == 1 ? 1 : 2;
            var level = (int)(((long)Math.Abs(b[i]) * Multiplier[rem, kind] + rounding) >> shift);
            b[i] = Math.Sign(b[i]) * level * Rescale[rem, kind] << per;
        }
    }

    /// <summary>The inverse core transform, rows then columns, with the final rounding by 64.</summary>
    private static void Inverse(Span<int> b)
    {
        for (var pass = 0; pass < 2; pass++)
        {
            var (step, next) = pass == 0 ? (1, 4) : (4, 1);
            for (var k = 0; k < 4; k++)
            {
                var o = k * next;
                int d0 = b[o], d1 = b[o + step], d2 = b[o + 2 * step], d3 = b[o + 3 * step];
                int e = d0 + d2, f = d0 - d2, g = (d1 >> 1) - d3, hh = d1 + (d3 >> 1);
                b[o] = e + hh;
                b[o + step] = f + g;
                b[o + 2 * step] = f - g;
                b[o + 3 * step] = e - hh;
            }
        }
        for (var i = 0; i < 16; i++)
            b[i] = (b[i] + 32) >> 6;
    }

    /// <summary>
    /// The loop filter over every 4×4 edge (chroma: every edge of a luma 4×4 pair), macroblock by macroblock, vertical
    /// edges before horizontal ones: strong on macroblock edges, normal inside, as for intra-coded blocks.
    /// </summary>
    private static void Deblock(int[] plane, int w, int h, int mb, int qp, bool isLuma)
    {
        var (alpha, beta, clip) = (Alpha[qp], Beta[qp], ClipInner[qp]);
        if (alpha == 0 || beta == 0)
            return;
        for (var my = 0; my < h; my += mb)
        {
            for (var mx = 0; mx < w; mx += mb)
            {
                for (var e = 0; e < mb; e += 4)
                {
                    if (mx + e == 0)
                        continue;
                    for (var y = 0; y < mb; y++)
                        FilterEdge(plane, (my + y) * w + mx + e, 1, alpha, beta, clip, strong: e == 0, isLuma);
                }
                for (var e = 0; e < mb; e += 4)
                {
                    if (my + e == 0)
                        continue;
                    for (var x = 0; x < mb; x++)
                        FilterEdge(plane, (my + e) * w + mx + x, w, alpha, beta, clip, strong: e == 0, isLuma);
                }
            }
        }
    }

    /// <summary>Filters the samples across one edge; <paramref name="at"/> is q0, the first sample past the edge.</summary>
    private static void FilterEdge(int[] s, int at, int step, int alpha, int beta, int clip, bool strong, bool isLuma)
    {
        int p0 = s[at - step], p1 = s[at - 2 * step], q0 = s[at], q1 = s[at + step];
        if (Math.Abs(p0 - q0) >= alpha || Math.Abs(p1 - p0) >= beta || Math.Abs(q1 - q0) >= beta)
            return;
        if (!isLuma)
        {
            if (strong)
            {
                s[at - step] = (2 * p1 + p0 + q1 + 2) >> 2;
                s[at] = (2 * q1 + q0 + p1 + 2) >> 2;
            }
            else
            {
                var tc = clip + 1;
                var delta = Math.Clamp((((q0 - p0) << 2) + (p1 - q1) + 4) >> 3, -tc, tc);
                s[at - step] = Math.Clamp(p0 + delta, 0, 255);
                s[at] = Math.Clamp(q0 - delta, 0, 255);
            }
            return;
        }
        int p2 = s[at - 3 * step], q2 = s[at + 2 * step];
        bool flatP = Math.Abs(p2 - p0) < beta, flatQ = Math.Abs(q2 - q0) < beta;
        if (strong)
        {
            var small = Math.Abs(p0 - q0) < (alpha >> 2) + 2;
            if (flatP && small)
            {
                var p3 = s[at - 4 * step];
                s[at - step] = (p2 + 2 * p1 + 2 * p0 + 2 * q0 + q1 + 4) >> 3;
                s[at - 2 * step] = (p2 + p1 + p0 + q0 + 2) >> 2;
                s[at - 3 * step] = (2 * p3 + 3 * p2 + p1 + p0 + q0 + 4) >> 3;
            }
            else
            {
                s[at - step] = (2 * p1 + p0 + q1 + 2) >> 2;
            }
            if (flatQ && small)
            {
                var q3 = s[at + 3 * step];
                s[at] = (p1 + 2 * p0 + 2 * q0 + 2 * q1 + q2 + 4) >> 3;
                s[at + step] = (p0 + q0 + q1 + q2 + 2) >> 2;
                s[at + 2 * step] = (2 * q3 + 3 * q2 + q1 + q0 + p0 + 4) >> 3;
            }
            else
            {
                s[at] = (2 * q1 + q0 + p1 + 2) >> 2;
            }
            return;
        }
        var tcLuma = clip + (flatP ? 1 : 0) + (flatQ ? 1 : 0);
        var d = Math.Clamp((((q0 - p0) << 2) + (p1 - q1) + 4) >> 3, -tcLuma, tcLuma);
        s[at - step] = Math.Clamp(p0 + d, 0, 255);
        s[at] = Math.Clamp(q0 - d, 0, 255);
        if (flatP)
            s[at - 2 * step] = p1 + Math.Clamp((p2 + ((p0 + q0 + 1) >> 1) - (p1 << 1)) >> 1, -clip, clip);
        if (flatQ)
            s[at + step] = q1 + Math.Clamp((q2 + ((p0 + q0 + 1) >> 1) - (q1 << 1)) >> 1, -clip, clip);
    }
}
