using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Vireo.Model.Imaging;

/// <summary>Tiles of a batch of frames, normalised, with each frame's tile range.</summary>
public sealed class TileBatch
{
    private readonly float[][] _frames = [];
    private readonly int _imageSize;
    private Tensor? _staged;

    /// <summary>Frames tiled on the device by <see cref="ToTensor"/>, with their tiler and grids; null when tiled on the host.</summary>
    private readonly (DynamicTiler Tiler, IReadOnlyList<RgbFrame> Frames, TileGrid[] Grids)? _onDevice;
    private Tensor? _stagedPixels;

    private TileBatch(float[][] frames, int[] tileCounts, int imageSize)
    {
        _frames = frames;
        _imageSize = imageSize;
        TileCounts = tileCounts;
    }

    private TileBatch(DynamicTiler tiler, IReadOnlyList<RgbFrame> frames, TileGrid[] grids)
    {
        _onDevice = (tiler, frames, grids);
        _imageSize = tiler.ImageSize;
        TileCounts = grids.Select(g => g.TotalTiles).ToArray();
    }

    public int[] TileCounts { get; }
    public int TotalTiles => TileCounts.Sum();
    public int FirstTile(int frame) => TileCounts.Take(frame).Sum();

    /// <summary>Whether tile t of a frame is its thumbnail (the last tile, when the frame has more than one).</summary>
    public bool IsThumbnail(int frame, int tile) => TileCounts[frame] > 1 && tile == TileCounts[frame] - 1;

    /// <summary>
    /// Prepares the host copy of the pixels for <paramref name="device"/> ahead of <see cref="ToTensor"/>, in page-locked
    /// memory for CUDA so the upload runs beside the device's work; meant for a thread that prepares the next batch.
    /// </summary>
    public TileBatch Stage(Device device)
    {
        var pinned = device.type == DeviceType.CUDA;
        if (_onDevice is { } raw) _stagedPixels = HostPixels(raw.Frames, pinned);
        else _staged = Host(pinned);
        return this;
    }

    /// <summary>The tiles [tiles, 3, size, size] on <paramref name="device"/>; uses (and releases) the staged copy if any.</summary>
    public Tensor ToTensor(Device device)
    {
        if (_onDevice is { } raw)
        {
            using var scope = NewDisposeScope();
            var bytes = _stagedPixels ?? HostPixels(raw.Frames, pinned: false);
            _stagedPixels = null;
            // One upload for the batch; the page-locked allocator keeps the host copy until it has run.
            var pixels = device.type == DeviceType.CPU ? bytes : bytes.to(device, non_blocking: true);
            var tiles = new Tensor[raw.Frames.Count];
            long offset = 0;
            for (var i = 0; i < tiles.Length; i++)
            {
                var frame = raw.Frames[i];
                tiles[i] = raw.Tiler.Tile(pixels.narrow(0, offset, frame.Pixels.Length).view(frame.Height, frame.Width, 3), raw.Grids[i]);
                offset += frame.Pixels.Length;
            }
            var result = cat(tiles, 0).MoveToOuterDisposeScope();
            bytes.Dispose();
            return result;
        }
        var host = _staged ?? Host(pinned: false);
        _staged = null;
        return TorchRuntime.Upload(host, device);
    }

    /// <summary>
    /// Every frame's 8-bit pixels, one after another in one flat tensor (page-locked when asked), each frame copied in
    /// parallel straight into its place.
    /// </summary>
    private static Tensor HostPixels(IReadOnlyList<RgbFrame> frames, bool pinned) =>
        Concatenated(frames.Select(f => f.Pixels).ToArray(), ScalarType.Byte, pinned);

    /// <summary>All tiles in one host tensor, each frame's written in parallel straight into its place.</summary>
    private Tensor Host(bool pinned) => Concatenated(_frames, ScalarType.Float32, pinned, [TotalTiles, 3, _imageSize, _imageSize]);

    /// <summary>
    /// <paramref name="parts"/> one after another in one new host tensor (page-locked when asked, flat unless given a
    /// shape), each part copied in parallel straight into its place.
    /// </summary>
    private static unsafe Tensor Concatenated<T>(T[][] parts, ScalarType dtype, bool pinned, long[]? shape = null) where T : unmanaged
    {
        var host = empty(shape ?? [parts.Sum(p => (long)p.Length)], dtype);
        if (pinned)
            using (var pageable = host) host = pageable.pin_memory();
        var offsets = new long[parts.Length];
        for (var i = 1; i < offsets.Length; i++) offsets[i] = offsets[i - 1] + parts[i - 1].Length;
        // A fresh contiguous tensor: its storage starts at element 0.
        var start = (T*)host.storage<T>().data_ptr();
        Parallel.For(0, parts.Length, i => parts[i].AsSpan().CopyTo(new Span<T>(start + offsets[i], parts[i].Length)));
        return host;
    }

    /// <summary>
    /// A batch whose frames cross to the device as 8-bit RGB and are tiled there (<see cref="DynamicTiler.Tile(Tensor, TileGrid)"/>):
    /// about two fifths of the bytes of the float tiles, and no resizing on the host. For training on a GPU, where the
    /// host draws the frames.
    /// </summary>
    public static TileBatch OnDevice(DynamicTiler tiler, IReadOnlyList<RgbFrame> frames)
    {
        foreach (var frame in frames) frame.Validate();
        return new TileBatch(tiler, frames, frames.Select(f => tiler.ChooseGrid(f.Width, f.Height)).ToArray());
    }

    /// <summary>
    /// Tiles every frame, in parallel on at most <paramref name="maxThreads"/> threads (-1: no limit), with
    /// <paramref name="tiler"/> or the frame's own entry of <paramref name="tilers"/>.
    /// </summary>
    public static TileBatch From(DynamicTiler tiler, IReadOnlyList<RgbFrame> frames, IReadOnlyList<DynamicTiler>? tilers = null, int maxThreads = -1)
    {
        var parts = new float[frames.Count][];
        var counts = new int[frames.Count];
        Parallel.For(0, frames.Count, new ParallelOptions { MaxDegreeOfParallelism = maxThreads }, i =>
        {
            parts[i] = (tilers?[i] ?? tiler).Tile(frames[i], out var grid);
            counts[i] = grid.TotalTiles;
        });
        return new TileBatch(parts, counts, tiler.ImageSize);
    }
}
