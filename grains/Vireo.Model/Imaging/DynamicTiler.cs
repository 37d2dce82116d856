using System.Buffers;
using System.Numerics;
using TorchSharp;
using Vireo.Model.Configuration;

namespace Vireo.Model.Imaging;

/// <summary>A grid of <see cref="Columns"/> x <see cref="Rows"/> tiles, plus an optional thumbnail.</summary>
public readonly record struct TileGrid(int Columns, int Rows, bool HasThumbnail)
{
    public int GridTiles => Columns * Rows;
    public int TotalTiles => GridTiles + (HasThumbnail ? 1 : 0);
}

/// <summary>
/// InternVL's dynamic high resolution: picks the tile grid whose aspect ratio best matches the frame,
/// resizes the frame onto it, cuts 448x448 tiles row by row and adds a thumbnail of the whole frame.
/// Produces normalised CHW floats, the same function at training and inference.
/// </summary>
public sealed class DynamicTiler(int imageSize, int minTiles, int maxTiles, bool useThumbnail, float[] mean, float[] std)
{
    public int ImageSize => imageSize;

    /// <summary>The tiler of a model: its tile size, tile-count limits, thumbnail and pixel normalisation.</summary>
    public static DynamicTiler For(ModelConfig config) =>
        new(config.ImageSize, config.MinDynamicPatch, config.MaxDynamicPatch, config.UseThumbnail, config.PixelMean, config.PixelStd);

    /// <summary>The grid for a frame size (InternVL's find_closest_aspect_ratio, ties going to the larger grid when the frame has the pixels).</summary>
    /// <summary>The same tiler with other tile-count limits (clamped to at least one tile).</summary>
    public DynamicTiler WithLimits(int min, int max) =>
        min == minTiles && max == maxTiles ? this : new DynamicTiler(imageSize, Math.Max(1, min), Math.Max(Math.Max(1, min), max), useThumbnail, mean, std);

    public TileGrid ChooseGrid(int width, int height)
    {
        var ratios = new List<(int Cols, int Rows)>();
        for (var n = minTiles; n <= maxTiles; n++)
            for (var i = 1; i <= n; i++)
                for (var j = 1; j <= n; j++)
                    if (i * j >= minTiles && i * j <= maxTiles && !ratios.Contains((i, j))) ratios.Add((i, j));
        // Stable sort by tile count, as Python's sorted() over the set's iteration order would be ambiguous.
        ratios = ratios.Select((r, k) => (r, k)).OrderBy(p => p.r.Cols * p.r.Rows).ThenBy(p => p.k).Select(p => p.r).ToList();

        var aspect = (double)width / height;
        var area = (double)width * height;
        var bestDiff = double.PositiveInfinity;
        var best = (Cols: 1, Rows: 1);
        foreach (var r in ratios)
        {
            var diff = Math.Abs(aspect - (double)r.Cols / r.Rows);
            if (diff < bestDiff)
            {
                bestDiff = diff;
                best = r;
            }
            else if (diff == bestDiff && area > 0.5 * imageSize * imageSize * r.Cols * r.Rows)
            {
                best = r;
            }
        }
        var tiles = best.Cols * best.Rows;
        return new TileGrid(best.Cols, best.Rows, useThumbnail && tiles != 1);
    }

    /// <summary>The frame rectangle (x, y, w, h in frame pixels) that grid tile <paramref name="index"/> covers.</summary>
    public static (double X, double Y, double W, double H) TileRegion(TileGrid grid, int index, int width, int height)
    {
        var col = index % grid.Columns;
        var row = index / grid.Columns;
        double w = (double)width / grid.Columns, h = (double)height / grid.Rows;
        return (col * w, row * h, w, h);
    }

