using System.Text.RegularExpressions;
using Vireo.Model.Configuration;
using Vireo.Model.Imaging;
using Vireo.Model.Training.Data;
using Vireo.Testing;

namespace Vireo.Model.Training.Tests;

public sealed class RealFramesTests
{
    private static readonly ModelConfig Config = ModelConfig.Small();

    private static DynamicTiler Tiler() =>
        new(Config.ImageSize, Config.MinDynamicPatch, Config.MaxDynamicPatch, Config.UseThumbnail, Config.PixelMean, Config.PixelStd);

    private static RealFrames Generator(bool heldOut = false) => new(Tiler(), FontCatalog.Default(), PhotoCatalog.Default(), heldOut);

    [Fact]
    public void CatalogueSplitsFamiliesIntoTrainingAndAtLeastThreeHeldOut()
    {
        var fonts = FontCatalog.Default();
        var training = fonts.TrainingFamilies.ToHashSet();
        var heldOut = fonts.HeldOutFamilyNames.ToHashSet();

        Assert.True(training.Count >= FontCatalog.MinimumTrainingFamilies, string.Join(", ", training));
        Assert.True(heldOut.Count >= FontCatalog.MinimumHeldOutFamilies, string.Join(", ", heldOut));
        Assert.Empty(training.Intersect(heldOut));
        // Serif, sans and monospace designs are on both sides.
        Assert.Contains("Caladea", heldOut);
        Assert.Contains(heldOut, f => f.Contains("Mono", StringComparison.Ordinal));
        Assert.Contains("Liberation Serif", training);
        Assert.Contains("DejaVu Sans Mono", training);
        Assert.DoesNotContain("D050000L", training);

        var photos = PhotoCatalog.Default();
        Assert.NotEmpty(photos.Training);
        Assert.Equal(PhotoCatalog.HeldOutNames.Order(), photos.HeldOut.Select(p => p.Name).Order());
        Assert.Empty(photos.Training.Select(p => p.Name).Intersect(photos.HeldOut.Select(p => p.Name)));
    }

    [Fact]
    public void TheCatalogueTrainsOnEveryPackageTheInstallScriptInstallsAndHoldsOutTheSameFamilies()
    {
        var script = File.ReadAllText(Path.Combine(Repository.Root, "infra", "scripts", "fonts.sh"));
        var listed = Regex.Matches(script, @"(?<=[( ])fonts-[a-z0-9-]+").Select(m => m.Value).ToList();
        Assert.Equal(FontCatalog.Packages.Split(' '), listed);

        var fonts = FontCatalog.Default();
        var training = fonts.TrainingFamilies.ToHashSet();
        // A face from the first catalogue and from the packages added after it: both installed, both trained on.
        Assert.Contains("Liberation Sans", training);
        Assert.Contains("Roadgeek 2014 Series E", training);
        Assert.True(training.Count > 3 * FontCatalog.MinimumTrainingFamilies, string.Join(", ", training));
        Assert.Equal(FontCatalog.HeldOutFamilies.Order(), fonts.HeldOutFamilyNames.Order());
    }

