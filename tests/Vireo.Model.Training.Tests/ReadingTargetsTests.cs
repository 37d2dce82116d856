using Vireo.Model.Configuration;
using Vireo.Model.Training.Data;
using Vireo.Model.Imaging;

namespace Vireo.Model.Training.Tests;

public sealed class ReadingTargetsTests
{
    private static readonly ModelConfig Config = ModelConfig.Small();

    private static DynamicTiler Tiler() =>
        new(Config.ImageSize, Config.MinDynamicPatch, Config.MaxDynamicPatch, Config.UseThumbnail, Config.PixelMean, Config.PixelStd);

    private static SyntheticSample WithText(TextSize size, (int W, int H) frame)
    {
        var generator = new SyntheticFrames(Tiler());
        var rng = new Random(7);
        for (var i = 0; i < 500; i++)
        {
            var sample = generator.Generate(rng, [frame], textProbability: 1, largeTextFraction: size == TextSize.Large ? 1 : 0);
            if (sample.TextSize == size) return sample;
        }
        throw new InvalidOperationException("no frame with text generated");
    }

    [Fact]
    public void LargeTextLabelsEveryGlyphOnItsPatchesInReadingOrder()
    {
        var sample = WithText(TextSize.Large, (448, 448));
        var targets = ReadingTargets.For(sample, Tiler(), Config.PatchSize);
        var side = Config.PatchesPerSide;
        Assert.Equal(side * side, targets.Own.Length);

        var placement = sample.Placement!.Value;
        for (var k = 0; k < sample.Text!.Length; k++)
        {
            // The patch whose centre is nearest the middle of glyph k carries k's class, and its predecessor's.
            var cell = placement.Cell(k);
            var px = (int)((cell.X + cell.W / 2.0) / Config.PatchSize);
            var py = (int)((cell.Y + cell.H / 2.0) / Config.PatchSize);
            var i = py * side + px;
            Assert.Equal(ReadingTargets.ClassOf(sample.Text[k]), targets.Own[i]);
            Assert.Equal(k == 0 ? ReadingTargets.None : ReadingTargets.ClassOf(sample.Text[k - 1]), targets.Previous[i]);
        }
        // Every character is named at least once and nothing else is.
        var named = targets.Own.Where(l => l > 0).Distinct().Order().ToArray();
        Assert.Equal(sample.Text.Select(ReadingTargets.ClassOf).Distinct().Order().ToArray(), named);
        Assert.All(targets.Previous.Where((_, i) => targets.Own[i] == ReadingTargets.None), p => Assert.Equal(ReadingTargets.Ignore, p));
        Assert.DoesNotContain(true, targets.Small);
    }

    [Fact]
    public void SmallTextIsLabelledInItsTileButLeftOutOfTheThumbnail()
    {
        var sample = WithText(TextSize.Small, (896, 896));
        var targets = ReadingTargets.For(sample, Tiler(), Config.PatchSize);
        var patches = Config.PatchesPerSide * Config.PatchesPerSide;
        Assert.Equal(5 * patches, targets.Own.Length);

        long[] Tile(int t) => targets.Own.Skip(t * patches).Take(patches).ToArray();
        Assert.Contains(Tile(sample.TextTile), l => l > 0);
        // Its glyph patches, and only they, count as small text's.
        Assert.Equal(targets.Own.Select(l => l > 0), targets.Small);
        foreach (var other in Enumerable.Range(0, 4).Where(t => t != sample.TextTile))
            Assert.All(Tile(other), l => Assert.Equal(ReadingTargets.None, l));
        // At thumbnail scale the glyphs are a few pixels tall: unreadable there, so ignored rather than called background.
        var thumbnail = Tile(4);
        Assert.Contains(thumbnail, l => l == ReadingTargets.Ignore);
        Assert.DoesNotContain(thumbnail, l => l > 0);
    }

    [Fact]
    public void TheReadingHeadCountsSmallTextsGlyphPatchesApart()
    {
        SyntheticSample[] samples = [WithText(TextSize.Large, (448, 448)), WithText(TextSize.Small, (896, 896))];
        var labels = ReadingLabels.For(samples, sample => ReadingTargets.For(sample, Tiler(), Config.PatchSize));
        var patches = Config.PatchesPerSide * Config.PatchesPerSide;
        using var head = new ReadingHead(Config.VisionConfig.HiddenSize);
        using var features = TorchSharp.torch.randn(labels.Own.Length / patches, patches, Config.VisionConfig.HiddenSize);

        var result = head.Loss(features, labels);
        var small = labels.Own.Where((l, i) => l > 0 && labels.Small[i]).Count();
        Assert.InRange(small, 3, labels.Own.Count(l => l > 0) - 3);
        Assert.Equal(small, result.SmallGlyphPatches.item<long>());
        Assert.Equal(labels.Own.Count(l => l > 0), result.GlyphPatches.item<long>());
        Assert.InRange(result.SmallGlyphHits.item<long>(), 0, Math.Min(small, result.GlyphHits.item<long>()));
    }