    /// <summary>Cuts the frame into normalised tiles: floats laid out [tile][channel][y][x].</summary>
    public float[] Tile(RgbFrame frame, out TileGrid grid)
    {
        frame.Validate();
        grid = ChooseGrid(frame.Width, frame.Height);
        var plane = imageSize * imageSize;
        var result = new float[grid.TotalTiles * 3 * plane];
        var (columns, gridTiles, size) = (grid.Columns, grid.GridTiles, imageSize);
        var thumbnailOfGrid = grid.HasThumbnail && gridTiles == 1;
        ResizeRows(frame, size * columns, size * grid.Rows, (y, row) =>
        {
            for (var c = 0; c < columns; c++)
            {
                var tile = y / size * columns + c;
                WriteRow(row.Slice(c * size * 3, size * 3), result.AsSpan(tile * 3 * plane), y % size);
                if (thumbnailOfGrid) WriteRow(row.Slice(c * size * 3, size * 3), result.AsSpan(gridTiles * 3 * plane), y % size);
            }
        });
        if (grid.HasThumbnail && !thumbnailOfGrid)
            ResizeRows(frame, size, size, (y, row) => WriteRow(row, result.AsSpan(gridTiles * 3 * plane), y));
        return result;
    }

    /// <summary>
    /// The tiles of <see cref="Tile(RgbFrame, out TileGrid)"/> cut where <paramref name="pixels"/> lives, for
    /// training on a GPU: the frame crosses to the device as 8-bit RGB and is resized there with PyTorch's
    /// antialiased bilinear filter, which is the filter of <see cref="Resize"/> (PIL's triangle filter widened by the
    /// downscale factor); results agree to float rounding. Returns [tiles, 3, size, size].
    /// </summary>
    /// <param name="pixels">[height, width, 3] bytes, as <see cref="RgbFrame.Pixels"/>.</param>
    /// <param name="grid">The frame's grid (<see cref="ChooseGrid"/>).</param>
    public torch.Tensor Tile(torch.Tensor pixels, TileGrid grid)
    {
        using var scope = torch.NewDisposeScope();
        var image = pixels.permute(2, 0, 1).unsqueeze(0).to(torch.ScalarType.Float32);
        var tiles = ResizeOnDevice(image, imageSize * grid.Rows, imageSize * grid.Columns)
            .view(3, grid.Rows, imageSize, grid.Columns, imageSize)
            .permute(1, 3, 0, 2, 4)
            .reshape(grid.GridTiles, 3, imageSize, imageSize);
        if (grid.HasThumbnail)
            tiles = torch.cat([tiles, grid.GridTiles == 1 ? tiles : ResizeOnDevice(image, imageSize, imageSize)], 0);
        // Channel by channel with scalars, as WriteRow does, so no constants cross to the device per frame.
        var channels = new torch.Tensor[3];
        for (var c = 0; c < 3; c++)
        {
            // A Scalar converted implicitly lives only until its handle is read, so its finalizer can free it while
            // the native call still uses it; these stay referenced until the calls return.
            using var scale = (1f / (255f * std[c])).ToScalar();
            using var shift = (-mean[c] / std[c]).ToScalar();
            channels[c] = tiles.select(1, c).mul(scale).PlusInPlace(shift);
        }
        return torch.stack(channels, 1).MoveToOuterDisposeScope();
    }

    private static torch.Tensor ResizeOnDevice(torch.Tensor image, int height, int width) =>
        torch.nn.functional.interpolate(image, [height, width], mode: torch.InterpolationMode.Bilinear, align_corners: false, antialias: true);

    /// <summary>Normalises one interleaved RGB row (0..255) into row y of a tile's three channel planes.</summary>
    private void WriteRow(ReadOnlySpan<float> rgb, Span<float> tile, int y)
    {
        var plane = imageSize * imageSize;
        var r = tile.Slice(y * imageSize, imageSize);
        var g = tile.Slice(plane + y * imageSize, imageSize);
        var b = tile.Slice(2 * plane + y * imageSize, imageSize);
        float scaleR = 1f / (255f * std[0]), scaleG = 1f / (255f * std[1]), scaleB = 1f / (255f * std[2]);
        float shiftR = -mean[0] / std[0], shiftG = -mean[1] / std[1], shiftB = -mean[2] / std[2];
        for (var x = 0; x < imageSize; x++)
        {
            r[x] = rgb[3 * x] * scaleR + shiftR;
            g[x] = rgb[3 * x + 1] * scaleG + shiftG;
            b[x] = rgb[3 * x + 2] * scaleB + shiftB;
        }
    }