    [Fact]
    public void MissingFontsAreReportedWithTheWayToInstallThem()
    {
        var empty = Directory.CreateTempSubdirectory("vireo-no-fonts-");
        try
        {
            var error = Assert.Throws<InvalidOperationException>(() => FontCatalog.Load([empty.FullName]));
            Assert.Contains("install.sh", error.Message, StringComparison.Ordinal);
            Assert.Contains(FontCatalog.DirectoriesVariable, error.Message, StringComparison.Ordinal);
            var noPhotos = Assert.Throws<InvalidOperationException>(() => PhotoCatalog.Load([empty.FullName]));
            Assert.Contains(PhotoCatalog.Packages, noPhotos.Message, StringComparison.Ordinal);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public void TheSameSeedDrawsTheSameFrame()
    {
        var generator = Generator();
        for (var seed = 0; seed < 6; seed++)
        {
            var a = generator.Generate(new Random(seed), RealFrames.TrainingSizes);
            var b = Generator().Generate(new Random(seed), RealFrames.TrainingSizes);
            Assert.Equal(a.Answer, b.Answer);
            Assert.Equal(a.Frame.Pixels, b.Frame.Pixels);
        }
        var other = generator.Generate(new Random(100), RealFrames.TrainingSizes);
        Assert.NotEqual(generator.Generate(new Random(101), RealFrames.TrainingSizes).Frame.Pixels, other.Frame.Pixels);
    }

    [Fact]
    public void FramesAtTileScaleKeepTheirTileGridInFewerPixels()
    {
        var tiler = Tiler();
        var sizes = RealFrames.TrainingAndVideoSizes.ToDictionary(size => size, size => RealFrames.AtTileScale(size, tiler));
        foreach (var ((w, h), (sw, sh)) in sizes)
        {
            var grid = tiler.ChooseGrid(w, h);
            Assert.Equal(grid, tiler.ChooseGrid(sw, sh));
            Assert.InRange(sw, Math.Min(w, Config.ImageSize * grid.Columns), w);
            Assert.InRange(sh, Math.Min(h, Config.ImageSize * grid.Rows), h);
        }
        Assert.Equal((896, 504), sizes[(1920, 1080)]);
        Assert.Equal((504, 896), sizes[(1080, 1920)]);
        Assert.Equal((448, 448), sizes[(448, 448)]);
        Assert.Equal((640, 360), sizes[(640, 360)]);
        var pixels = (IEnumerable<(int W, int H)> all) => all.Sum(s => (double)s.W * s.H);
        Assert.True(pixels(sizes.Values) < 0.6 * pixels(sizes.Keys));
    }

    [Fact]
    public void AFrameDrawnAtTileScaleShowsItsTilesWhatTheFullFrameShows()
    {
        var tiler = Tiler();
        var fullSize = Generator(heldOut: true);
        var tileScale = new RealFrames(tiler, FontCatalog.Default(), PhotoCatalog.Default(), heldOut: true, atTileScale: true);
        var kinds = new HashSet<BackgroundKind>();
        for (var seed = 0; seed < 32; seed++)
        {
            (int, int)[] sizes = [(1920, 1080), (1280, 720)];
            var full = fullSize.Generate(new Random(seed), sizes);
            var small = tileScale.Generate(new Random(seed), sizes);
            Assert.Equal(RealFrames.AtTileScale((full.Frame.Width, full.Frame.Height), tiler), (small.Frame.Width, small.Frame.Height));
            Assert.True(small.Frame.Width * small.Frame.Height < 0.5 * full.Frame.Width * full.Frame.Height);
            Assert.Equal(full.Answer, small.Answer);
            Assert.Equal(full.TextTile, small.TextTile);
            Assert.Equal(full.Background, small.Background);
            var a = tiler.Tile(full.Frame, out var fullGrid);
            var b = tiler.Tile(small.Frame, out var smallGrid);
            Assert.Equal(fullGrid, smallGrid);
            // Normalised tiles: the pixels' spread is about 1. Textures and stripes drawn at full size, their detail
            // left in frame pixels, differ by 0.2-0.46 here.
            var difference = a.Zip(b).Average(p => Math.Abs(p.First - p.Second));
            Assert.True(difference < 0.12, $"seed {seed}, {full.Background}: mean difference {difference:F3}");
            kinds.Add(full.Background);
        }
        Assert.Superset(new HashSet<BackgroundKind> { BackgroundKind.Photo, BackgroundKind.Texture, BackgroundKind.Gradient, BackgroundKind.Stripes }, kinds);
    }

    [Fact]
    public void TextIsDrawnInTheChosenFontsInsideOneTileAndFramesWithoutAnythingSayNone()
    {
        var fonts = FontCatalog.Default();
        var tiler = Tiler();
        var samples = Enumerable.Range(0, 40).Select(i => Generator(heldOut: true).Generate(new Random(i), RealFrames.EvaluationSizes)).ToList();

        var withText = samples.Where(s => s.Text is not null).ToList();
        Assert.Contains(withText, s => s.TextSize == TextSize.Small);
        Assert.Contains(withText, s => s.TextSize == TextSize.Large);
        Assert.All(withText, s => Assert.Contains(s.FontFamily, fonts.HeldOutFamilyNames));
        Assert.Contains(samples, s => s.Background == BackgroundKind.Photo);
        foreach (var s in withText)
        {
            // The line's corners lie inside the grid tile the sample names.
            var grid = tiler.ChooseGrid(s.Frame.Width, s.Frame.Height);
            var region = DynamicTiler.TileRegion(grid, s.TextTile, s.Frame.Width, s.Frame.Height);
            var line = s.Line!;
            var (cos, sin) = (Math.Cos(line.Angle), Math.Sin(line.Angle));
            foreach (var (u, v) in new[] { (line.Edges[0], 0.0), (line.Edges[^1], 0.0), (line.Edges[0], line.Height), (line.Edges[^1], line.Height) })
            {
                var x = line.X + u * cos - v * sin;
                var y = line.Y + u * sin + v * cos;
                Assert.InRange(x, region.X, region.X + region.W);
                Assert.InRange(y, region.Y, region.Y + region.H);
            }
            Assert.Equal(s.Text!.Length + 1, line.Edges.Length);
        }
        var blank = samples.Where(s => s.Text is null && s.ShapeCount == 0).ToList();
        Assert.NotEmpty(blank);
        Assert.All(blank, s => Assert.Equal("no shapes. text: none", s.Answer));
    }

    [Fact]
    public void H264CodedFramesCarryTheSameContentAndTheSameSeedCodesTheSameFrame()
    {
        var tiler = Tiler();
        var plain = Generator();
        var coded = new RealFrames(tiler, FontCatalog.Default(), PhotoCatalog.Default(), h264Fraction: 1);
        var again = new RealFrames(tiler, FontCatalog.Default(), PhotoCatalog.Default(), h264Fraction: 1);
        var changed = 0;
        for (var seed = 0; seed < 8; seed++)
        {
            var a = plain.Generate(new Random(seed), [(640, 480)], textProbability: 1);
            var b = coded.Generate(new Random(seed), [(640, 480)], textProbability: 1);
            // The same frame content and answer; only how it was compressed differs.
            Assert.Equal(a.Answer, b.Answer);
            Assert.Equal((a.Frame.Width, a.Frame.Height), (b.Frame.Width, b.Frame.Height));
            if (!a.Frame.Pixels.AsSpan().SequenceEqual(b.Frame.Pixels))
                changed++;
            Assert.Equal(b.Frame.Pixels, again.Generate(new Random(seed), [(640, 480)], textProbability: 1).Frame.Pixels);
        }
        Assert.Equal(8, changed);
    }

    [Fact]
    public void VariedGlyphsStretchTheLabelsCellsWithThemAndTheSameSeedDrawsTheSameFrame()
    {
        var tiler = Tiler();
        var plain = Generator();
        var varied = new RealFrames(tiler, FontCatalog.Default(), PhotoCatalog.Default(), varyGlyphs: true);
        var ratios = new List<double>();
        for (var seed = 0; seed < 60; seed++)
        {
            var a = plain.Generate(new Random(seed), [(640, 480)], textProbability: 1);
            var b = varied.Generate(new Random(seed), [(640, 480)], textProbability: 1);
            Assert.Equal(a.Text, b.Text);
            Assert.Equal(a.FontFamily, b.FontFamily);
            if (a.Line is null || b.Line is null) continue;
            // Same label, font and cap height; the cells that name each glyph widen or narrow with the glyphs.
            Assert.Equal(a.Line.Height, b.Line.Height, 6);
            var ratio = (b.Line.Edges[^1] - b.Line.Edges[0]) / (a.Line.Edges[^1] - a.Line.Edges[0]);
            Assert.InRange(ratio, RealFrames.GlyphVariation.MinScaleX - 1e-3, RealFrames.GlyphVariation.MaxScaleX + 1e-3);
            ratios.Add(ratio);
        }
        Assert.True(ratios.Count >= 30, $"{ratios.Count} labels placed");
        Assert.Contains(ratios, r => r < 0.95);
        Assert.Contains(ratios, r => r > 1.1);

        var again = new RealFrames(tiler, FontCatalog.Default(), PhotoCatalog.Default(), varyGlyphs: true);
        var first = varied.Generate(new Random(7), RealFrames.TrainingSizes, textProbability: 1);
        var second = again.Generate(new Random(7), RealFrames.TrainingSizes, textProbability: 1);
        Assert.Equal(first.Answer, second.Answer);
        Assert.Equal(first.Frame.Pixels, second.Frame.Pixels);
    }

    [Fact]
    public void ReadingLabelsFollowARotatedLine()
    {
        var line = new TextLine(100, 50, Math.PI / 6, 40, [0, 30, 60, 90]);
        var (cos, sin) = (Math.Cos(line.Angle), Math.Sin(line.Angle));
        for (var k = 0; k < 3; k++)
        {
            // The middle of cell k, along the rotated line.
            var (u, v) = (k * 30 + 15, 20);
            Assert.Equal(k, line.CharacterAt(line.X + u * cos - v * sin, line.Y + u * sin + v * cos));
        }
        Assert.Equal(-1, line.CharacterAt(line.X - 5, line.Y - 5));
        // Where the unrotated line would run, the rotated one has moved down and away.
        Assert.Equal(-1, line.CharacterAt(line.X + 85, line.Y + 5));

        var sample = Enumerable.Range(0, 200).Select(i => Generator().Generate(new Random(i), [(448, 448)], textProbability: 1, largeTextFraction: 1))
            .First(s => s.TextSize == TextSize.Large);
        var targets = ReadingTargets.For(sample, Tiler(), Config.PatchSize);
        var named = targets.Own.Where(l => l > 0).Distinct().Order().ToArray();
        Assert.Equal(sample.Text!.Select(ReadingTargets.ClassOf).Distinct().Order().ToArray(), named);
    }
}
