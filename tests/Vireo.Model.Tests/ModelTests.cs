using TorchSharp;
using Vireo.Model.Configuration;
using Vireo.Model.Imaging;
using Vireo.Model.Inference;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Tests;

public sealed class ModelTests
{
    private static VireoModel TinyModel(int seed = 3)
    {
        random.manual_seed(seed);
        var model = new VireoModel(ModelConfig.Tiny());
        model.eval();
        return model;
    }

    [Fact]
    public void ShapesAndParameterCountForTheTinyConfig()
    {
        using var model = TinyModel();
        Assert.Equal(184_666, model.ParameterCount());
        Assert.Equal(256, model.Config.TokensPerTile);
        Assert.Equal(64, model.Config.CompressedTokensPerTile);

        using var _ = no_grad();
        using var pixels = randn(2, 3, 448, 448);
        using var features = model.Vision.forward(pixels);
        Assert.Equal(new long[] { 2, 1024, 32 }, features.shape);
        using var full = model.ConnectStandard(features);
        Assert.Equal(new long[] { 2, 256, 48 }, full.shape);
        using var packed = model.ConnectCompressed(features);
        Assert.Equal(new long[] { 2, 64, 48 }, packed.shape);
        using var routerLogits = model.Router.forward(features);
        Assert.Equal(new long[] { 2, 2 }, routerLogits.shape);

        var names = model.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);
        Assert.Equal(new long[] { 1, 1025, 32 }, names["vision_model.embeddings.position_embedding"]);
        Assert.Equal(new long[] { 32, 3, 14, 14 }, names["vision_model.embeddings.patch_embedding.weight"]);
        Assert.Equal(new long[] { 96, 32 }, names["vision_model.encoder.layers.0.attn.qkv.weight"]);
        Assert.Equal(new long[] { 32 }, names["vision_model.encoder.layers.0.ls1"]);
        Assert.Equal(new long[] { 128 }, names["mlp1.0.weight"]);
        Assert.Equal(new long[] { 48, 128 }, names["mlp1.1.weight"]);
        Assert.Equal(new long[] { 48, 48 }, names["mlp1.3.weight"]);
        Assert.Equal(new long[] { 96, 512 }, names["mlp2.1.weight"]);
        Assert.Equal(new long[] { 48, 96 }, names["mlp2.7.weight"]);
        Assert.Equal(new long[] { 48, 48 }, names["language_model.model.layers.0.self_attn.q_proj.weight"]);
        Assert.Equal(new long[] { 24, 48 }, names["language_model.model.layers.0.self_attn.k_proj.weight"]);
        Assert.Equal(new long[] { 12 }, names["language_model.model.layers.0.self_attn.q_norm.weight"]);
        Assert.Equal(new long[] { 96, 48 }, names["language_model.model.layers.0.mlp.gate_proj.weight"]);
        Assert.Equal(new long[] { 96, 48 }, names["language_model.lm_head.weight"]);
        Assert.Contains("vir.query", names.Keys);
        // No C# field names leak into the checkpoint: lower-case dotted segments, none starting with '_'.
        Assert.All(names.Keys, n => Assert.Matches("^[a-z0-9]+[a-z0-9_]*(\\.[a-z0-9][a-z0-9_]*)*$", n));
    }

    [Fact]
    public void VisionAttentionInBfloat16StaysWithinItsRoundingOfFloat32AndStillTrains()
    {
        using var model = TinyModel();
        using var pixels = randn(2, 3, 448, 448);
        using var exact = model.Vision.forward(pixels).detach();

        model.Vision.ComputeAttentionIn(ScalarType.BFloat16);
        using var reduced = model.Vision.forward(pixels);
        Assert.Equal(ScalarType.Float32, reduced.dtype);
        var relative = (reduced - exact).abs().max().item<float>() / exact.abs().max().item<float>();
        Assert.InRange(relative, 1e-6f, 2e-2f);

        reduced.sum().backward();
        var qkv = model.Vision.named_parameters().Where(p => p.name.EndsWith("attn.qkv.weight")).ToList();
        Assert.NotEmpty(qkv);
        Assert.All(qkv, p => Assert.True(p.parameter.grad is { } g && g.abs().sum().item<float>() > 0, p.name));

        model.Vision.ComputeAttentionIn(null);
        using var again = model.Vision.forward(pixels).detach();
        Assert.True(again.equal(exact).all().item<bool>());
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 1)]
    [InlineData(6, 1)]
    [InlineData(7, 3)]
    [InlineData(33, 17)]
    [InlineData(1280, 720)]
    public void RgbaBecomesRgbPixelForPixelAtEverySize(int width, int height)
    {
        var rgba = new byte[width * height * 4];
        new Random(width * 31 + height).NextBytes(rgba);
        var frame = RgbFrame.FromRgba(rgba, width, height);
        frame.Validate();
        var expected = new byte[width * height * 3];
        for (var p = 0; p < width * height; p++)
            for (var c = 0; c < 3; c++) expected[3 * p + c] = rgba[4 * p + c];
        Assert.Equal(expected, frame.Pixels);
        Assert.Throws<ArgumentException>(() => RgbFrame.FromRgba(rgba.AsSpan(1), width, height));
    }

    [Fact]
    public void PixelShuffleMatchesAHandComputedExample()
    {
        // A 4x4 grid of patches with one channel holding its row-major index.
        using var features = arange(16, dtype: ScalarType.Float32).reshape(1, 16, 1);
        using var shuffled = PixelShuffle.Apply(features, 0.5);
        Assert.Equal(new long[] { 1, 4, 4 }, shuffled.shape);
        // Each output token concatenates a 2x2 block: (r, c), (r, c+1), (r+1, c), (r+1, c+1).
        float[] expected = [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15];
        Assert.Equal(expected, shuffled.data<float>().ToArray());

        using var grid = arange(1024 * 2, dtype: ScalarType.Float32).reshape(1, 1024, 2);
        using var quarter = PixelShuffle.Apply(grid, 0.25);
        Assert.Equal(new long[] { 1, 64, 32 }, quarter.shape);
        // First token: 4x4 block at the top-left; patch (row, col) has channels 2*(32*row+col), +1.
        var first = quarter[0, 0].data<float>().ToArray();
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5, 6, 7 }, first[..8]);
        Assert.Equal(new float[] { 64, 65 }, first[8..10]);
    }

    [Theory]
    [InlineData(448, 448, 4, 1, 1, false)]
    [InlineData(896, 448, 4, 2, 1, true)]
    [InlineData(448, 896, 4, 1, 2, true)]
    [InlineData(640, 480, 4, 1, 1, false)]
    [InlineData(800, 600, 4, 2, 2, true)]
    [InlineData(1920, 1080, 4, 2, 1, true)]
    [InlineData(1344, 448, 4, 3, 1, true)]
    [InlineData(1344, 448, 2, 2, 1, true)]
    public void TilingPicksTheGridClosestToTheAspectRatio(int width, int height, int maxTiles, int cols, int rows, bool thumbnail)
    {
        var tiler = new DynamicTiler(448, 1, maxTiles, true, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);
        var grid = tiler.ChooseGrid(width, height);
        Assert.Equal((cols, rows, thumbnail), (grid.Columns, grid.Rows, grid.HasThumbnail));
        var floats = tiler.Tile(RgbFrame.Create(width, height), out var again);
        Assert.Equal(grid, again);
        Assert.Equal(grid.TotalTiles * 3 * 448 * 448, floats.Length);
        // A black frame normalises to (0 - 0.5) / 0.5 everywhere.
        Assert.All(floats.Take(1000), v => Assert.Equal(-1f, v, 5));
    }

    [Fact]
    public void TilesCutOnTheDeviceAreTheHostTilersToFloatRounding()
    {
        var config = ModelConfig.Tiny();
        var tiler = new DynamicTiler(448, 1, 4, true, config.PixelMean, config.PixelStd);
        var rng = new Random(5);
        // Downscaled grids with a thumbnail, one tile and no thumbnail, an upscaled portrait grid, a tiny frame.
        RgbFrame[] frames = [RgbFrame.Create(1280, 720), RgbFrame.Create(640, 480), RgbFrame.Create(333, 777), RgbFrame.Create(100, 50)];
        foreach (var frame in frames)
            for (var i = 0; i < frame.Pixels.Length; i++)
                frame.Pixels[i] = (byte)Math.Clamp(128 + 100 * Math.Sin(i / 3 % frame.Width * 0.05 + i / 3 / frame.Width * 0.03 + i % 3) + rng.Next(-20, 20), 0, 255);

        var host = TileBatch.From(tiler, frames);
        var device = TileBatch.OnDevice(tiler, frames).Stage(CPU);

        Assert.Equal(host.TileCounts, device.TileCounts);
        using var expected = host.ToTensor(CPU);
        using var actual = device.ToTensor(CPU);
        Assert.Equal(expected.shape, actual.shape);
        // Normalised values span about 4.5; one 8-bit step is 0.017.
        Assert.True((expected - actual).abs().max().item<float>() < 5e-4, $"max difference {(expected - actual).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(37, 23, 20, 31)]
    [InlineData(300, 200, 64, 41)]
    [InlineData(16, 16, 16, 16)]
    public void ResizeIsTheAntialiasedTriangleFilter(int width, int height, int outW, int outH)
    {
        var rng = new Random(width * 31 + outW);
        var frame = RgbFrame.Create(width, height);
        rng.NextBytes(frame.Pixels);

        var resized = DynamicTiler.Resize(frame, outW, outH);

        // Direct 2D sum of the same filter: weight max(0, 1 - |distance| / support) along each axis, normalised.
        static double[][] Weights(int inSize, int outSize)
        {
            var scale = (double)inSize / outSize;
            var support = Math.Max(scale, 1.0);
            return Enumerable.Range(0, outSize).Select(o =>
            {
                var w = Enumerable.Range(0, inSize).Select(i => Math.Max(0, 1 - Math.Abs(i + 0.5 - (o + 0.5) * scale) / support)).ToArray();
                var total = w.Sum();
                return w.Select(v => v / total).ToArray();
            }).ToArray();
        }
        var wx = Weights(width, outW);
        var wy = Weights(height, outH);
        for (var y = 0; y < outH; y++)
            for (var x = 0; x < outW; x++)
                for (var c = 0; c < 3; c++)
                {
                    double expected = 0;
                    for (var j = 0; j < height; j++)
                        for (var i = 0; i < width; i++)
                            expected += wy[y][j] * wx[x][i] * frame.Pixels[(j * width + i) * 3 + c];
                    Assert.InRange(resized[(y * outW + x) * 3 + c], expected - 0.01, expected + 0.01);
                }
    }

    [Fact]
    public void RouterDecisionsDoNotDependOnBatchCompanions()
    {
        using var engine = new VireoEngine(TinyModel(), CPU);
        var frames = Frames(4, seed: 11);
        var alone = engine.Analyze([frames[0]], RoutingPolicy.Router(), maxNewTokens: 4)[0];
        var batched = engine.Analyze(frames, RoutingPolicy.Router(), maxNewTokens: 4)[0];
        var reordered = engine.Analyze([frames[2], frames[3], frames[0]], RoutingPolicy.Router(), maxNewTokens: 4)[2];
        foreach (var other in new[] { batched, reordered })
        {
            Assert.Equal(alone.Tiles.Select(t => t.Compressed), other.Tiles.Select(t => t.Compressed));
            foreach (var (a, b) in alone.Tiles.Zip(other.Tiles)) Assert.Equal(a.CompressProbability, b.CompressProbability, 4);
            Assert.Equal(alone.Text, other.Text);
        }
    }

    [Fact]
    public void OnlyTheChosenConnectorRuns()
    {
        using var model = TinyModel();
        var mlp1Tiles = 0L;
        var mlp2Tiles = 0L;
        var named = model.named_modules().ToDictionary(m => m.name, m => m.module);
        var h1 = ((nn.Module<Tensor, Tensor>)named["mlp1"]).register_forward_pre_hook((_, x) => { mlp1Tiles += x.shape[0]; return x; });
        var h2 = ((nn.Module<Tensor, Tensor>)named["mlp2"]).register_forward_pre_hook((_, x) => { mlp2Tiles += x.shape[0]; return x; });
        using var _ = no_grad();
        using var features = randn(3, 1024, 32);

        using (var all64 = model.ConnectTiles(features, [true, true, true])) Assert.Equal(3 * 64, all64.shape[0]);
        Assert.Equal((0L, 3L), (mlp1Tiles, mlp2Tiles));

        using (var mixed = model.ConnectTiles(features, [false, true, false])) Assert.Equal(256 + 64 + 256, mixed.shape[0]);
        Assert.Equal((2L, 4L), (mlp1Tiles, mlp2Tiles));

        using (var all256 = model.ConnectTiles(features, [false, false, false])) Assert.Equal(3 * 256, all256.shape[0]);
        Assert.Equal((5L, 4L), (mlp1Tiles, mlp2Tiles));

        // Tile order is kept: the compressed tile's tokens equal mlp2 applied to that tile alone.
        using var mixedAgain = model.ConnectTiles(features, [false, true, false]);
        using var first = model.ConnectStandard(features[0..1]);
        using var middle = model.ConnectCompressed(features[1..2]);
        using var last = model.ConnectStandard(features[2..3]);
        Assert.True(allclose(mixedAgain[0..256], first[0], 1e-5, 1e-6));
        Assert.True(allclose(mixedAgain[256..320], middle[0], 1e-5, 1e-6));
        Assert.True(allclose(mixedAgain[320..576], last[0], 1e-5, 1e-6));
    }

    [Fact]
    public void GenerationIsDeterministicAndReportsTokens()
    {
        using var engine = new VireoEngine(TinyModel(), CPU);
        var frames = Frames(2, seed: 5);
        var first = engine.Analyze(frames, RoutingPolicy.Fixed(compressed: false), maxNewTokens: 12);
        var second = engine.Analyze(frames, RoutingPolicy.Fixed(compressed: false), maxNewTokens: 12);
        Assert.Equal(first.Select(r => r.Text), second.Select(r => r.Text));
        foreach (var r in first)
        {
            Assert.Equal(r.Tiles.Count * 256, r.VisualTokensBefore);
            Assert.Equal(r.VisualTokensBefore, r.VisualTokensAfter);
        }
        var compressed = engine.Analyze(frames, RoutingPolicy.Fixed(compressed: true), maxNewTokens: 2);
        Assert.All(compressed, r => Assert.Equal(r.Tiles.Count * 64, r.VisualTokensAfter));
    }

    /// <summary>
    /// Seeded test frames of one and three tiles: noise with a few solid blocks, so tiles differ from each other and
    /// from frame to frame.
    /// </summary>
    internal static List<RgbFrame> Frames(int count, int seed)
    {
        var rng = new Random(seed);
        (int W, int H)[] sizes = [(448, 448), (896, 448)];
        return Enumerable.Range(0, count).Select(_ =>
        {
            var (width, height) = sizes[rng.Next(sizes.Length)];
            var frame = RgbFrame.Create(width, height);
            rng.NextBytes(frame.Pixels);
            for (var block = rng.Next(1, 4); block > 0; block--)
            {
                int x0 = rng.Next(width / 2), y0 = rng.Next(height / 2), w = rng.Next(20, width / 2), h = rng.Next(20, height / 2);
                var colour = new byte[3];
                rng.NextBytes(colour);
                for (var y = y0; y < y0 + h; y++)
                    for (var x = x0; x < x0 + w; x++)
                        colour.CopyTo(frame.Pixels, (y * width + x) * 3);
            }
            return frame;
        }).ToList();
    }
}