    /// <summary>Antialiased bilinear resize (PIL's triangle filter widened by the downscale factor), values 0..255.</summary>
    public static float[] Resize(RgbFrame frame, int outW, int outH)
    {
        var dst = new float[outH * outW * 3];
        ResizeRows(frame, outW, outH, (y, row) => row.CopyTo(dst.AsSpan(y * outW * 3)));
        return dst;
    }

    private delegate void RowSink(int y, ReadOnlySpan<float> row);

    /// <summary>
    /// The resize of <see cref="Resize"/>, handed over one output row (interleaved RGB) at a time, so a caller can
    /// place the rows where they belong without a resized copy of the whole frame.
    /// </summary>
    private static void ResizeRows(RgbFrame frame, int outW, int outH, RowSink sink)
    {
        var (xIdx, xW, xN) = Weights(frame.Width, outW);
        var (yIdx, yW, yN) = Weights(frame.Height, outH);
        var width = outW * 3;
        var src = frame.Pixels;
        var tmp = ArrayPool<float>.Shared.Rent(frame.Height * width);
        var row = ArrayPool<float>.Shared.Rent(width);
        try
        {
            // Horizontal pass: every input row to outW columns.
            for (var y = 0; y < frame.Height; y++)
            {
                var rowIn = src.AsSpan(y * frame.Width * 3, frame.Width * 3);
                var rowOut = tmp.AsSpan(y * width, width);
                for (var x = 0; x < outW; x++)
                {
                    var weights = xW.AsSpan(x * xN, xN);
                    var indices = xIdx.AsSpan(x * xN, xN);
                    float r = 0, g = 0, b = 0;
                    for (var k = 0; k < weights.Length; k++)
                    {
                        var w = weights[k];
                        if (w == 0) continue;
                        var s = indices[k] * 3;
                        r += w * rowIn[s]; g += w * rowIn[s + 1]; b += w * rowIn[s + 2];
                    }
                    rowOut[x * 3] = r; rowOut[x * 3 + 1] = g; rowOut[x * 3 + 2] = b;
                }
            }
            // Vertical pass, one output row at a time.
            var rowSpan = row.AsSpan(0, width);
            for (var y = 0; y < outH; y++)
            {
                rowSpan.Clear();
                for (var k = 0; k < yN; k++)
                {
                    var w = yW[y * yN + k];
                    if (w != 0) AddScaled(rowSpan, tmp.AsSpan(yIdx[y * yN + k] * width, width), w);
                }
                sink(y, rowSpan);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tmp);
            ArrayPool<float>.Shared.Return(row);
        }
    }

    /// <summary>dst[i] += w * src[i], a vector at a time (same rounding as the scalar loop: multiply, then add).</summary>
    private static void AddScaled(Span<float> dst, ReadOnlySpan<float> src, float w)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var scale = new Vector<float>(w);
            for (; i <= dst.Length - Vector<float>.Count; i += Vector<float>.Count)
                (new Vector<float>(dst[i..]) + scale * new Vector<float>(src[i..])).CopyTo(dst[i..]);
        }
        for (; i < dst.Length; i++) dst[i] += w * src[i];
    }

    private static (int[] Index, float[] Weight, int Taps) Weights(int inSize, int outSize)
    {
        var scale = (double)inSize / outSize;
        var support = Math.Max(scale, 1.0);
        var taps = (int)Math.Ceiling(support) * 2 + 1;
        var index = new int[outSize * taps];
        var weight = new float[outSize * taps];
        for (var o = 0; o < outSize; o++)
        {
            var center = (o + 0.5) * scale;
            var first = (int)Math.Floor(center - support);
            double total = 0;
            var w = new double[taps];
            for (var k = 0; k < taps; k++)
            {
                var i = first + k;
                if (i < 0 || i >= inSize) continue;
                var t = Math.Abs((i + 0.5 - center) / support);
                w[k] = t < 1 ? 1 - t : 0;
                total += w[k];
            }
            for (var k = 0; k < taps; k++)
            {
                index[o * taps + k] = Math.Clamp(first + k, 0, inSize - 1);
                weight[o * taps + k] = total > 0 ? (float)(w[k] / total) : 0;
            }
        }
        return (index, weight, taps);
    }
}