    [Fact]
    public void ASmallGlyphWeighedThreeTimesCountsAsThreeCopiesOfItsPatchInTheReadingLoss()
    {
        TorchSharp.torch.random.manual_seed(3);
        using var logits = TorchSharp.torch.randn(12, 5);
        long[] labels = [0, 1, 2, 3, 4, ReadingTargets.Ignore, 1, 2, 0, 3, 4, 2];
        bool[] small = [false, true, true, false, false, true, false, true, false, false, true, false];
        using var target = TorchSharp.torch.tensor(labels);
        using var smallMask = TorchSharp.torch.tensor(small);
        using var copies = TorchSharp.torch.tensor(Enumerable.Range(0, labels.Length).SelectMany(i => Enumerable.Repeat((long)i, small[i] ? 3 : 1)).ToArray());
        using var classWeights = TorchSharp.torch.tensor(new[] { ReadingHead.BackgroundWeight, 1f, 1f, 1f, 1f });
        foreach (var weights in new[] { classWeights, null })
        {
            using var plain = TorchSharp.torch.nn.functional.cross_entropy(logits, target, weight: weights, ignore_index: ReadingTargets.Ignore);
            using var copied = TorchSharp.torch.nn.functional.cross_entropy(logits.index_select(0, copies), target.index_select(0, copies), weight: weights, ignore_index: ReadingTargets.Ignore);
            using var once = ReadingHead.CrossEntropy(logits, target, weights, smallMask, 1);
            using var thrice = ReadingHead.CrossEntropy(logits, target, weights, smallMask, 3);
            Assert.Equal(plain.item<float>(), once.item<float>());
            Assert.Equal(copied.item<float>(), thrice.item<float>(), 5);
            Assert.NotEqual(plain.item<float>(), thrice.item<float>(), 3);
        }
    }

    [Fact]
    public void FrameWithoutTextIsAllBackground()
    {
        var generator = new SyntheticFrames(Tiler());
        var sample = generator.Generate(new Random(3), [(640, 480)], textProbability: 0);
        var targets = ReadingTargets.For(sample, Tiler(), Config.PatchSize);
        Assert.All(targets.Own, l => Assert.Equal(ReadingTargets.None, l));
        Assert.All(targets.Previous, l => Assert.Equal(ReadingTargets.Ignore, l));
    }

    [Fact]
    public void ShapesAreLabelledWithTheirColourAndKind()
    {
        var generator = new SyntheticFrames(Tiler());
        var rng = new Random(11);
        var sample = Enumerable.Range(0, 50).Select(_ => generator.Generate(rng, [(448, 448)], textProbability: 0)).First(s => s.Shapes.Count == 2);
        var targets = ReadingTargets.For(sample, Tiler(), Config.PatchSize);
        var side = Config.PatchesPerSide;
        foreach (var shape in sample.Shapes)
        {
            // The patch under the shape's centre (a triangle's centroid sits lower, inside its body).
            var cy = shape.Kind == 2 ? shape.Cy + shape.R / 3 : shape.Cy;
            Assert.Equal(ReadingTargets.SceneClassOf(shape), targets.Scene[cy / Config.PatchSize * side + shape.Cx / Config.PatchSize]);
        }
        var labelled = targets.Scene.Count(c => c > 0);
        var area = sample.Shapes.Sum(s => s.Kind switch { 0 => Math.PI * s.R * s.R, 1 => 4.0 * s.R * s.R, _ => 2.0 * s.R * s.R });
        Assert.InRange(labelled, 0.7 * area / (Config.PatchSize * Config.PatchSize), 1.3 * area / (Config.PatchSize * Config.PatchSize));
    }

    [Fact]
    public void ReadingPageLabelsEverySignAndShape()
    {
        var generator = new SyntheticFrames(Tiler());
        var page = generator.GenerateReadingPage(new Random(2), [(448, 448)]);
        Assert.True(page.Labels.Count >= 3, $"{page.Labels.Count} signs");
        var targets = ReadingTargets.For(page, Tiler(), Config.PatchSize);
        var side = Config.PatchesPerSide;
        foreach (var (text, placement) in page.Labels)
        {
            var cell = placement.Cell(0);
            var i = (int)((cell.Y + cell.H / 2.0) / Config.PatchSize) * side + (int)((cell.X + cell.W / 2.0) / Config.PatchSize);
            // A patch centre near the first glyph's middle lands in the first cell or its neighbour.
            Assert.Contains(targets.Own[i], new[] { ReadingTargets.ClassOf(text[0]), ReadingTargets.ClassOf(text[1]) });
        }
        Assert.Equal(page.Shapes.Select(ReadingTargets.SceneClassOf).Distinct().Order(), targets.Scene.Where(c => c > 0).Distinct().Order());
    }
}
